package notify

import (
	"math/rand/v2"
	"time"
)

// Backoff returns the wait before the retry that follows attempt (1 for the first failure),
// with the Dispatcher's schedule: exponential from lo, capped at hi, with full jitter
// (uniform in [0, min(lo * 2^(attempt-1), hi)]). Customer webhook deliveries, which keep
// their retries in a durable outbox instead of a Dispatcher's queue, use it too.
func Backoff(attempt int, lo, hi time.Duration) time.Duration {
	if lo <= 0 || hi < lo {
		return max(lo, 0)
	}
	return backoff(max(attempt, 1), lo, hi, rand.Int64N)
}
