package actors

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/whalecast/whalecast/internal/alert"
	"github.com/whalecast/whalecast/internal/notify"
	"github.com/whalecast/whalecast/persistence"
)

func TestHistogram(t *testing.T) {
	tests := []struct {
		name    string
		observe []time.Duration
		// want is each bucket's cumulative count, for bounds 1 ms, 10 ms, 100 ms.
		want      []uint64
		wantCount uint64
		wantSum   float64
	}{
		{"empty", nil, []uint64{0, 0, 0}, 0, 0},
		{"a bound belongs to its bucket", []time.Duration{time.Millisecond}, []uint64{1, 1, 1},
			1, 0.001},
		{"just over a bound", []time.Duration{time.Millisecond + 1}, []uint64{0, 1, 1}, 1,
			0.001000001},
		{"above every bound", []time.Duration{time.Second, 2 * time.Second},
			[]uint64{0, 0, 0}, 2, 3},
		{"negative counts as zero", []time.Duration{-time.Second}, []uint64{1, 1, 1}, 1, 0},
		{"spread", []time.Duration{0, 5 * time.Millisecond, 50 * time.Millisecond,
			time.Minute}, []uint64{1, 2, 3}, 4, 60.055},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := NewHistogram([]float64{0.001, 0.01, 0.1})
			for _, d := range tt.observe {
				h.Observe(d)
			}
			got := h.Snapshot()
			var counts []uint64
			for _, b := range got.Buckets {
				counts = append(counts, b.Count)
			}
			if fmt.Sprint(counts) != fmt.Sprint(tt.want) || got.Count != tt.wantCount ||
				fmt.Sprintf("%.9f", got.SumSeconds) != fmt.Sprintf("%.9f", tt.wantSum) {
				t.Errorf("got buckets %v count %d sum %v, want %v %d %v", counts, got.Count,
					got.SumSeconds, tt.want, tt.wantCount, tt.wantSum)
			}
		})
	}
}

func TestHistogramNil(t *testing.T) {
	var h *Histogram
	h.Observe(time.Second)
	if got := h.Snapshot(); got.Count != 0 || len(got.Buckets) != 0 || got.Buckets == nil {
		t.Errorf("nil histogram: got %+v, want an empty snapshot with a non-nil bucket list",
			got)
	}
}

func TestFrameSeq(t *testing.T) {
	tests := []struct {
		name    string
		frame   []byte
		want    uint64
		wantOK  bool
		comment string
	}{
		{name: "whale_alert", frame: alert.Frame(alert.Stored{Seq: 42, Kind: alert.KindAlert,
			Data: []byte(`{"txid":"ab"}`)}), want: 42, wantOK: true},
		{name: "alert_update", frame: alert.Frame(alert.Stored{Seq: 18446744073,
			Kind: alert.KindUpdate, Data: []byte(`{}`)}), want: 18446744073, wantOK: true},
		{name: "welcome", frame: []byte(`{"type":"welcome","seq":3,"version":"x"}`)},
		{name: "error", frame: []byte(`{"type":"error","code":"slow_consumer"}`)},
		{name: "no digits", frame: []byte(`{"type":"whale_alert","seq":,"data":{}}`)},
		{name: "cut short", frame: []byte(`{"type":"whale_alert","seq":12`)},
		{name: "not a number", frame: []byte(`{"type":"whale_alert","seq":"12","data":{}}`)},
		{name: "too many digits", frame: []byte(`{"type":"whale_alert","seq":` +
			strings.Repeat("9", 20) + `,"data":{}}`)},
		{name: "empty", frame: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := frameSeq(tt.frame)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("frameSeq(%q): got %d %v, want %d %v", tt.frame, got, ok, tt.want,
					tt.wantOK)
			}
		})
	}
}

// TestDurableAt checks that a socket write finds when its oldest record became durable,
// and finds nothing for records whose slot a newer record took, or for frames that are not
// records.
func TestDurableAt(t *testing.T) {
	s := NewStats(time.Now())
	frame := func(seq uint64) []byte {
		return alert.Frame(alert.Stored{Seq: seq, Kind: alert.KindAlert, Data: []byte(`{}`)})
	}
	welcome := []byte(`{"type":"welcome","seq":0}`)
	s.MarkDurable([]alert.Stored{{Seq: 5}, {Seq: 6}})
	time.Sleep(time.Millisecond)
	s.MarkDurable([]alert.Stored{{Seq: 7}, {Seq: 5 + durableSlots}})

	at5, at6, at7 := s.DurableAt([][]byte{frame(5)}), s.DurableAt([][]byte{frame(6)}),
		s.DurableAt([][]byte{frame(7)})
	switch {
	case at5 != 0:
		t.Errorf("seq 5, whose slot seq %d took: got %d, want 0", 5+durableSlots, at5)
	case at6 == 0 || at7 == 0 || at7 <= at6:
		t.Errorf("seqs 6 and 7: got %d and %d, want two times, 7's later", at6, at7)
	}
	if got := s.DurableAt([][]byte{welcome, frame(7), frame(6)}); got != at7 {
		t.Errorf("a write of a welcome, 7 and 6: got %d, want 7's time %d", got, at7)
	}
	if got := s.DurableAt([][]byte{welcome}); got != 0 {
		t.Errorf("a write without records: got %d, want 0", got)
	}
	if got := s.DurableAt([][]byte{frame(99)}); got != 0 {
		t.Errorf("a record never marked: got %d, want 0", got)
	}

	s.ObserveDelivered(0)
	s.ObserveDelivered(at6)
	if got := s.DeliveryLatency.Snapshot(); got.Count != 1 || got.SumSeconds <= 0 {
		t.Errorf("delivery latency: got %+v, want one positive sample", got)
	}
	var none *Stats
	if got := none.DurableAt([][]byte{frame(6)}); got != 0 {
		t.Errorf("nil stats: got %d, want 0", got)
	}
	none.ObserveDelivered(at6)
}

// TestAlertLabelsBounded feeds records of more detectors than MaxDetectorLabels: the first
// ones get a label of their own, the rest count as other.
func TestAlertLabelsBounded(t *testing.T) {
	s := NewStats(time.Now())
	seeded := len(BuiltinRegistry().Names()) + 2
	for i := range 2 * MaxDetectorLabels {
		s.countRecords([]Entry{{Meta: Meta{Detector: fmt.Sprintf("rule_%d", i),
			Status: alert.StatusMempool}}})
	}
	got := s.Snapshot(time.Now()).AlertsByDetector
	if len(got) != MaxDetectorLabels+1 {
		t.Errorf("detector labels: got %d, want %d and other", len(got), MaxDetectorLabels)
	}
	own := MaxDetectorLabels - seeded
	if n := got[labelOther][string(alert.StatusMempool)]; n != int64(2*MaxDetectorLabels-own) {
		t.Errorf("other: got %d, want %d", n, 2*MaxDetectorLabels-own)
	}
	if n := got["rule_0"][string(alert.StatusMempool)]; n != 1 {
		t.Errorf("rule_0: got %d, want 1", n)
	}
}

func TestActorLabel(t *testing.T) {
	tests := []struct{ id, want string }{
		{"whalecast/store", "store"},
		{"whalecast/test-alerts", "test-alerts"},
		{"whalecast/sessions", "sessions"},
		{"whalecast/sessions/$42", "session"},
		{"whalecast/something", "other"},
		{"$7", "other"},
		{"", "other"},
	}
	for _, tt := range tests {
		if got := actorLabel(tt.id); got != tt.want {
			t.Errorf("actorLabel(%q): got %q, want %q", tt.id, got, tt.want)
		}
	}
}

// TestSnapshotMatchesCollector checks that /api/v1/stats and /metrics show the same figures:
// each labelled count, the totals they split, the queues and the histograms.
func TestSnapshotMatchesCollector(t *testing.T) {
	s := NewStats(time.Now())
	for _, r := range []string{"expired", "expired", "bad_signature", "nonsense"} {
		s.AuthFailed(r)
	}
	s.ActorRestarted("whalecast/broadcaster")
	s.FramesDropped(DropQueueFull, 4)
	s.countWebhookOutcome(WebhookRetry)
	s.countRecords([]Entry{{Meta: Meta{Detector: "value_moved", Status: "reorged"}}})
	s.StorePending.Store(3)
	s.BroadcastLag.Store(9)
	s.WebhooksPending.Store(2)
	s.DeliveryLatency.Observe(30 * time.Millisecond)
	s.StoreWrite.Observe(2 * time.Millisecond)
	s.watchStore(fixedSize{lsm: 10, vlog: 20})

	snap := s.Snapshot(time.Now())
	series := gatherSeries(t, NewCollector(s, nil))
	var sumReasons, sumActors int64
	check := func(name string, got int64) {
		t.Helper()
		if want, ok := series[name]; !ok || float64(got) != want {
			t.Errorf("%s: snapshot %d, metrics %v (present %v)", name, got, want, ok)
		}
	}
	for r, n := range snap.AuthFailuresByReason {
		check(fmt.Sprintf("whalecast_auth_failures_total{reason=%q}", r), n)
		sumReasons += n
	}
	for a, n := range snap.ActorRestartsByActor {
		check(fmt.Sprintf("whalecast_actor_restarts_total{actor=%q}", a), n)
		sumActors += n
	}
	for r, n := range snap.FramesDropped {
		check(fmt.Sprintf("whalecast_frames_dropped_total{reason=%q}", r), n)
	}
	for o, n := range snap.Webhooks.Deliveries {
		check(fmt.Sprintf("whalecast_webhook_deliveries_total{outcome=%q}", o), n)
	}
	for d, byStatus := range snap.AlertsByDetector {
		for st, n := range byStatus {
			check(alertSeries(d, st), n)
		}
	}
	check("whalecast_store_pending_records", snap.Queues.StorePending)
	check("whalecast_broadcast_lag_records", snap.Queues.BroadcastLag)
	check("whalecast_webhook_pending_deliveries", snap.Webhooks.Pending)
	check(`whalecast_store_size_bytes{part="lsm"}`, snap.Store.LSMBytes)
	check(`whalecast_store_size_bytes{part="vlog"}`, snap.Store.VlogBytes)
	for name, h := range map[string]HistogramSnapshot{
		"whalecast_delivery_latency_seconds":     snap.DeliveryLatency,
		"whalecast_store_write_duration_seconds": snap.Store.WriteDuration,
	} {
		check(name+"_count", int64(h.Count))
		for _, b := range h.Buckets {
			check(bucketSeries(name, b.LE), int64(b.Count))
		}
	}
	if sumReasons != snap.AuthFailures || sumActors != snap.ActorRestarts {
		t.Errorf("by reason %d, by actor %d: want the totals %d and %d", sumReasons,
			sumActors, snap.AuthFailures, snap.ActorRestarts)
	}
	if snap.SourceLagSeconds != nil {
		t.Errorf("source lag before any transaction: got %v, want null",
			*snap.SourceLagSeconds)
	}
}

func TestWebhookOutcome(t *testing.T) {
	blocked := &notify.DeliveryError{Op: "webhook", Err: fmt.Errorf("dial: %w",
		&notify.BlockedError{Addr: netip.MustParseAddr("127.0.0.1"), Range: "loopback"})}
	tests := []struct {
		name    string
		outcome string
		err     error
		want    string
	}{
		{"delivered", persistence.OutcomeDelivered, nil, WebhookDelivered},
		{"retry", persistence.OutcomeRetry, &notify.DeliveryError{StatusCode: 503},
			WebhookRetry},
		{"dead letter", persistence.OutcomeDeadLetter, &notify.DeliveryError{StatusCode: 400},
			WebhookDeadLetter},
		{"refused by the guard", persistence.OutcomeDeadLetter, blocked, WebhookRefused},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := webhookOutcome(tt.outcome, tt.err); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// BenchmarkDeliverySample measures what a socket write pays for the delivery latency:
// finding its oldest record's durable time and observing the latency, with no allocation.
func BenchmarkDeliverySample(b *testing.B) {
	s := NewStats(time.Now())
	frames := make([][]byte, 4)
	for i := range frames {
		st := alert.Stored{Seq: uint64(i + 1), Kind: alert.KindAlert,
			Data: []byte(`{"txid":"00","value_sat":1}`)}
		s.MarkDurable([]alert.Stored{st})
		frames[i] = alert.Frame(st)
	}
	b.ReportAllocs()
	for b.Loop() {
		s.ObserveDelivered(s.DurableAt(frames))
	}
}
