// Package ratelimit holds the token bucket that limits how fast one session may act.
//
// A [Bucket] holds up to capacity tokens and refills continuously at capacity per window, so
// a client may burst capacity actions at once and then keep up capacity per window forever.
// [Bucket.Allow] spends one token. [Bucket.Remaining], [Bucket.ResetIn] and [Bucket.FullIn]
// report the state in the terms of RateLimit-* response headers.
//
// The bucket stores no token count: it keeps the instant at which it will be full again and
// derives everything from the clock, in whole nanoseconds, so nothing drifts and a long idle
// period costs nothing. One token takes window/capacity to come back, rounded up to the
// nanosecond; the rounding can only make the limit stricter, never looser.
//
// # Turning it off
//
// NewBucket refuses a capacity or window that is not positive. A caller that wants no limit
// does not make a bucket; there is no "unlimited" bucket to create by mistake.
//
// # Concurrency
//
// A Bucket is meant to be owned by one session actor, but every method takes a small mutex,
// so a status reader on another goroutine is safe too. No method blocks beyond that mutex or
// schedules anything on the clock. A Bucket is 72 bytes on 64-bit platforms, so thousands of
// sessions cost well under a megabyte.
package ratelimit
