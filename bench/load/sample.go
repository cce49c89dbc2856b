package load

import (
	"context"
	"fmt"
	"time"
)

// Sampling of a run.
const (
	// sampleEvery is the interval of the timeline and of the progress line.
	sampleEvery = time.Second
	// maxSamples bounds the timeline: a day of seconds, and the drain.
	maxSamples = 86_400 + 120
	// drainPoll is how often the drain checks whether every client has what it is owed.
	drainPoll = 50 * time.Millisecond
)

// Sample is one second of a run, as the timeline lists them.
type Sample struct {
	// T is the end of the second, in seconds from the run's start.
	T float64 `json:"t"`
	// Connected is the clients connected then.
	Connected int64 `json:"connected"`
	// Deliveries counts the load alerts received in the second, over every client.
	Deliveries uint64 `json:"deliveries"`
	// Rate is Deliveries per second of the interval.
	Rate float64 `json:"deliveries_per_s"`
	// Published is how many alerts were published from the start.
	Published uint64 `json:"published"`
	// P50Ms, P99Ms and MaxMs are the latencies of the second's deliveries, in ms.
	P50Ms float64 `json:"p50_ms"`
	P99Ms float64 `json:"p99_ms"`
	MaxMs float64 `json:"max_ms"`
	// RSSBytes is the server's resident memory then; 0 without a PID.
	RSSBytes uint64 `json:"rss_bytes,omitempty"`
}

// sampler turns the run's counters into the timeline and the progress line. It is used by
// Run's goroutine alone.
type sampler struct {
	r         *run
	last      time.Time
	prev      Snapshot
	delivered uint64
	timeline  []Sample
	rssBase   uint64
	rssPeak   uint64
	rssErr    error
	shown     bool
}

// start takes the baseline: the server's memory before the first connection.
func (s *sampler) start(r *run) {
	s.r, s.last, s.prev = r, r.started, r.hist.Snapshot()
	if r.cfg.PID > 0 {
		s.rssBase, s.rssErr = readRSS(r.cfg.PID)
		s.rssPeak = s.rssBase
	}
	s.timeline = append(s.timeline, Sample{RSSBytes: s.rssBase})
}

// sampleUntil samples every second until end or until ctx ends; with drain it also stops
// as soon as every client has what it is owed.
func (r *run) sampleUntil(ctx context.Context, end time.Time, drain bool) {
	every := sampleEvery
	if drain {
		every = drainPoll
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for time.Now().Before(end) {
		if drain && r.drained() {
			return
		}
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			// A ticker may fire a hair early: a sample is due 90% of a second after the
			// last one.
			if now.Sub(r.sampler.last) >= sampleEvery*9/10 {
				r.sampler.sample(now)
			}
		}
	}
}

// sample closes the second ending at now.
func (s *sampler) sample(now time.Time) {
	r := s.r
	snap := r.hist.Snapshot()
	d := snap.Since(s.prev)
	delivered := r.delivered.Load()
	smp := Sample{
		T:          now.Sub(r.started).Seconds(),
		Connected:  r.connected.Load(),
		Deliveries: delivered - s.delivered,
		Rate:       float64(delivered-s.delivered) / now.Sub(s.last).Seconds(),
		Published:  r.pub.alerts.Load(),
		P50Ms:      ms(d.Quantile(0.5)),
		P99Ms:      ms(d.Quantile(0.99)),
		MaxMs:      ms(time.Duration(d.Max) * time.Microsecond),
	}
	if r.cfg.PID > 0 && s.rssErr == nil {
		smp.RSSBytes, s.rssErr = readRSS(r.cfg.PID)
		s.rssPeak = max(s.rssPeak, smp.RSSBytes)
	}
	s.last, s.prev, s.delivered = now, snap, delivered
	if len(s.timeline) < maxSamples {
		s.timeline = append(s.timeline, smp)
	}
	s.progress(smp, snap)
}

// progress shows one line: the second's figures and the p99 so far.
func (s *sampler) progress(smp Sample, total Snapshot) {
	w := s.r.cfg.Progress
	if w == nil {
		return
	}
	lead, tail := "", "\n"
	if s.r.cfg.ProgressInPlace {
		lead, tail = "\r", "\x1b[K"
	}
	s.shown = true
	fmt.Fprintf(w, "%s%4.0fs  connected %d/%d  connect errors %d  published %d  "+
		"deliveries %.0f/s  p99 %s%s", lead, smp.T, smp.Connected, s.r.cfg.Clients,
		s.r.connectErrorCount(), smp.Published, smp.Rate,
		formatMs(ms(total.Quantile(0.99))), tail)
}

// endProgress ends an in-place progress line.
func (s *sampler) endProgress() {
	if s.shown && s.r.cfg.ProgressInPlace {
		fmt.Fprintln(s.r.cfg.Progress)
	}
}

// connectErrorCount sums the connect failures.
func (r *run) connectErrorCount() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	var n uint64
	for _, v := range r.connectErrors {
		n += v
	}
	return n
}

// ms converts d to milliseconds.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// formatMs writes a latency in ms with a precision fit for its size.
func formatMs(v float64) string {
	switch {
	case v < 1:
		return fmt.Sprintf("%.3f ms", v)
	case v < 100:
		return fmt.Sprintf("%.2f ms", v)
	}
	return fmt.Sprintf("%.0f ms", v)
}
