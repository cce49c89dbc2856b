package leakcheck

import (
	"strings"
	"testing"
	"time"
)

func parkedForLeakTest(stop chan struct{}) { <-stop }

func TestMarkedFindsAParkedGoroutine(t *testing.T) {
	stop := make(chan struct{})
	go parkedForLeakTest(stop)
	time.Sleep(10 * time.Millisecond)
	if got := Marked("parkedForLeakTest"); !strings.Contains(got, "parkedForLeakTest") {
		t.Errorf("Marked did not report the parked goroutine:\n%s", got)
	}
	close(stop)
	if got := wait(2*time.Second, []string{"parkedForLeakTest"}); got != "" {
		t.Errorf("goroutine still reported after it ended:\n%s", got)
	}
}
