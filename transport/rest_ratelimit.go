package transport

import (
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/whalecast/whalecast/internal/clock"
	"github.com/whalecast/whalecast/internal/ratelimit"
)

// Limits of the REST rate limiters.
const (
	// MaxRateLimiters bounds the token buckets held at once, one per API key or token
	// client. Past it, buckets that are full again (idle: dropping one loses nothing) go
	// first, then the least recently used.
	MaxRateLimiters = 10_000
	// SuccessAuditEvery is how often a credential's REST use is recorded as auth_success:
	// the first call of a credential, of a new token of the same client, and then one call
	// per period, rather than every call.
	SuccessAuditEvery = time.Hour
)

// limiterEntry is the bucket of one credential and what the table remembers of its use.
type limiterEntry struct {
	bucket  *ratelimit.Bucket
	seen    time.Time
	audited time.Time
	// lastUse names the token (jti) or key last audited, so a new token is audited at once.
	lastUse string
}

// limiterTable holds one token bucket per credential, at most max of them. It is safe for
// concurrent use.
type limiterTable struct {
	limit  int
	window time.Duration
	clock  clock.Clock
	max    int

	mu      sync.Mutex
	entries map[string]*limiterEntry
}

func newLimiterTable(limit int, window time.Duration, clk clock.Clock, maxEntries int) (
	*limiterTable, error) {
	if _, err := ratelimit.NewBucket(limit, window, clk); err != nil {
		return nil, fmt.Errorf("transport: REST rate limit %d per %v: %w", limit, window, err)
	}
	return &limiterTable{limit: limit, window: window, clock: clk, max: maxEntries,
		entries: map[string]*limiterEntry{}}, nil
}

// limitResult is the answer of the table to one call, and what the RateLimit headers say.
type limitResult struct {
	allowed   bool
	limit     int
	remaining int
	// reset is how long until the bucket is full again.
	reset time.Duration
	// retry is how long until a call is allowed again; zero when this one was.
	retry time.Duration
	// audit asks the caller to record this call as an auth_success.
	audit bool
}

// take spends one token of key's bucket. use names the token or API key, for the
// auth_success memo.
func (t *limiterTable) take(key, use string) limitResult {
	now := t.clock.Now()
	t.mu.Lock()
	e, ok := t.entries[key]
	if !ok {
		if len(t.entries) >= t.max {
			t.evict()
		}
		// The capacity and window were checked by newLimiterTable.
		b, _ := ratelimit.NewBucket(t.limit, t.window, t.clock)
		e = &limiterEntry{bucket: b}
		t.entries[key] = e
	}
	e.seen = now
	audit := e.lastUse != use || now.Sub(e.audited) >= SuccessAuditEvery
	if audit {
		e.lastUse, e.audited = use, now
	}
	t.mu.Unlock()

	res := limitResult{limit: e.bucket.Capacity(), audit: audit}
	res.allowed = e.bucket.Allow()
	res.remaining = e.bucket.Remaining()
	res.reset = e.bucket.FullIn()
	if !res.allowed {
		res.retry = max(e.bucket.ResetIn(), time.Second)
	}
	return res
}

// evict makes room: full buckets first, then the least recently used down to 90% of max.
// Called with mu held.
func (t *limiterTable) evict() {
	for k, e := range t.entries {
		if e.bucket.FullIn() == 0 {
			delete(t.entries, k)
		}
	}
	keep := t.max * 9 / 10
	if len(t.entries) <= keep {
		return
	}
	keys := slices.Collect(maps.Keys(t.entries))
	slices.SortFunc(keys, func(a, b string) int {
		return t.entries[a].seen.Compare(t.entries[b].seen)
	})
	for _, k := range keys[:len(keys)-keep] {
		delete(t.entries, k)
	}
}

// size returns how many buckets the table holds.
func (t *limiterTable) size() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.entries)
}
