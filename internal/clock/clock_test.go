package clock

import (
	"slices"
	"testing"
	"time"
)

func TestFakeRunsDueTimersInOrder(t *testing.T) {
	c := NewFake(time.Unix(0, 0))
	var fired []string
	c.AfterFunc(3*time.Second, func() { fired = append(fired, "c") })
	c.AfterFunc(time.Second, func() { fired = append(fired, "a") })
	stopped := c.AfterFunc(2*time.Second, func() { fired = append(fired, "b") })
	if !stopped.Stop() {
		t.Fatal("Stop of a pending timer returned false")
	}

	c.Advance(time.Second - time.Nanosecond)
	if len(fired) != 0 {
		t.Fatalf("fired %v before any deadline", fired)
	}
	c.Advance(5 * time.Second)
	if want := []string{"a", "c"}; !slices.Equal(fired, want) {
		t.Errorf("fired %v, want %v", fired, want)
	}
	if c.Pending() != 0 {
		t.Errorf("Pending = %d, want 0", c.Pending())
	}
	if stopped.Stop() {
		t.Error("second Stop returned true")
	}
}
