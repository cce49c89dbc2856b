package notify

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/whalecast/whalecast/internal/ratelimit"
)

// Defaults used for a zero DispatcherConfig field, and the largest accepted values.
const (
	// DefaultQueue is the default capacity of each channel's queue.
	DefaultQueue = 64
	// DefaultAttempts is the default number of attempts per notification and channel.
	DefaultAttempts = 5
	// DefaultMinBackoff is the default ceiling of the wait before the first retry.
	DefaultMinBackoff = time.Second
	// DefaultMaxBackoff is the default cap on the ceiling of any wait before a retry.
	DefaultMaxBackoff = time.Minute

	// MaxQueue is the largest accepted DispatcherConfig.Queue.
	MaxQueue = 1 << 16
	// MaxAttempts is the largest accepted DispatcherConfig.Attempts.
	MaxAttempts = 100
	// MaxMaxBackoff is the largest accepted DispatcherConfig.MaxBackoff.
	MaxMaxBackoff = 24 * time.Hour
)

// DispatcherConfig tunes a Dispatcher. A zero field takes its default.
type DispatcherConfig struct {
	// Queue is how many notifications each channel holds while it is busy, from 1 to
	// MaxQueue; past it Notify drops. Zero means DefaultQueue (64).
	Queue int
	// Attempts is how many times a notification is tried on a channel, from 1 (no retry)
	// to MaxAttempts. Zero means DefaultAttempts (5).
	Attempts int
	// MinBackoff is the ceiling of the wait before the first retry: before retry k the
	// ceiling is MinBackoff * 2^(k-1), capped at MaxBackoff, and the wait is drawn
	// uniformly from zero to the ceiling (full jitter). Zero means DefaultMinBackoff (1s).
	MinBackoff time.Duration
	// MaxBackoff caps the ceiling, from MinBackoff to MaxMaxBackoff. Zero means
	// DefaultMaxBackoff (1m).
	MaxBackoff time.Duration
	// Logger receives one line per delivery outcome; nil discards them.
	Logger *slog.Logger
}

// Dispatcher delivers notifications asynchronously through its channels, each from a
// queue and goroutine of its own, in order, retrying failures that are retryable. Create one
// with NewDispatcher and stop it with Close.
type Dispatcher struct {
	log        *slog.Logger
	attempts   int
	minBackoff time.Duration
	maxBackoff time.Duration
	workers    []*worker

	mu     sync.RWMutex // guards closed against the queues being closed under Notify
	closed bool

	// ctx is done when Close gives up waiting: attempts under way and backoffs end.
	ctx    context.Context
	cancel context.CancelFunc
	alive  atomic.Int32  // workers still running
	done   chan struct{} // closed by the last worker to end
}

// worker is one channel's queue and counters.
type worker struct {
	ch      Channel
	name    string
	queue   chan Notification
	dropLog *ratelimit.Bucket // one "dropped" line per second

	sent, failed, dropped, retries atomic.Uint64
}

// NewDispatcher validates cfg and the channels (at least one, none nil, names non-empty
// and unique), and starts one goroutine per channel; errors wrap ErrInvalidConfig. Close
// must be called to stop them.
func NewDispatcher(cfg DispatcherConfig, channels ...Channel) (*Dispatcher, error) {
	cfg, err := checkDispatcherConfig(cfg)
	if err != nil {
		return nil, err
	}
	workers, err := newWorkers(cfg.Queue, channels)
	if err != nil {
		return nil, err
	}

	ctx, cancel := context.WithCancel(context.Background())
	d := &Dispatcher{
		log:        cfg.Logger,
		attempts:   cfg.Attempts,
		minBackoff: cfg.MinBackoff,
		maxBackoff: cfg.MaxBackoff,
		workers:    workers,
		ctx:        ctx,
		cancel:     cancel,
		done:       make(chan struct{}),
	}
	d.alive.Store(int32(len(workers)))
	for _, w := range workers {
		go d.run(w)
	}
	return d, nil
}

// checkDispatcherConfig returns cfg with defaults applied, or an error naming a field.
func checkDispatcherConfig(cfg DispatcherConfig) (DispatcherConfig, error) {
	switch {
	case cfg.Queue < 0 || cfg.Queue > MaxQueue:
		return cfg, fmt.Errorf("%w: queue %d outside [1, %d]", ErrInvalidConfig, cfg.Queue,
			MaxQueue)
	case cfg.Attempts < 0 || cfg.Attempts > MaxAttempts:
		return cfg, fmt.Errorf("%w: attempts %d outside [1, %d]", ErrInvalidConfig,
			cfg.Attempts, MaxAttempts)
	case cfg.MinBackoff < 0 || cfg.MaxBackoff < 0:
		return cfg, fmt.Errorf("%w: negative backoff", ErrInvalidConfig)
	}

	cfg.Queue = cmp.Or(cfg.Queue, DefaultQueue)
	cfg.Attempts = cmp.Or(cfg.Attempts, DefaultAttempts)
	cfg.MinBackoff = cmp.Or(cfg.MinBackoff, DefaultMinBackoff)
	cfg.MaxBackoff = cmp.Or(cfg.MaxBackoff, DefaultMaxBackoff)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}

	if cfg.MinBackoff > cfg.MaxBackoff || cfg.MaxBackoff > MaxMaxBackoff {
		return cfg, fmt.Errorf("%w: backoff %v to %v, want min <= max <= %v",
			ErrInvalidConfig, cfg.MinBackoff, cfg.MaxBackoff, MaxMaxBackoff)
	}
	return cfg, nil
}

// newWorkers returns a worker per channel, checking their names.
func newWorkers(queue int, channels []Channel) ([]*worker, error) {
	if len(channels) == 0 {
		return nil, fmt.Errorf("%w: no channels", ErrInvalidConfig)
	}
	workers := make([]*worker, 0, len(channels))
	seen := make(map[string]bool, len(channels))
	for i, ch := range channels {
		if ch == nil || ch.Name() == "" {
			return nil, fmt.Errorf("%w: channel %d is nil or unnamed", ErrInvalidConfig, i)
		}
		if seen[ch.Name()] {
			return nil, fmt.Errorf("%w: channel name %q used twice", ErrInvalidConfig,
				ch.Name())
		}
		seen[ch.Name()] = true
		bucket, err := ratelimit.NewBucket(1, time.Second, nil)
		if err != nil {
			return nil, fmt.Errorf("notify: drop log limiter: %w", err)
		}
		workers = append(workers, &worker{ch: ch, name: ch.Name(),
			queue: make(chan Notification, queue), dropLog: bucket})
	}
	return workers, nil
}

// Notify queues n on every channel and reports whether every channel took it. It never
// blocks: a channel whose queue is full, or a closed Dispatcher, drops n, counts the drop
// and logs it (at most one line per channel per second). The caller must not modify n.Body
// afterwards.
func (d *Dispatcher) Notify(n Notification) bool {
	d.mu.RLock()
	defer d.mu.RUnlock()

	ok := !d.closed
	for _, w := range d.workers {
		if d.closed {
			d.drop(w, n, "closed")
			continue
		}
		select {
		case w.queue <- n:
		default:
			d.drop(w, n, "queue full")
			ok = false
		}
	}
	return ok
}

// Close stops accepting notifications and waits until every channel has delivered (or
// given up on) what it had queued. If ctx ends first, it cancels the attempts and backoffs
// under way, counts what was still queued as dropped, waits for the goroutines to end
// (which takes as long as the slowest Channel takes to honour its context) and returns
// ctx's error. Calling Close again waits the same way.
func (d *Dispatcher) Close(ctx context.Context) error {
	d.mu.Lock()
	if !d.closed {
		d.closed = true
		for _, w := range d.workers {
			close(w.queue)
		}
	}
	d.mu.Unlock()
	defer d.cancel()

	select {
	case <-d.done:
		return nil
	case <-ctx.Done():
	}
	d.cancel()
	<-d.done
	return fmt.Errorf("notify: close: undelivered notifications abandoned: %w", ctx.Err())
}

// run delivers w's queue in order until it is closed and drained.
func (d *Dispatcher) run(w *worker) {
	defer func() {
		if d.alive.Add(-1) == 0 {
			close(d.done)
		}
	}()

	for n := range w.queue {
		if d.ctx.Err() != nil {
			d.drop(w, n, "shutdown")
			continue
		}
		d.deliver(w, n)
	}
}

// deliver tries n on w's channel up to the configured number of attempts.
func (d *Dispatcher) deliver(w *worker, n Notification) {
	for attempt := 1; ; attempt++ {
		err := w.ch.Deliver(d.ctx, n)
		if err == nil {
			w.sent.Add(1)
			d.log.Info("notification sent", "channel", w.name, "kind", n.Kind,
				"attempt", attempt)
			return
		}

		if attempt == d.attempts || !Retryable(err) || d.ctx.Err() != nil {
			w.failed.Add(1)
			d.log.Error("notification failed", "channel", w.name, "kind", n.Kind,
				"attempt", attempt, "err", err)
			return
		}

		wait := backoff(attempt, d.minBackoff, d.maxBackoff, rand.Int64N)
		w.retries.Add(1)
		d.log.Warn("notification attempt failed", "channel", w.name, "kind", n.Kind,
			"attempt", attempt, "err", err, "retry_in", wait)
		if !sleep(d.ctx, wait) {
			w.failed.Add(1)
			d.log.Error("notification failed", "channel", w.name, "kind", n.Kind,
				"attempt", attempt, "err", fmt.Errorf("retry abandoned: %w", d.ctx.Err()))
			return
		}
	}
}

// drop counts a notification w will not deliver and logs it, rate-limited.
func (d *Dispatcher) drop(w *worker, n Notification, reason string) {
	total := w.dropped.Add(1)
	if w.dropLog.Allow() {
		d.log.Warn("notification dropped", "channel", w.name, "kind", n.Kind,
			"reason", reason, "dropped", total)
	}
}

// backoff returns the wait before the retry that follows attempt (1 for the first
// failure): uniform in [0, min(lo * 2^(attempt-1), hi)], drawn with randN, which returns a
// value in [0, n).
func backoff(attempt int, lo, hi time.Duration, randN func(n int64) int64) time.Duration {
	ceiling := lo
	for i := 1; i < attempt && ceiling < hi; i++ {
		ceiling *= 2
	}
	ceiling = min(ceiling, hi)
	return time.Duration(randN(int64(ceiling) + 1))
}

// sleep waits for d or until ctx is done, and reports whether the whole wait elapsed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()

	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// ChannelStats counts what one channel did since the Dispatcher started.
type ChannelStats struct {
	// Channel is the channel's name.
	Channel string `json:"channel"`
	// Sent counts notifications delivered.
	Sent uint64 `json:"sent"`
	// Failed counts notifications given up on after their last attempt.
	Failed uint64 `json:"failed"`
	// Dropped counts notifications never attempted: queue full, closed, or shut down.
	Dropped uint64 `json:"dropped"`
	// Retries counts attempts that failed and were followed by another.
	Retries uint64 `json:"retries"`
	// Queued is the number of notifications waiting now.
	Queued int `json:"queued"`
}

// Stats holds the counters of every channel, in the order given to NewDispatcher.
type Stats struct {
	// Channels holds one entry per channel.
	Channels []ChannelStats `json:"channels"`
}

// Stats returns the counters now. It is safe to call from any goroutine.
func (d *Dispatcher) Stats() Stats {
	s := Stats{Channels: make([]ChannelStats, len(d.workers))}
	for i, w := range d.workers {
		s.Channels[i] = ChannelStats{
			Channel: w.name,
			Sent:    w.sent.Load(),
			Failed:  w.failed.Load(),
			Dropped: w.dropped.Load(),
			Retries: w.retries.Load(),
			Queued:  len(w.queue),
		}
	}
	return s
}
