// Package loadtest holds the checks that the load tool's end-to-end tests share: the
// engine's and bench/floor's.
package loadtest

import (
	"strings"
	"testing"

	"github.com/whalecast/whalecast/bench/load"
)

// CheckClean fails tb unless every client connected and received every published alert
// exactly once, in order, with sane latencies.
func CheckClean(tb testing.TB, res *load.Result, clients int, minPublished uint64) {
	tb.Helper()
	var table strings.Builder
	_ = res.WriteTable(&table)
	c, p, d, l := res.Clients, res.Publish, res.Delivery, res.Latency
	switch {
	case c.Connected != uint64(clients) || c.ConnectErrors != 0 || c.Dropped != 0:
		tb.Errorf("clients: got %d connected, %d errors, %d dropped; want %d, 0, 0",
			c.Connected, c.ConnectErrors, c.Dropped, clients)
	case p.Alerts < minPublished || p.Failed != 0 || p.Refused != 0 || p.StoreLost != 0:
		tb.Errorf("publish: got %+v, want at least %d alerts and no failure", p,
			minPublished)
	case d.Owed < uint64(clients)*minPublished/2:
		tb.Errorf("owed: got %d, want at least %d: clients joined too late", d.Owed,
			uint64(clients)*minPublished/2)
	case d.Lost != 0 || d.Duplicates != 0 || d.Reordered != 0 || d.Early != 0 ||
		d.Untracked != 0 || d.Unpublished != 0 || d.BadFrames != 0:
		tb.Errorf("delivery: got %+v, want nothing lost, repeated or unexpected", d)
	case d.Delivered != d.Owed || l.Count != d.Delivered:
		tb.Errorf("delivered %d, owed %d, latencies %d: want all equal", d.Delivered, d.Owed,
			l.Count)
	case l.P50Ms <= 0 || l.P50Ms > l.P99Ms || l.P99Ms > l.MaxMs || l.MaxMs > 5000:
		tb.Errorf("latency: got %+v, want 0 < p50 <= p99 <= max <= 5 s", l)
	case len(res.Timeline) == 0:
		tb.Error("timeline: got no sample")
	}
	if tb.Failed() {
		tb.Logf("result:\n%s", table.String())
	}
}
