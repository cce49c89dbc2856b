package ratelimit

import (
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/whalecast/whalecast/internal/clock"
)

// Bucket is a token bucket. Create one with NewBucket; the zero value is not usable.
type Bucket struct {
	mu       sync.Mutex
	clk      clock.Clock
	origin   time.Time // the clock's reading at creation; offsets below count from it
	interval int64     // nanoseconds for one token to come back, at least 1
	capacity int64     // tokens held when full
	fullAt   int64     // offset at which the bucket is full again; <= now means full
}

// NewBucket returns a full bucket of capacity tokens that refills continuously at capacity
// per window, reading the time from clk (nil means clock.Real).
//
// capacity must be positive (ErrInvalidCapacity) and window positive (ErrInvalidWindow). The
// time for one token to come back, window/capacity, is rounded up to a whole nanosecond, and
// capacity times that must fit in an int64 (ErrInvalidCapacity otherwise).
func NewBucket(capacity int, window time.Duration, clk clock.Clock) (*Bucket, error) {
	if capacity <= 0 {
		return nil, fmt.Errorf("%w: got %d", ErrInvalidCapacity, capacity)
	}
	if window <= 0 {
		return nil, fmt.Errorf("%w: got %v", ErrInvalidWindow, window)
	}
	interval := int64(window) / int64(capacity)
	if int64(window)%int64(capacity) != 0 {
		interval++
	}
	if int64(capacity) > math.MaxInt64/interval {
		return nil, fmt.Errorf("%w: %d tokens per %v overflows", ErrInvalidCapacity,
			capacity, window)
	}
	if clk == nil {
		clk = clock.Real{}
	}
	return &Bucket{
		clk:      clk,
		origin:   clk.Now(),
		interval: interval,
		capacity: int64(capacity),
	}, nil
}

// Capacity returns the number of tokens the bucket holds when full (RateLimit-Limit).
func (b *Bucket) Capacity() int {
	return int(b.capacity)
}

// Allow takes one token and reports true, or reports false and takes nothing if the bucket
// holds less than one token.
func (b *Bucket) Allow() bool {
	b.mu.Lock()
	defer b.mu.Unlock()

	now := b.now()
	debt := max(b.fullAt, now) - now
	if debt+b.interval > b.capacity*b.interval {
		return false
	}
	b.fullAt = now + debt + b.interval
	return true
}

// Remaining returns how many whole tokens the bucket holds now (RateLimit-Remaining), from 0
// to Capacity.
func (b *Bucket) Remaining() int {
	b.mu.Lock()
	defer b.mu.Unlock()

	now := b.now()
	debt := max(b.fullAt, now) - now
	return int((b.capacity*b.interval - debt) / b.interval)
}

// ResetIn returns how long until Allow would succeed: zero if a token is available now.
func (b *Bucket) ResetIn() time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()

	now := b.now()
	debt := max(b.fullAt, now) - now
	return time.Duration(max(0, debt+b.interval-b.capacity*b.interval))
}

// FullIn returns how long until the bucket holds Capacity tokens again: zero if it is full.
func (b *Bucket) FullIn() time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()

	return time.Duration(max(0, b.fullAt-b.now()))
}

// now returns the clock's reading as nanoseconds since origin. The subtraction uses the
// monotonic clock when the clock provides one, so wall-clock steps do not refill the bucket.
func (b *Bucket) now() int64 {
	return int64(b.clk.Now().Sub(b.origin))
}
