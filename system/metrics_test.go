package system_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/wire/v2"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/whalecast/whalecast/actors"
	"github.com/whalecast/whalecast/internal/auth"
	"github.com/whalecast/whalecast/internal/chaintest"
	"github.com/whalecast/whalecast/transport"
)

// wantLabels is every label value a whalecast_* metric may have: labels take fixed sets of
// values, never a client, a txid, a URL or anything a caller chooses. An engine without
// custom detectors labels alerts with the built-in detectors, the publishers' test and
// bench, and other.
func wantLabels() map[string]map[string][]string {
	return map[string]map[string][]string{
		"whalecast_connections": {"state": {"authenticated", "unauthenticated"}},
		"whalecast_alert_outcomes": {"outcome": {"confirmed", "conflicted", "dropped",
			"replaced"}},
		"whalecast_auth_failures_total":  {"reason": actors.AuthFailureReasons()},
		"whalecast_actor_restarts_total": {"actor": actors.ActorLabels()},
		"whalecast_alerts_total": {
			"detector": append(actors.BuiltinRegistry().Names(), "test", "bench", "other"),
			"status":   actors.AlertStatusLabels(),
		},
		"whalecast_frames_dropped_total":     {"reason": actors.FrameDropReasons()},
		"whalecast_webhook_deliveries_total": {"outcome": actors.WebhookOutcomes()},
		"whalecast_store_size_bytes":         {"part": {"lsm", "vlog"}},
	}
}

// histograms are the whalecast_* histograms with their bucket bounds.
var histograms = map[string][]float64{
	"whalecast_delivery_latency_seconds":     actors.DeliveryLatencyBuckets,
	"whalecast_store_write_duration_seconds": actors.StoreWriteBuckets,
}

// apart are the series of a replay engine whose values depend on timing: they are checked
// apart, not against exact values.
var apart = []string{"whalecast_audit_written_total", "whalecast_source_lag_seconds",
	"whalecast_store_write_duration_seconds"}

// TestMetricsReplay277647 replays block 277647 on a real engine, scrapes /metrics with a
// read API key as Prometheus would, and checks the exact values of the engine's counters, of
// its accuracy monitor and of its labelled families.
func TestMetricsReplay277647(t *testing.T) {
	block, hash, h := chaintest.Block277647(t)
	// Five blocks on top give the block six confirmations: every alert settles confirmed.
	settle := []*wire.MsgBlock{block}
	tip := hash
	for i := range int64(5) {
		var b *wire.MsgBlock
		b, tip = chaintest.BlockOn(tip, h+1+i, 0)
		settle = append(settle, b)
	}

	tests := []struct {
		name   string
		blocks []*wire.MsgBlock
		// want holds every whalecast_* series but those checked apart; one missing from
		// it must be absent.
		want map[string]float64
	}{{
		name:   "block 277647: three alerts confirmed once, too few samples for a ratio",
		blocks: []*wire.MsgBlock{block},
		want: withStats(map[string]float64{
			"whalecast_txs_received_total":          txsIn277647,
			"whalecast_alerts_detected_total":       3,
			"whalecast_alerts_stored_total":         3,
			"whalecast_updates_stored_total":        3,
			"whalecast_alerts_sent_total":           6,
			"whalecast_blocks_connected_total":      1,
			"whalecast_lifecycle_tracked":           3,
			"whalecast_chain_tip_height":            277647,
			alertSeries("large_value", "mempool"):   3,
			alertSeries("large_value", "confirmed"): 3,
		}),
	}, {
		name:   "block 277647 and five more: three alerts settled confirmed, accuracy 1",
		blocks: settle,
		want: withStats(map[string]float64{
			"whalecast_txs_received_total":                  txsIn277647,
			"whalecast_alerts_detected_total":               3,
			"whalecast_alerts_stored_total":                 3,
			"whalecast_updates_stored_total":                6,
			"whalecast_alerts_sent_total":                   9,
			"whalecast_blocks_connected_total":              6,
			"whalecast_lifecycle_tracked":                   0,
			"whalecast_lifecycle_settled_total":             3,
			"whalecast_chain_tip_height":                    277652,
			"whalecast_alert_accuracy_ratio":                1,
			"whalecast_alert_accuracy_samples":              3,
			`whalecast_alert_outcomes{outcome="confirmed"}`: 3,
			alertSeries("large_value", "mempool"):           3,
			alertSeries("large_value", "confirmed"):         6,
		}),
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := replayConfig(t)
			cfg.Source = "replay:" + writeReplay(t, tt.blocks...)
			cfg.Operator.AccuracyMinSamples = 3
			te := startEngine(t, cfg)
			key := readAPIKey(t, te)

			sent := int64(tt.want["whalecast_alerts_sent_total"])
			te.waitLastSeq(t, uint64(sent))
			te.waitTxs(t, txsIn277647)
			// The admin token's first call and the key's creation are audited, and so is
			// the key's first use, by the scrape itself: that one may or may not be
			// written when the scrape reads the counter.
			waitFor(t, "every record sent and 2 audit events written", func() bool {
				s := te.Stats()
				return s.AlertsPublished.Load() >= sent && s.AuditWritten.Load() >= 2 &&
					s.BroadcastLag.Load() == 0
			})
			got := whalecastSeries(t, scrape(t, te, key))
			if n := got["whalecast_audit_written_total"]; n != 2 && n != 3 {
				t.Errorf("whalecast_audit_written_total: got %v, want 2 or 3", n)
			}
			if lag, ok := got["whalecast_source_lag_seconds"]; !ok || lag < 0 {
				t.Errorf("whalecast_source_lag_seconds: got %v (present %v), want >= 0", lag,
					ok)
			}
			writes := got["whalecast_store_write_duration_seconds_count"]
			if writes < 1 || writes > float64(sent) {
				t.Errorf("store writes: got %v, want 1 to %d (group commits)", writes, sent)
			}
			for name := range got {
				if slices.ContainsFunc(apart, func(p string) bool {
					return strings.HasPrefix(name, p)
				}) {
					delete(got, name)
				}
			}
			for _, name := range slices.Sorted(maps.Keys(tt.want)) {
				if v, ok := got[name]; !ok || v != tt.want[name] {
					t.Errorf("%s: got %v (present %v), want %v", name, v, ok, tt.want[name])
				}
			}
			for _, name := range slices.Sorted(maps.Keys(got)) {
				if _, ok := tt.want[name]; !ok {
					t.Errorf("%s: got %v, want no such series", name, got[name])
				}
			}
		})
	}
}

// TestMetricsZMQ checks that an engine on a ZMQ source adds the feed's counters and its
// queue, here while no publisher listens (a replay engine has none: TestMetricsReplay277647).
func TestMetricsZMQ(t *testing.T) {
	cfg := replayConfig(t)
	cfg.Source = freeZMQSource(t)
	te := startEngine(t, cfg)

	got := whalecastSeries(t, scrape(t, te, readAPIKey(t, te)))
	for _, name := range []string{"received", "dropped", "corrupt", "lost", "reconnects",
		"blocks_connected", "blocks_disconnected", "removed", "resyncs", "resync_errors",
		"resync_txs", "fee_errors"} {
		if _, ok := got["whalecast_zmq_"+name+"_total"]; !ok {
			t.Errorf("whalecast_zmq_%s_total: missing", name)
		}
	}
	for name, want := range map[string]float64{
		"whalecast_zmq_received_total":  0,
		"whalecast_zmq_queued_messages": 0,
	} {
		if v, ok := got[name]; !ok || v != want {
			t.Errorf("%s: got %v (present %v) from nobody, want %v", name, v, ok, want)
		}
	}
	if _, ok := got["whalecast_source_lag_seconds"]; ok {
		t.Errorf("whalecast_source_lag_seconds: present before any transaction")
	}
}

// TestMetricsAuth checks that /metrics takes the read permission, like /api/v1/stats.
func TestMetricsAuth(t *testing.T) {
	te := startEngine(t, replayConfig(t))
	tests := []struct {
		name   string
		header http.Header
		want   int
	}{
		{"no credential", nil, 401},
		{"write-only token", authHeader(token(t, "w", auth.PermWrite)), 403},
		{"read token", authHeader(token(t, "r", auth.PermRead)), 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := doHTTP(t, te, http.MethodGet, "/metrics", tt.header, nil); got.status !=
				tt.want {
				t.Errorf("status: got %d (%.200s), want %d", got.status, got.body, tt.want)
			}
		})
	}
}

// withStats returns want with every whalecast_* series a replay engine always has (zero
// unless want says otherwise) but those checked apart: its counters and gauges, every
// value of each fixed label, the built-in detectors under every status, the accuracy
// monitor's samples and outcomes, the delivery latency histogram and the store's size (a
// fresh store measures nothing at open). The ratio is there only when want has it.
func withStats(want map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for _, name := range []string{
		"whalecast_auth_timeouts_total",
		"whalecast_rate_limited_total", "whalecast_slow_consumer_closes_total",
		"whalecast_txs_received_total", "whalecast_tx_decode_errors_total",
		"whalecast_duplicate_txs_total", "whalecast_alerts_detected_total",
		"whalecast_alerts_stored_total", "whalecast_updates_stored_total",
		"whalecast_lifecycle_settled_total", "whalecast_lifecycle_tracked",
		"whalecast_chain_tip_height", "whalecast_blocks_connected_total",
		"whalecast_blocks_disconnected_total", "whalecast_alerts_sent_total",
		"whalecast_alerts_lost_total", "whalecast_deliveries_total",
		"whalecast_store_errors_total", "whalecast_source_errors_total",
		"whalecast_actor_failures_total", "whalecast_tokens_refreshed_total",
		"whalecast_sessions_revoked_total", "whalecast_ip_bans_total",
		"whalecast_audit_dropped_total", "whalecast_store_pending_records",
		"whalecast_broadcast_lag_records", "whalecast_webhook_pending_deliveries",
		"whalecast_outbound_queued_frames", "whalecast_outbound_queued_bytes",
		"whalecast_alert_accuracy_samples",
		"whalecast_alert_accuracy_degraded",
		"whalecast_alert_accuracy_episodes_total",
		`whalecast_store_size_bytes{part="lsm"}`, `whalecast_store_size_bytes{part="vlog"}`,
	} {
		out[name] = 0
	}
	labels := wantLabels()
	for _, family := range []string{"whalecast_connections", "whalecast_alert_outcomes",
		"whalecast_auth_failures_total", "whalecast_actor_restarts_total",
		"whalecast_frames_dropped_total", "whalecast_webhook_deliveries_total"} {
		for name, values := range labels[family] {
			for _, v := range values {
				out[fmt.Sprintf("%s{%s=%q}", family, name, v)] = 0
			}
		}
	}
	alerts := labels["whalecast_alerts_total"]
	for _, d := range alerts["detector"] {
		for _, s := range alerts["status"] {
			out[alertSeries(d, s)] = 0
		}
	}
	name := "whalecast_delivery_latency_seconds"
	out[name+"_count"], out[name+"_sum"] = 0, 0
	for _, le := range append(slices.Clone(histograms[name]), inf) {
		out[bucketSeries(name, le)] = 0
	}
	maps.Copy(out, want)
	return out
}

// inf is the bound of a histogram's last bucket.
var inf = func() float64 { v, _ := strconv.ParseFloat("+Inf", 64); return v }()

func alertSeries(detector, status string) string {
	return fmt.Sprintf("whalecast_alerts_total{detector=%q,status=%q}", detector, status)
}

func bucketSeries(name string, le float64) string {
	return fmt.Sprintf("%s_bucket{le=%q}", name, strconv.FormatFloat(le, 'g', -1, 64))
}

// readAPIKey makes an API key with the read permission through the admin route.
func readAPIKey(tb testing.TB, te *testEngine) string {
	tb.Helper()
	created := doHTTP(tb, te, http.MethodPost, "/api/v1/admin/apikeys",
		authHeader(token(tb, "root", auth.PermAdmin)),
		transport.APIKeyRequest{Client: "prometheus", Perms: []string{"read"}})
	var key transport.NewAPIKeyResponse
	if created.status != http.StatusCreated || json.Unmarshal(created.body, &key) != nil {
		tb.Fatalf("create api key: got %d %s, want 201", created.status, created.body)
	}
	return key.Key
}

// scrape gets /metrics with key as Prometheus would (X-API-Key, its Accept header without
// protobuf), checks the answer's status and content type, and parses it.
func scrape(tb testing.TB, te *testEngine, key string) map[string]*dto.MetricFamily {
	tb.Helper()
	a := doHTTP(tb, te, http.MethodGet, "/metrics", http.Header{
		"X-Api-Key": {key},
		"Accept": {"application/openmetrics-text;version=1.0.0;q=0.5," +
			"text/plain;version=0.0.4;q=0.4,*/*;q=0.1"},
	}, nil)
	if a.status != http.StatusOK {
		tb.Fatalf("GET /metrics: got %d %.200s, want 200", a.status, a.body)
	}
	const wantType = "text/plain; version=0.0.4; charset=utf-8"
	if ct := a.header.Get("Content-Type"); !strings.HasPrefix(ct, wantType) {
		tb.Errorf("Content-Type: got %q, want %q", ct, wantType)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(a.body))
	if err != nil {
		tb.Fatalf("parse /metrics: %v", err)
	}
	for _, name := range []string{"go_goroutines", "process_start_time_seconds"} {
		if families[name] == nil {
			tb.Errorf("%s: missing, want the Go and process collectors", name)
		}
	}
	for name, mf := range families {
		if mf.GetHelp() == "" {
			tb.Errorf("%s: no HELP", name)
		}
	}
	return families
}

// whalecastSeries returns the whalecast_* series of families as `name{a="x",b="y"}` with
// their value; a histogram gives name_count, name_sum and name_bucket{le="..."} (its
// bounds checked against histograms). It fails on a family of the wrong type (wantType)
// and on any label or label value outside wantLabels.
func whalecastSeries(tb testing.TB, families map[string]*dto.MetricFamily) map[string]float64 {
	tb.Helper()
	allowed := wantLabels()
	out := map[string]float64{}
	for name, mf := range families {
		if !strings.HasPrefix(name, "whalecast_") {
			continue
		}
		if want := wantType(name); mf.GetType() != want {
			tb.Errorf("%s: type %v, want %v", name, mf.GetType(), want)
		}
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				if !slices.Contains(allowed[name][l.GetName()], l.GetValue()) {
					tb.Errorf("%s: label %s=%q, want one of %v", name, l.GetName(),
						l.GetValue(), allowed[name][l.GetName()])
				}
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			series := name
			if len(labels) > 0 {
				series += "{" + strings.Join(labels, ",") + "}"
			}
			switch mf.GetType() {
			case dto.MetricType_COUNTER:
				out[series] = m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				out[series] = m.GetGauge().GetValue()
			case dto.MetricType_HISTOGRAM:
				histogramSeries(tb, out, name, m.GetHistogram())
			default:
				tb.Errorf("%s: type %v, want counter, gauge or histogram", name, mf.GetType())
			}
		}
	}
	return out
}

// wantType is the type of a whalecast_* family: the histograms are listed, a counter's
// name ends in _total, anything else is a gauge.
func wantType(name string) dto.MetricType {
	switch {
	case histograms[name] != nil:
		return dto.MetricType_HISTOGRAM
	case strings.HasSuffix(name, "_total"):
		return dto.MetricType_COUNTER
	}
	return dto.MetricType_GAUGE
}

// histogramSeries adds a histogram's series to out, checking its bounds.
func histogramSeries(tb testing.TB, out map[string]float64, name string, h *dto.Histogram) {
	tb.Helper()
	out[name+"_count"] = float64(h.GetSampleCount())
	out[name+"_sum"] = h.GetSampleSum()
	var bounds []float64
	for _, b := range h.GetBucket() {
		bounds = append(bounds, b.GetUpperBound())
		out[bucketSeries(name, b.GetUpperBound())] = float64(b.GetCumulativeCount())
	}
	if want := append(slices.Clone(histograms[name]), inf); !slices.Equal(bounds, want) {
		tb.Errorf("%s: buckets %v, want %v", name, bounds, want)
	}
	out[bucketSeries(name, inf)] = float64(h.GetSampleCount())
}
