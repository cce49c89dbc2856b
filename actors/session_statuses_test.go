package actors_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/whalecast/whalecast/actors"
	"github.com/whalecast/whalecast/internal/alert"
	"github.com/whalecast/whalecast/internal/auth"
)

// publishUpdate sends an update of the alert a to the store, as the tracker would.
func (e *engine) publishUpdate(a alert.Alert, status, previous alert.Status) {
	u := alert.Update{TxID: a.TxID, Status: status, Previous: previous, Detector: a.Detector,
		ValueSat: a.ValueSat, At: time.Now()}
	e.sys.Root.Send(e.store, &actors.Candidate{Record: alert.Record{Update: &u}})
}

// lifecycleRecords publishes seqs 1 to 6: alert A, alert B (5 BTC), A confirmed, B replaced,
// a test alert, A confirmed and final.
func lifecycleRecords(t *testing.T, e *engine) {
	t.Helper()
	a, b := whale(1, 200), whale(2, 5)
	e.publish(a, b)
	e.publishUpdate(a, alert.StatusConfirmed, alert.StatusMempool)
	e.publishUpdate(b, alert.StatusReplaced, alert.StatusMempool)
	e.publish(actors.NewTestAlert(testStart))
	e.publishUpdate(a, alert.StatusConfirmed, alert.StatusConfirmed)
	e.waitPublished(t, 6)
}

// typedSeqs returns "type:seq" for each frame.
func typedSeqs(frames []serverFrame) string {
	out := ""
	for _, f := range frames {
		out += fmt.Sprintf("%s:%d ", f.Type, f.Seq)
	}
	return out
}

func TestSubscribeStatusesFiltersLiveAndReplay(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		subscribe string
		want      string
	}{
		{name: "no filter: every record",
			subscribe: `{"type":"subscribe","min_btc":0}`,
			want: "whale_alert:1 whale_alert:2 alert_update:3 alert_update:4 " +
				"whale_alert:5 alert_update:6 "},
		{name: "only confirmations, and the test alert",
			subscribe: `{"type":"subscribe","min_btc":0,"statuses":["confirmed"]}`,
			want:      "alert_update:3 whale_alert:5 alert_update:6 "},
		{name: "new alerts and replacements",
			subscribe: `{"type":"subscribe","min_btc":0,"statuses":["mempool","replaced"]}`,
			want:      "whale_alert:1 whale_alert:2 alert_update:4 whale_alert:5 "},
		{name: "the threshold applies to updates too",
			subscribe: `{"type":"subscribe","min_btc":10}`,
			want:      "whale_alert:1 alert_update:3 whale_alert:5 alert_update:6 "},
	}
	for _, tt := range tests {
		t.Run("live: "+tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEngine(t, engineConfig{})
			peer := newFakePeer(0)
			pid, _ := e.connect(t, peer, auth.PermRead, auth.PermWrite)
			e.send(pid, tt.subscribe)
			if got := peer.next(t, 1)[0]; got.Type != "subscribed" {
				t.Fatalf("subscribe answered %q, want subscribed", got.Type)
			}
			lifecycleRecords(t, e)
			e.send(pid, `{"type":"ping"}`)
			if got := typedSeqs(peer.nextUntil(t, "pong")); got != tt.want+"pong:0 " {
				t.Errorf("got %s\nwant %spong:0", got, tt.want)
			}
		})
		t.Run("replay: "+tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEngine(t, engineConfig{Session: actors.SessionConfig{NoAuth: true}})
			lifecycleRecords(t, e)
			peer := newFakePeer(0)
			pid := e.startSession(t, peer)
			peer.next(t, 2)
			e.send(pid, tt.subscribe)
			peer.next(t, 1)
			e.send(pid, `{"type":"auth","token":"unused","since":0}`)
			peer.next(t, 1)
			e.send(pid, `{"type":"ping"}`)
			if got := typedSeqs(peer.nextUntil(t, "pong")); got != tt.want+"pong:0 " {
				t.Errorf("got %s\nwant %spong:0", got, tt.want)
			}
		})
	}
}

func TestSubscribeStatusesValidation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		statuses string
		want     string
	}{
		{"one status", `["confirmed"]`, "subscribed"},
		{"every status", `["mempool","confirmed","replaced","conflicted","dropped",` +
			`"reorged"]`, "subscribed"},
		{"unknown status", `["lost"]`, "error:bad_request"},
		{"repeated status", `["confirmed","confirmed"]`, "error:bad_request"},
		{"empty array", `[]`, "error:bad_request"},
		{"not strings", `[1]`, "error:bad_request"},
		{"not an array", `"confirmed"`, "error:bad_request"},
		{"wrong case", `["Confirmed"]`, "error:bad_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEngine(t, engineConfig{})
			peer := newFakePeer(0)
			pid, _ := e.connect(t, peer, auth.PermRead, auth.PermWrite)
			e.send(pid, `{"type":"subscribe","min_btc":1,"statuses":`+tt.statuses+`}`)
			f := peer.next(t, 1)[0]
			got := f.Type
			if f.Type == "error" {
				got += ":" + f.Code
			}
			if got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}
