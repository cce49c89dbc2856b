package actors

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"

	"github.com/whalecast/whalecast/internal/accuracy"
)

// gatherSeries registers c on a pedantic registry (which checks every metric against its
// Describe), lints what it gathers, and returns each series as `name{label="value"}` with
// its value.
func gatherSeries(tb testing.TB, c prometheus.Collector) map[string]float64 {
	tb.Helper()
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(c); err != nil {
		tb.Fatalf("register: %v", err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		tb.Fatalf("gather: %v", err)
	}
	problems, err := promlint.NewWithMetricFamilies(mfs).Lint()
	if err != nil {
		tb.Fatalf("lint: %v", err)
	}
	for _, p := range problems {
		tb.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
	out := make(map[string]float64)
	for _, mf := range mfs {
		if mf.GetHelp() == "" {
			tb.Errorf("%s has no HELP", mf.GetName())
		}
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			name := mf.GetName()
			if len(labels) > 0 {
				name += "{" + strings.Join(labels, ",") + "}"
			}
			switch {
			case m.GetCounter() != nil:
				out[name] = m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				out[name] = m.GetGauge().GetValue()
			default:
				tb.Errorf("%s: neither a counter nor a gauge", name)
			}
		}
	}
	return out
}

// statsSeries are the series of Stats that are always there, with their value when every
// counter of Stats is zero.
func statsSeries() map[string]float64 {
	out := map[string]float64{
		`whalecast_connections{state="authenticated"}`:   0,
		`whalecast_connections{state="unauthenticated"}`: 0,
	}
	for _, m := range statsMetrics {
		out[m.name] = 0
	}
	return out
}

func TestCollector(t *testing.T) {
	ratio := 0.5
	since := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		set  func(*Stats, *ZMQFeed)
		zmq  bool
		// want holds every series expected besides statsSeries (whose values it may
		// override); any other series fails the test.
		want map[string]float64
	}{{
		name: "nothing counted, no accuracy monitor yet",
		set:  func(*Stats, *ZMQFeed) {},
		want: map[string]float64{},
	}, {
		name: "counters and gauges",
		set: func(s *Stats, _ *ZMQFeed) {
			s.ConnsAuthenticated.Store(2)
			s.ConnsUnauthenticated.Store(5)
			s.AlertsStored.Store(3)
			s.UpdatesStored.Store(4)
			s.Tracked.Store(3)
			s.ChainTip.Store(277647)
			s.BlocksConnected.Store(1)
			s.Deliveries.Store(12)
			s.ActorRestarts.Store(1)
			s.AuditDropped.Store(9)
		},
		want: map[string]float64{
			`whalecast_connections{state="authenticated"}`:   2,
			`whalecast_connections{state="unauthenticated"}`: 5,
			"whalecast_alerts_stored_total":                  3,
			"whalecast_updates_stored_total":                 4,
			"whalecast_lifecycle_tracked":                    3,
			"whalecast_chain_tip_height":                     277647,
			"whalecast_blocks_connected_total":               1,
			"whalecast_deliveries_total":                     12,
			"whalecast_actor_restarts_total":                 1,
			"whalecast_audit_dropped_total":                  9,
		},
	}, {
		name: "accuracy below the minimum samples has no ratio",
		set: func(s *Stats, _ *ZMQFeed) {
			s.Accuracy.Store(&accuracy.Snapshot{Window: 200, MinSamples: 20, Samples: 3,
				Confirmed: 2, Dropped: 1})
		},
		want: map[string]float64{
			"whalecast_alert_accuracy_samples":               3,
			`whalecast_alert_outcomes{outcome="confirmed"}`:  2,
			`whalecast_alert_outcomes{outcome="replaced"}`:   0,
			`whalecast_alert_outcomes{outcome="conflicted"}`: 0,
			`whalecast_alert_outcomes{outcome="dropped"}`:    1,
			"whalecast_alert_accuracy_degraded":              0,
			"whalecast_alert_accuracy_episodes_total":        0,
		},
	}, {
		name: "degraded accuracy",
		set: func(s *Stats, _ *ZMQFeed) {
			s.Accuracy.Store(&accuracy.Snapshot{Window: 4, MinSamples: 2, Samples: 4,
				Confirmed: 2, Replaced: 1, Conflicted: 1, Accuracy: &ratio, Threshold: 0.7,
				RecoverAt: 0.75, Degraded: true, DegradedSince: &since, Episodes: 2})
		},
		want: map[string]float64{
			"whalecast_alert_accuracy_ratio":                 0.5,
			"whalecast_alert_accuracy_samples":               4,
			`whalecast_alert_outcomes{outcome="confirmed"}`:  2,
			`whalecast_alert_outcomes{outcome="replaced"}`:   1,
			`whalecast_alert_outcomes{outcome="conflicted"}`: 1,
			`whalecast_alert_outcomes{outcome="dropped"}`:    0,
			"whalecast_alert_accuracy_degraded":              1,
			"whalecast_alert_accuracy_episodes_total":        2,
		},
	}, {
		name: "a zmq source adds its counters",
		zmq:  true,
		set: func(_ *Stats, z *ZMQFeed) {
			z.received.Store(212)
			z.blocks.Store(1)
			z.disconnected.Store(1)
			z.feeErrors.Store(3)
		},
		want: func() map[string]float64 {
			out := map[string]float64{}
			for _, m := range zmqMetrics {
				out[m.name] = 0
			}
			out["whalecast_zmq_received_total"] = 212
			out["whalecast_zmq_blocks_connected_total"] = 1
			out["whalecast_zmq_blocks_disconnected_total"] = 1
			out["whalecast_zmq_fee_errors_total"] = 3
			return out
		}(),
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stats := NewStats(since)
			var zf *ZMQFeed
			if tt.zmq {
				zf = &ZMQFeed{}
			}
			tt.set(stats, zf)
			want := statsSeries()
			maps.Copy(want, tt.want)

			got := gatherSeries(t, NewCollector(stats, zf))
			for _, name := range sortedKeys(want) {
				if v, ok := got[name]; !ok || v != want[name] {
					t.Errorf("%s: got %v (present %v), want %v", name, v, ok, want[name])
				}
			}
			for _, name := range sortedKeys(got) {
				if _, ok := want[name]; !ok {
					t.Errorf("%s: got %v, want no such series", name, got[name])
				}
			}
		})
	}
}

// TestCollectorReadsAtScrape checks that the collector keeps no copy: a counter changed
// between two scrapes shows its new value.
func TestCollectorReadsAtScrape(t *testing.T) {
	stats := NewStats(time.Now())
	c := NewCollector(stats, nil)
	for want := range int64(3) {
		stats.AlertsStored.Store(want)
		if got := gatherSeries(t, c)["whalecast_alerts_stored_total"]; got != float64(want) {
			t.Errorf("scrape %d: got %v, want %d", want+1, got, want)
		}
	}
}

func sortedKeys(m map[string]float64) []string {
	return slices.Sorted(maps.Keys(m))
}
