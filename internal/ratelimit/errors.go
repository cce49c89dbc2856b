package ratelimit

import "errors"

// Sentinel errors returned, wrapped with the offending value, by NewBucket.
var (
	// ErrInvalidCapacity means a bucket capacity is not positive.
	ErrInvalidCapacity = errors.New("ratelimit: capacity must be positive")
	// ErrInvalidWindow means a refill window is not positive.
	ErrInvalidWindow = errors.New("ratelimit: window must be positive")
)
