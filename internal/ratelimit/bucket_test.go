package ratelimit

import (
	"errors"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/whalecast/whalecast/internal/clock"
)

var testStart = time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC)

// newTestBucket returns a bucket on a fake clock, failing tb if NewBucket does.
func newTestBucket(tb testing.TB, capacity int, window time.Duration) (*Bucket, *clock.Fake) {
	tb.Helper()
	clk := clock.NewFake(testStart)
	b, err := NewBucket(capacity, window, clk)
	if err != nil {
		tb.Fatalf("NewBucket(%d, %v): %v", capacity, window, err)
	}
	return b, clk
}

// drain calls Allow until it fails and returns how many calls succeeded, giving up after
// limit calls.
func drain(b *Bucket, limit int) int {
	n := 0
	for n < limit && b.Allow() {
		n++
	}
	return n
}

// shapes are the bucket sizes every behaviour test runs against.
var shapes = []struct {
	name     string
	capacity int
	window   time.Duration
	interval time.Duration // window/capacity rounded up
}{
	{"one per second", 1, time.Second, time.Second},
	{"ten per second", 10, time.Second, 100 * time.Millisecond},
	{"three per second, uneven", 3, time.Second, 333333334},
	{"sixty per minute", 60, time.Minute, time.Second},
	{"more tokens than nanoseconds", 1000, 10 * time.Nanosecond, time.Nanosecond},
}

func TestBucketBurstThenDeny(t *testing.T) {
	for _, tt := range shapes {
		t.Run(tt.name, func(t *testing.T) {
			b, _ := newTestBucket(t, tt.capacity, tt.window)
			if got := b.Remaining(); got != tt.capacity {
				t.Errorf("new bucket Remaining = %d, want %d", got, tt.capacity)
			}
			if got := drain(b, 2*tt.capacity+1); got != tt.capacity {
				t.Errorf("burst allowed %d, want %d", got, tt.capacity)
			}
			if got := b.Remaining(); got != 0 {
				t.Errorf("Remaining after the burst = %d, want 0", got)
			}
			if got := b.ResetIn(); got != tt.interval {
				t.Errorf("ResetIn after the burst = %v, want %v", got, tt.interval)
			}
			want := time.Duration(tt.capacity) * tt.interval
			if got := b.FullIn(); got != want {
				t.Errorf("FullIn after the burst = %v, want %v", got, want)
			}
		})
	}
}

func TestBucketRefillOneInterval(t *testing.T) {
	for _, tt := range shapes {
		t.Run(tt.name, func(t *testing.T) {
			b, clk := newTestBucket(t, tt.capacity, tt.window)
			drain(b, tt.capacity)

			clk.Advance(tt.interval - time.Nanosecond)
			if b.Allow() {
				t.Fatalf("Allow 1ns before the refill = true, want false")
			}
			if got := b.ResetIn(); got != time.Nanosecond {
				t.Errorf("ResetIn 1ns before the refill = %v, want 1ns", got)
			}

			clk.Advance(time.Nanosecond)
			if got := b.Remaining(); got != 1 {
				t.Errorf("Remaining after one interval = %d, want 1", got)
			}
			if got := b.ResetIn(); got != 0 {
				t.Errorf("ResetIn with a token available = %v, want 0", got)
			}
			if !b.Allow() {
				t.Fatalf("Allow after one interval = false, want true")
			}
			if b.Allow() {
				t.Errorf("second Allow after one interval = true, want false")
			}
		})
	}
}

func TestBucketFullAfterWindow(t *testing.T) {
	for _, tt := range shapes {
		t.Run(tt.name, func(t *testing.T) {
			b, clk := newTestBucket(t, tt.capacity, tt.window)
			drain(b, tt.capacity)
			clk.Advance(b.FullIn())
			if got := b.FullIn(); got != 0 {
				t.Errorf("FullIn after waiting it out = %v, want 0", got)
			}
			if got := drain(b, 2*tt.capacity+1); got != tt.capacity {
				t.Errorf("second burst allowed %d, want %d", got, tt.capacity)
			}
		})
	}
}

func TestBucketNeverExceedsCapacity(t *testing.T) {
	idles := []struct {
		name string
		idle time.Duration
	}{
		{"one window", time.Minute},
		{"a day", 24 * time.Hour},
		{"a century", 100 * 365 * 24 * time.Hour},
	}
	for _, shape := range shapes {
		for _, idle := range idles {
			t.Run(shape.name+" idle "+idle.name, func(t *testing.T) {
				b, clk := newTestBucket(t, shape.capacity, shape.window)
				drain(b, 1)
				clk.Advance(idle.idle)
				if got := b.Remaining(); got != shape.capacity {
					t.Errorf("Remaining after idling = %d, want %d", got,
						shape.capacity)
				}
				if got := drain(b, 2*shape.capacity+1); got != shape.capacity {
					t.Errorf("burst after idling allowed %d, want %d", got,
						shape.capacity)
				}
			})
		}
	}
}

func TestBucketSteadyRate(t *testing.T) {
	const capacity, window = 10, time.Second
	b, clk := newTestBucket(t, capacity, window)
	drain(b, capacity)

	allowed := 0
	for range 1000 {
		clk.Advance(10 * time.Millisecond)
		if b.Allow() {
			allowed++
		}
	}
	if want := 100; allowed != want {
		t.Errorf("allowed %d over 10s of steady demand, want %d", allowed, want)
	}
}

func TestNewBucketRejects(t *testing.T) {
	tests := []struct {
		name     string
		capacity int
		window   time.Duration
		want     error
	}{
		{"zero capacity", 0, time.Second, ErrInvalidCapacity},
		{"negative capacity", -1, time.Second, ErrInvalidCapacity},
		{"zero window", 1, 0, ErrInvalidWindow},
		{"negative window", 1, -time.Second, ErrInvalidWindow},
		{"overflowing product", 2, math.MaxInt64, ErrInvalidCapacity},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := NewBucket(tt.capacity, tt.window, clock.NewFake(testStart))
			if !errors.Is(err, tt.want) || b != nil {
				t.Fatalf("NewBucket = %v, %v, want nil, %v", b, err, tt.want)
			}
		})
	}
}

func TestNewBucketNilClock(t *testing.T) {
	b, err := NewBucket(2, time.Hour, nil)
	if err != nil {
		t.Fatalf("NewBucket: %v", err)
	}
	if got := drain(b, 5); got != 2 {
		t.Errorf("burst on the real clock allowed %d, want 2", got)
	}
	if got := b.Capacity(); got != 2 {
		t.Errorf("Capacity = %d, want 2", got)
	}
}

// frozenClock always reads the same time. Unlike clock.Fake it takes no lock, so it adds no
// synchronisation that could hide a data race from the race detector.
type frozenClock struct{ t time.Time }

func (c frozenClock) Now() time.Time { return c.t }

func (c frozenClock) AfterFunc(time.Duration, func()) clock.Timer {
	panic("ratelimit: a Bucket must not schedule timers")
}

func TestBucketConcurrentAllow(t *testing.T) {
	const capacity, workers = 100, 8
	b, err := NewBucket(capacity, time.Hour, frozenClock{testStart})
	if err != nil {
		t.Fatalf("NewBucket: %v", err)
	}
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range capacity {
				if b.Allow() {
					allowed.Add(1)
				}
				_ = b.Remaining()
			}
		})
	}
	wg.Wait()
	if got := allowed.Load(); got != capacity {
		t.Errorf("concurrent callers were allowed %d, want %d", got, capacity)
	}
}

func TestBucketSize(t *testing.T) {
	if got := unsafe.Sizeof(Bucket{}); got > 72 {
		t.Errorf("Bucket is %d bytes, want at most 72 (doc.go promises it)", got)
	}
}
