package system_test

import (
	"fmt"
	"math"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/whalecast/whalecast/actors"
	"github.com/whalecast/whalecast/internal/auth"
	"github.com/whalecast/whalecast/persistence"
	"github.com/whalecast/whalecast/system"
)

// TestMetricsMoveWithActivity scrapes a real engine before and after real traffic: refused
// credentials on the WebSocket and on REST, test alerts delivered live to a client, and
// webhooks that deliver, fail once then deliver, or refuse for good. Each family moves by
// exactly what the traffic did, every label stays in its fixed set, and /api/v1/stats shows
// the same figures as /metrics.
func TestMetricsMoveWithActivity(t *testing.T) {
	te := startEngine(t, webhookConfig(t, time.Minute))
	te.waitLastSeq(t, lastSeq277647)
	key := readAPIKey(t, te)
	reader := token(t, "reader", auth.PermRead)
	before := whalecastSeries(t, scrape(t, te, key))

	// Three refused credentials, each with its reason.
	ws := dial(t, te.wsURL())
	send(t, ws, authMsg("not-a-token", -1))
	if code, _ := closeCode(t, ws); code != actors.CloseAuthFailed {
		t.Fatalf("bad token: got close %d, want %d", code, actors.CloseAuthFailed)
	}
	if got := doHTTP(t, te, http.MethodGet, "/api/v1/stats", nil, nil); got.status != 401 {
		t.Fatalf("stats without a credential: got %d, want 401", got.status)
	}
	unknown, _ := persistence.NewAPIKey()
	if got := doHTTP(t, te, http.MethodGet, "/api/v1/stats",
		http.Header{"X-Api-Key": {unknown.Reveal()}}, nil); got.status != 401 {
		t.Fatalf("stats with an unknown key: got %d, want 401", got.status)
	}

	// Webhooks that deliver, fail once, and refuse for good; a live client.
	alice := token(t, "alice", auth.PermWrite)
	for _, answer := range []func(int, http.ResponseWriter, *http.Request){
		answerWith(http.StatusNoContent),
		func(n int, w http.ResponseWriter, _ *http.Request) {
			if n == 1 {
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			w.WriteHeader(http.StatusOK)
		},
		answerWith(http.StatusBadRequest),
	} {
		createWebhook(t, te, alice, newCustomerReceiver(t, answer).srv.URL)
	}
	live := dial(t, te.wsURL())
	authenticate(t, live, reader, -1)
	const published = 2
	publishAlerts(t, te, authHeader(token(t, "ops", auth.PermAdmin)), published)
	readRecords(t, live, published)
	waitFor(t, "every webhook attempt resolved", func() bool {
		d := te.Stats().Snapshot(time.Now()).Webhooks
		return d.Pending == 0 && d.Deliveries[actors.WebhookDelivered] == 2*published &&
			d.Deliveries[actors.WebhookDeadLetter] == published
	})
	waitFor(t, "the failed session gone", func() bool {
		return te.Stats().ConnsUnauthenticated.Load() == 0
	})

	after := whalecastSeries(t, scrape(t, te, key))
	latency := "whalecast_delivery_latency_seconds_count"
	if got := after[latency] - before[latency]; got < 1 || got > published {
		t.Errorf("%s: moved by %v, want 1 to %d (one per socket write)", latency, got,
			published)
	}
	want := map[string]float64{
		`whalecast_auth_failures_total{reason="malformed"}`:           1,
		`whalecast_auth_failures_total{reason="missing_credentials"}`: 1,
		`whalecast_auth_failures_total{reason="unknown_api_key"}`:     1,
		alertSeries("test", "mempool"):                                published,
		"whalecast_alerts_stored_total":                               published,
		"whalecast_alerts_sent_total":                                 published,
		"whalecast_deliveries_total":                                  published,
		`whalecast_connections{state="authenticated"}`:                1,
		`whalecast_webhook_deliveries_total{outcome="delivered"}`:     2 * published,
		`whalecast_webhook_deliveries_total{outcome="retry"}`:         1,
		`whalecast_webhook_deliveries_total{outcome="dead_letter"}`:   published,
		// Not moved: nothing dropped, refused by the guard, queued or restarted.
		`whalecast_frames_dropped_total{reason="queue_full"}`:   0,
		`whalecast_webhook_deliveries_total{outcome="refused"}`: 0,
		"whalecast_webhook_pending_deliveries":                  0,
		"whalecast_store_pending_records":                       0,
		`whalecast_actor_restarts_total{actor="other"}`:         0,
		`whalecast_auth_failures_total{reason="other"}`:         0,
		`whalecast_connections{state="unauthenticated"}`:        0,
		"whalecast_outbound_queued_frames":                      0,
	}
	for name, w := range want {
		if got := after[name] - before[name]; got != w {
			t.Errorf("%s: moved by %v (%v to %v), want %v", name, got, before[name],
				after[name], w)
		}
	}

	checkStatsMatchMetrics(t, te, key, reader)
}

// checkStatsMatchMetrics reads /api/v1/stats and /metrics of a quiet engine and checks
// that they show the same figures.
func checkStatsMatchMetrics(tb testing.TB, te *testEngine, key, tok string) {
	tb.Helper()
	var stats actors.Snapshot
	if code := getJSON(tb, te, "/api/v1/stats", tok, &stats); code != http.StatusOK {
		tb.Fatalf("GET /api/v1/stats: got %d, want 200", code)
	}
	got := whalecastSeries(tb, scrape(tb, te, key))
	check := func(series string, want int64) {
		tb.Helper()
		if v, ok := got[series]; !ok || v != float64(want) {
			tb.Errorf("%s: metrics %v (present %v), stats %d", series, v, ok, want)
		}
	}
	for name, v := range map[string]int64{
		`whalecast_connections{state="authenticated"}`:   stats.Connections.Authenticated,
		`whalecast_connections{state="unauthenticated"}`: stats.Connections.Unauthenticated,
		"whalecast_auth_timeouts_total":                  stats.AuthTimeouts,
		"whalecast_slow_consumer_closes_total":           stats.SlowConsumerCloses,
		"whalecast_txs_received_total":                   stats.TxsReceived,
		"whalecast_alerts_detected_total":                stats.AlertsDetected,
		"whalecast_alerts_stored_total":                  stats.AlertsStored,
		"whalecast_updates_stored_total":                 stats.UpdatesStored,
		"whalecast_alerts_sent_total":                    stats.AlertsSent,
		"whalecast_deliveries_total":                     stats.Deliveries,
		"whalecast_actor_failures_total":                 stats.ActorFailures,
		"whalecast_lifecycle_tracked":                    stats.Lifecycle.Tracked,
		"whalecast_chain_tip_height":                     stats.Lifecycle.ChainTip,
		"whalecast_store_pending_records":                stats.Queues.StorePending,
		"whalecast_broadcast_lag_records":                stats.Queues.BroadcastLag,
		"whalecast_outbound_queued_frames":               stats.Queues.OutboundFrames,
		"whalecast_outbound_queued_bytes":                stats.Queues.OutboundBytes,
		"whalecast_webhook_pending_deliveries":           stats.Webhooks.Pending,
		`whalecast_store_size_bytes{part="lsm"}`:         stats.Store.LSMBytes,
		`whalecast_store_size_bytes{part="vlog"}`:        stats.Store.VlogBytes,
	} {
		check(name, v)
	}
	var reasons, restarts int64
	for r, n := range stats.AuthFailuresByReason {
		check(fmt.Sprintf("whalecast_auth_failures_total{reason=%q}", r), n)
		reasons += n
	}
	for a, n := range stats.ActorRestartsByActor {
		check(fmt.Sprintf("whalecast_actor_restarts_total{actor=%q}", a), n)
		restarts += n
	}
	for r, n := range stats.FramesDropped {
		check(fmt.Sprintf("whalecast_frames_dropped_total{reason=%q}", r), n)
	}
	for o, n := range stats.Webhooks.Deliveries {
		check(fmt.Sprintf("whalecast_webhook_deliveries_total{outcome=%q}", o), n)
	}
	for d, byStatus := range stats.AlertsByDetector {
		for s, n := range byStatus {
			check(alertSeries(d, s), n)
		}
	}
	for name, h := range map[string]actors.HistogramSnapshot{
		"whalecast_delivery_latency_seconds":     stats.DeliveryLatency,
		"whalecast_store_write_duration_seconds": stats.Store.WriteDuration,
	} {
		check(name+"_count", int64(h.Count))
		for _, b := range h.Buckets {
			check(bucketSeries(name, b.LE), int64(b.Count))
		}
	}
	if reasons != stats.AuthFailures || restarts != stats.ActorRestarts {
		tb.Errorf("stats: %d auth failures by reason and %d restarts by actor, want the "+
			"totals %d and %d", reasons, restarts, stats.AuthFailures, stats.ActorRestarts)
	}
	lag, ok := got["whalecast_source_lag_seconds"]
	if stats.SourceLagSeconds == nil || !ok || math.Abs(*stats.SourceLagSeconds-lag) > 5 {
		tb.Errorf("source lag: stats %v, metrics %v (present %v), want both, close",
			stats.SourceLagSeconds, lag, ok)
	}
}

// TestMetricsSlowConsumer fills the queue of a client that never reads, on an engine that
// alerts on every simulated transaction: the slow consumer close, the frames its full queue
// refused and the deliveries before it show in /metrics, under labels of the fixed sets.
func TestMetricsSlowConsumer(t *testing.T) {
	cfg := replayConfig(t)
	cfg.Source = "sim"
	cfg.MinBTC = 0
	cfg.Rate = 20_000
	te := startEngine(t, cfg)
	key := readAPIKey(t, te)
	c := dial(t, te.wsURL())
	authenticate(t, c, token(t, "sloth", auth.PermRead), -1)

	waitFor(t, "a slow consumer close", func() bool {
		return te.Stats().SlowConsumerCloses.Load() > 0
	})
	got := whalecastSeries(t, scrape(t, te, key))
	for _, name := range []string{"whalecast_slow_consumer_closes_total",
		`whalecast_frames_dropped_total{reason="queue_full"}`, "whalecast_deliveries_total",
		"whalecast_delivery_latency_seconds_count", "whalecast_store_write_duration_seconds_count",
	} {
		if got[name] < 1 {
			t.Errorf("%s: got %v, want at least 1", name, got[name])
		}
	}
	var stored float64
	for _, d := range actors.BuiltinRegistry().Names() {
		stored += got[alertSeries(d, "mempool")]
	}
	if stored < 1 {
		t.Errorf("alerts of the built-in detectors: got %v, want some", stored)
	}
}

// TestMetricsActorRestart makes the detector panic once: the restart is counted under the
// detector, and only there.
func TestMetricsActorRestart(t *testing.T) {
	var panicked atomic.Bool
	te := startHooked(t, replayConfig(t), system.Hooks{
		DetectorPanic: func(string) bool { return panicked.CompareAndSwap(false, true) },
	}, &syncBuffer{})
	waitFor(t, "the detector restarted", func() bool {
		return te.Stats().ActorRestarts.Load() == 1
	})
	got := whalecastSeries(t, scrape(t, te, readAPIKey(t, te)))
	for _, a := range actors.ActorLabels() {
		name, want := fmt.Sprintf("whalecast_actor_restarts_total{actor=%q}", a), 0.0
		if a == "detector" {
			want = 1
		}
		if got[name] != want {
			t.Errorf("%s: got %v, want %v", name, got[name], want)
		}
	}
	if n := got["whalecast_actor_failures_total"]; n != 1 {
		t.Errorf("whalecast_actor_failures_total: got %v, want 1", n)
	}
}
