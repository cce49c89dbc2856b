package system_test

import (
	"bytes"
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/wire/v2"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/whalecast/whalecast/internal/auth"
	"github.com/whalecast/whalecast/internal/chaintest"
	"github.com/whalecast/whalecast/transport"
)

// wantLabels is every label value a whalecast_* metric may have: labels take fixed sets of
// values, never a client, a txid or anything a caller chooses.
var wantLabels = map[string]map[string][]string{
	"whalecast_connections":    {"state": {"authenticated", "unauthenticated"}},
	"whalecast_alert_outcomes": {"outcome": {"confirmed", "conflicted", "dropped", "replaced"}},
}

// TestMetricsReplay277647 replays block 277647 on a real engine, scrapes /metrics with a
// read API key as Prometheus would, and checks the exact values of the engine's counters and
// of its accuracy monitor.
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
		// want holds every whalecast_* series; one missing from it must be absent.
		want map[string]float64
	}{{
		name:   "block 277647: three alerts confirmed once, too few samples for a ratio",
		blocks: []*wire.MsgBlock{block},
		want: withStats(map[string]float64{
			"whalecast_txs_received_total":     txsIn277647,
			"whalecast_alerts_detected_total":  3,
			"whalecast_alerts_stored_total":    3,
			"whalecast_updates_stored_total":   3,
			"whalecast_alerts_sent_total":      6,
			"whalecast_blocks_connected_total": 1,
			"whalecast_lifecycle_tracked":      3,
			"whalecast_chain_tip_height":       277647,
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
				return s.AlertsPublished.Load() >= sent && s.AuditWritten.Load() >= 2
			})
			got := whalecastSeries(t, scrape(t, te, key))
			if n := got["whalecast_audit_written_total"]; n != 2 && n != 3 {
				t.Errorf("whalecast_audit_written_total: got %v, want 2 or 3", n)
			}
			got["whalecast_audit_written_total"] = 0
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

// TestMetricsZMQ checks that an engine on a ZMQ source adds the feed's counters, here
// while no publisher listens (a replay engine has none: TestMetricsReplay277647).
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
	if n := got["whalecast_zmq_received_total"]; n != 0 {
		t.Errorf("whalecast_zmq_received_total: got %v from nobody, want 0", n)
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
// unless want says otherwise): its counters, both connection states, and the accuracy
// monitor's samples and outcomes. The ratio is there only when want has it. The audit
// counter, checked apart, is zero here.
func withStats(want map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for _, name := range []string{
		"whalecast_auth_failures_total", "whalecast_auth_timeouts_total",
		"whalecast_rate_limited_total", "whalecast_slow_consumer_closes_total",
		"whalecast_txs_received_total", "whalecast_tx_decode_errors_total",
		"whalecast_duplicate_txs_total", "whalecast_alerts_detected_total",
		"whalecast_alerts_stored_total", "whalecast_updates_stored_total",
		"whalecast_lifecycle_settled_total", "whalecast_lifecycle_tracked",
		"whalecast_chain_tip_height", "whalecast_blocks_connected_total",
		"whalecast_blocks_disconnected_total", "whalecast_alerts_sent_total",
		"whalecast_alerts_lost_total", "whalecast_deliveries_total",
		"whalecast_store_errors_total", "whalecast_source_errors_total",
		"whalecast_actor_failures_total", "whalecast_actor_restarts_total",
		"whalecast_tokens_refreshed_total", "whalecast_sessions_revoked_total",
		"whalecast_ip_bans_total", "whalecast_audit_written_total",
		"whalecast_audit_dropped_total",
		`whalecast_connections{state="authenticated"}`,
		`whalecast_connections{state="unauthenticated"}`,
		"whalecast_alert_accuracy_samples",
		`whalecast_alert_outcomes{outcome="confirmed"}`,
		`whalecast_alert_outcomes{outcome="replaced"}`,
		`whalecast_alert_outcomes{outcome="conflicted"}`,
		`whalecast_alert_outcomes{outcome="dropped"}`,
		"whalecast_alert_accuracy_degraded",
		"whalecast_alert_accuracy_episodes_total",
	} {
		out[name] = 0
	}
	maps.Copy(out, want)
	return out
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

// whalecastSeries returns the whalecast_* series of families as `name{label="value"}`
// with their value, failing on any label value outside wantLabels.
func whalecastSeries(tb testing.TB, families map[string]*dto.MetricFamily) map[string]float64 {
	tb.Helper()
	out := map[string]float64{}
	for name, mf := range families {
		if !strings.HasPrefix(name, "whalecast_") {
			continue
		}
		for _, m := range mf.GetMetric() {
			series := name
			for _, l := range m.GetLabel() {
				if !slices.Contains(wantLabels[name][l.GetName()], l.GetValue()) {
					tb.Errorf("%s: label %s=%q, want one of %v", name, l.GetName(),
						l.GetValue(), wantLabels[name][l.GetName()])
				}
				series += "{" + l.GetName() + "=\"" + l.GetValue() + "\"}"
			}
			switch mf.GetType() {
			case dto.MetricType_COUNTER:
				out[series] = m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				out[series] = m.GetGauge().GetValue()
			default:
				tb.Errorf("%s: type %v, want counter or gauge", name, mf.GetType())
			}
		}
	}
	return out
}
