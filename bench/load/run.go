package load

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Bounds of a run's bookkeeping.
const (
	// maxCauses bounds the distinct failure causes a run counts by name; the rest are
	// counted as "other".
	maxCauses = 16
	// stopWait bounds the wait for the clients' goroutines once their sockets are closed.
	stopWait = 5 * time.Second
)

// run is one load test in progress. Its counters are atomics, written by the clients'
// goroutines and read by the sampler; the rest belongs to the goroutine of Run.
type run struct {
	cfg     Config
	clients []*client
	hist    *Histogram
	pub     *publisher
	started time.Time

	// launched counts the clients whose goroutine started, the first ones of clients.
	launched atomic.Int64
	stopping atomic.Bool
	// stopped is closed when the run stops its clients: stalled clients then read.
	stopped chan struct{}

	connected   atomic.Int64 // clients welcomed and still connected
	peak        atomic.Int64
	welcomed    atomic.Uint64 // clients that got their welcome
	delivered   atomic.Uint64 // distinct load alerts received, over every client
	errorFrames atomic.Uint64
	otherFrames atomic.Uint64
	badFrames   atomic.Uint64
	// lastReceipt is when the latest load alert was received, in Unix nanoseconds.
	lastReceipt atomic.Int64

	mu            sync.Mutex
	connectErrors map[string]uint64

	sampler sampler
}

// Run runs one load test and returns what it measured. When ctx ends (Ctrl-C) the run
// stops at once, closes its clients and returns the result so far, marked interrupted.
// Its error is a Config error: nothing was started then.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	r := &run{cfg: cfg, hist: NewHistogram(), pub: newPublisher(cfg),
		connectErrors: map[string]uint64{}, stopped: make(chan struct{})}
	r.clients = make([]*client, cfg.Clients)
	for i := range r.clients {
		r.clients[i] = &client{id: i, done: make(chan struct{}), stalled: i < cfg.Stalled}
	}
	return r.execute(ctx), nil
}

// execute runs the phases: ramp and publishing until Duration, the drain, then the stop.
func (r *run) execute(ctx context.Context) *Result {
	r.started = time.Now()
	r.sampler.start(r)
	holdEnd := r.started.Add(r.cfg.Duration)
	dialCtx, cancelDials := context.WithCancel(ctx)
	defer cancelDials()

	rampDone := make(chan struct{})
	go func() {
		defer close(rampDone)
		r.ramp(dialCtx, holdEnd)
	}()
	pubCtx, stopPublishing := context.WithDeadline(ctx, holdEnd)
	defer stopPublishing()
	pubDone := make(chan struct{})
	go func() {
		defer close(pubDone)
		if sleepUntil(pubCtx, r.started.Add(r.cfg.PublishDelay)) {
			r.pub.run(pubCtx, ctx)
		}
	}()

	r.sampleUntil(ctx, holdEnd, false)
	<-rampDone
	<-pubDone
	r.sampleUntil(ctx, time.Now().Add(r.cfg.Drain), true)
	stats := r.serverStats()

	r.stopping.Store(true)
	close(r.stopped)
	cancelDials()
	r.stopClients()
	r.pub.client.CloseIdleConnections()
	return r.result(ctx.Err() != nil, stats)
}

// ramp starts the clients at the configured rate until they are all started, until, or
// until ctx ends.
func (r *run) ramp(ctx context.Context, until time.Time) {
	var interval time.Duration
	if r.cfg.Ramp > 0 {
		interval = time.Duration(float64(time.Second) / r.cfg.Ramp)
	}
	dials := make(chan struct{}, MaxDialsInFlight)
	for i, c := range r.clients {
		at := r.started.Add(time.Duration(i) * interval)
		if at.After(until) || !sleepUntil(ctx, at) {
			return
		}
		select {
		case dials <- struct{}{}:
		case <-ctx.Done():
			return
		}
		if time.Now().After(until) {
			return
		}
		r.launched.Add(1)
		go r.runClient(ctx, c, dials)
	}
}

// sleepUntil waits until t and reports whether ctx is still live then.
func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// connectFailed counts a client that could not connect, by cause.
func (r *run) connectFailed(err error) {
	r.count(r.connectErrors, causeOf(err))
}

// count adds one to causes[cause], or to "other" once maxCauses are named.
func (r *run) count(causes map[string]uint64, cause string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := causes[cause]; !ok && len(causes) >= maxCauses {
		cause = "other"
	}
	causes[cause]++
}

// updatePeak raises the peak of connected clients to the current count.
func (r *run) updatePeak() {
	n := r.connected.Load()
	for {
		old := r.peak.Load()
		if n <= old || r.peak.CompareAndSwap(old, n) {
			return
		}
	}
}

// stopClients closes every started client and waits for their goroutines: a close frame
// first, and after closeWait the sockets. A goroutine still running after stopWait is left
// out of the accounting (see result).
func (r *run) stopClients() {
	started := r.clients[:r.launched.Load()]
	for _, c := range started {
		c.stop()
	}
	deadline := time.Now().Add(closeWait)
	for _, c := range started {
		if !waitDone(c, deadline) {
			if conn := c.conn.Load(); conn != nil {
				_ = conn.Close()
			}
		}
	}
	deadline = time.Now().Add(stopWait)
	for _, c := range started {
		waitDone(c, deadline)
	}
}

// waitDone waits until c's goroutine has returned or deadline passes.
func waitDone(c *client, deadline time.Time) bool {
	timer := time.NewTimer(max(time.Until(deadline), 0))
	defer timer.Stop()
	select {
	case <-c.done:
		return true
	case <-timer.C:
		return false
	}
}

// drained reports whether every connected client has received every published alert it
// is owed.
func (r *run) drained() bool {
	published := r.pub.published()
	for _, c := range r.clients[:r.launched.Load()] {
		select {
		case <-c.done:
			continue
		default:
		}
		if !c.welcomed.Load() || c.stalled {
			continue
		}
		rec := receipts{base: c.base.Load()}
		if c.received.Load() < rec.owed(published) {
			return false
		}
	}
	return true
}
