package actors

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
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
			case m.GetHistogram() != nil:
				h := m.GetHistogram()
				out[name+"_count"] = float64(h.GetSampleCount())
				out[name+"_sum"] = h.GetSampleSum()
				for _, b := range h.GetBucket() {
					out[fmt.Sprintf("%s_bucket{le=%q}", name,
						strconv.FormatFloat(b.GetUpperBound(), 'g', -1, 64))] =
						float64(b.GetCumulativeCount())
				}
			default:
				tb.Errorf("%s: neither a counter, a gauge nor a histogram", name)
			}
		}
	}
	return out
}

// statsSeries are the series of Stats that are always there, with their value when every
// counter of Stats is zero: the unlabelled ones, every value of each fixed label, the
// seeded detectors under every status, and both histograms.
func statsSeries() map[string]float64 {
	out := map[string]float64{
		`whalecast_connections{state="authenticated"}`:   0,
		`whalecast_connections{state="unauthenticated"}`: 0,
	}
	for _, m := range statsMetrics {
		out[m.name] = 0
	}
	for _, l := range []struct {
		family, label string
		values        []string
	}{
		{"whalecast_auth_failures_total", "reason", AuthFailureReasons()},
		{"whalecast_actor_restarts_total", "actor", ActorLabels()},
		{"whalecast_frames_dropped_total", "reason", FrameDropReasons()},
		{"whalecast_webhook_deliveries_total", "outcome", WebhookOutcomes()},
	} {
		for _, v := range l.values {
			out[fmt.Sprintf("%s{%s=%q}", l.family, l.label, v)] = 0
		}
	}
	for _, d := range append(BuiltinRegistry().Names(), "test", "bench", "other") {
		for _, st := range AlertStatusLabels() {
			out[alertSeries(d, st)] = 0
		}
	}
	for name, bounds := range map[string][]float64{
		"whalecast_delivery_latency_seconds":     DeliveryLatencyBuckets,
		"whalecast_store_write_duration_seconds": StoreWriteBuckets,
	} {
		out[name+"_count"], out[name+"_sum"] = 0, 0
		for _, le := range bounds {
			out[bucketSeries(name, le)] = 0
		}
	}
	return out
}

func alertSeries(detector, status string) string {
	return fmt.Sprintf("whalecast_alerts_total{detector=%q,status=%q}", detector, status)
}

func bucketSeries(name string, le float64) string {
	return fmt.Sprintf("%s_bucket{le=%q}", name, strconv.FormatFloat(le, 'g', -1, 64))
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
			s.ActorRestarted("whalecast/store")
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
			`whalecast_actor_restarts_total{actor="store"}`:  1,
			"whalecast_audit_dropped_total":                  9,
		},
	}, {
		name: "labelled counters take fixed values, others count as other",
		set: func(s *Stats, _ *ZMQFeed) {
			s.AuthFailed("expired")
			s.AuthFailed("expired")
			s.AuthFailed("token_in_url")
			s.AuthFailed("a reason nobody listed")
			s.ActorRestarted("whalecast/sessions/$12")
			s.ActorRestarted("whalecast/detector")
			s.ActorRestarted("somewhere/else")
			s.FramesDropped(DropQueueFull, 3)
			s.FramesDropped(DropDiscarded, 2)
			s.FramesDropped("not a reason", 5)
			s.countWebhookOutcome(WebhookDelivered)
			s.countWebhookOutcome(WebhookRefused)
			s.countWebhookOutcome("not an outcome")
			s.countRecords([]Entry{
				{Meta: Meta{Detector: "large_value", Status: "mempool"}},
				{Meta: Meta{Detector: "large_value", Status: "confirmed"}},
				{Meta: Meta{Detector: "custom_rule", Status: "mempool"}},
				{Meta: Meta{Detector: "Not A Name", Status: "mempool"}},
				{Meta: Meta{Detector: "test", Status: "a status nobody listed"}},
			})
		},
		want: func() map[string]float64 {
			out := map[string]float64{
				`whalecast_auth_failures_total{reason="expired"}`:         2,
				`whalecast_auth_failures_total{reason="token_in_url"}`:    1,
				`whalecast_auth_failures_total{reason="other"}`:           1,
				`whalecast_actor_restarts_total{actor="session"}`:         1,
				`whalecast_actor_restarts_total{actor="detector"}`:        1,
				`whalecast_actor_restarts_total{actor="other"}`:           1,
				`whalecast_frames_dropped_total{reason="queue_full"}`:     3,
				`whalecast_frames_dropped_total{reason="discarded"}`:      2,
				`whalecast_webhook_deliveries_total{outcome="delivered"}`: 1,
				`whalecast_webhook_deliveries_total{outcome="refused"}`:   1,
			}
			for _, st := range AlertStatusLabels() {
				out[alertSeries("custom_rule", st)] = 0
			}
			out[alertSeries("large_value", "mempool")] = 1
			out[alertSeries("large_value", "confirmed")] = 1
			out[alertSeries("custom_rule", "mempool")] = 1
			out[alertSeries("other", "mempool")] = 1
			out[alertSeries("test", "other")] = 1
			return out
		}(),
	}, {
		name: "queues, histograms, store size and source lag",
		set: func(s *Stats, _ *ZMQFeed) {
			s.StorePending.Store(7)
			s.BroadcastLag.Store(4096)
			s.WebhooksPending.Store(12)
			s.DeliveryLatency.Observe(time.Millisecond)
			s.DeliveryLatency.Observe(3 * time.Second)
			s.StoreWrite.Observe(20 * time.Microsecond)
			s.watchStore(fixedSize{lsm: 1 << 20, vlog: 2048})
			// A seen time ahead of the scrape's clock reads as no lag at all.
			s.LastTxSeen.Store(time.Now().Add(time.Hour).UnixNano())
		},
		want: func() map[string]float64 {
			out := map[string]float64{
				"whalecast_store_pending_records":              7,
				"whalecast_broadcast_lag_records":              4096,
				"whalecast_webhook_pending_deliveries":         12,
				"whalecast_delivery_latency_seconds_count":     2,
				"whalecast_delivery_latency_seconds_sum":       3.001,
				"whalecast_store_write_duration_seconds_count": 1,
				"whalecast_store_write_duration_seconds_sum":   0.00002,
				`whalecast_store_size_bytes{part="lsm"}`:       1 << 20,
				`whalecast_store_size_bytes{part="vlog"}`:      2048,
				"whalecast_source_lag_seconds":                 0,
			}
			for _, le := range DeliveryLatencyBuckets {
				switch {
				case le >= 5:
					out[bucketSeries("whalecast_delivery_latency_seconds", le)] = 2
				case le >= 0.001:
					out[bucketSeries("whalecast_delivery_latency_seconds", le)] = 1
				}
			}
			for _, le := range StoreWriteBuckets {
				out[bucketSeries("whalecast_store_write_duration_seconds", le)] = 1
			}
			return out
		}(),
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
			out["whalecast_zmq_queued_messages"] = 0
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

// fixedSize is a store of a fixed size.
type fixedSize struct{ lsm, vlog int64 }

func (f fixedSize) Size() (lsm, vlog int64) { return f.lsm, f.vlog }

func sortedKeys(m map[string]float64) []string {
	return slices.Sorted(maps.Keys(m))
}
