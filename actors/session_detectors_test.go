package actors_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/whalecast/whalecast/actors"
	"github.com/whalecast/whalecast/internal/alert"
	"github.com/whalecast/whalecast/internal/auth"
)

// raisedBy returns a 200 BTC alert of detector whose txid is derived from i.
func raisedBy(i int, detector string) alert.Alert {
	a := whale(i, 200)
	a.Detector = detector
	return a
}

// mixedAlerts are seqs 1 to 5: large_value, consolidation, value_moved, a test alert, and
// a consolidation of 5 BTC.
func mixedAlerts() []alert.Alert {
	small := raisedBy(5, "consolidation")
	small.ValueSat = 5 * alert.SatPerBTC
	return []alert.Alert{raisedBy(1, "large_value"), raisedBy(2, "consolidation"),
		raisedBy(3, "value_moved"), actors.NewTestAlert(testStart), small}
}

func TestSubscribeDetectorsFiltersLiveAlerts(t *testing.T) {
	t.Parallel()
	e := newEngine(t, engineConfig{})
	everything := newFakePeer(0)
	e.connect(t, everything, auth.PermRead)
	filtered := newFakePeer(0)
	pid, _ := e.connect(t, filtered, auth.PermRead, auth.PermWrite)
	e.send(pid, `{"type":"subscribe","min_btc":10,"detectors":["consolidation","value_moved"]}`)
	got := filtered.nextRaw(t, 1)[0]
	want := `{"type":"subscribed","min_btc":10,"detectors":["consolidation","value_moved"]}`
	if string(got) != want {
		t.Fatalf("subscribe answered %s, want %s", got, want)
	}

	e.publish(mixedAlerts()...)
	e.waitPublished(t, 5)
	waitFor(t, "every delivery", func() bool { return e.stats.Deliveries.Load() == 5+3 })
	if seqs := seqsOf(t, everything.next(t, 5)); fmt.Sprint(seqs) != "[1 2 3 4 5]" {
		t.Errorf("unfiltered session got seqs %v, want [1 2 3 4 5]", seqs)
	}
	e.send(pid, `{"type":"ping"}`)
	frames := filtered.next(t, 4)
	if seqs := seqsOf(t, frames[:3]); fmt.Sprint(seqs) != "[2 3 4]" {
		t.Errorf("filtered session got seqs %v, want [2 3 4] (consolidation, value_moved, "+
			"the test alert; not large_value, not the 5 BTC consolidation)", seqs)
	}
	if frames[3].Type != "pong" {
		t.Errorf("after the alerts got %q, want pong and nothing else", frames[3].Type)
	}

	e.send(pid, `{"type":"subscribe","min_btc":0}`)
	if got := filtered.next(t, 1)[0]; got.Type != "subscribed" {
		t.Fatalf("second subscribe answered %q, want subscribed", got.Type)
	}
	e.publish(raisedBy(6, "large_value"))
	if seqs := seqsOf(t, filtered.next(t, 1)); fmt.Sprint(seqs) != "[6]" {
		t.Errorf("after a subscribe without detectors got seqs %v, want [6]", seqs)
	}
}

func TestSubscribeDetectorsFiltersReplay(t *testing.T) {
	t.Parallel()
	e := newEngine(t, engineConfig{Session: actors.SessionConfig{NoAuth: true}})
	e.publish(mixedAlerts()...)
	e.waitPublished(t, 5)

	peer := newFakePeer(0)
	pid := e.startSession(t, peer)
	if got := peer.next(t, 2); got[1].Type != "welcome" {
		t.Fatalf("no-auth session opened with %q, want welcome", got[1].Type)
	}
	e.send(pid, `{"type":"subscribe","min_btc":0,"detectors":["large_value"]}`)
	if got := peer.next(t, 1)[0]; got.Type != "subscribed" {
		t.Fatalf("subscribe answered %q, want subscribed", got.Type)
	}
	e.send(pid, `{"type":"auth","token":"unused","since":0}`)
	if got := peer.next(t, 1)[0]; got.Type != "auth_success" {
		t.Fatalf("resume answered %q, want auth_success", got.Type)
	}
	e.send(pid, `{"type":"ping"}`)
	frames := peer.next(t, 3)
	if seqs := seqsOf(t, frames[:2]); fmt.Sprint(seqs) != "[1 4]" {
		t.Errorf("replay got seqs %v, want [1 4] (large_value and the test alert)", seqs)
	}
	if frames[2].Type != "pong" {
		t.Errorf("after the replay got %q, want pong and nothing else", frames[2].Type)
	}
}

func TestSubscribeDetectorsValidation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		detectors string
		want      string // the answer's type and, for an error, its code
	}{
		{"one known", `["large_output"]`, "subscribed"},
		{"every built-in", `["large_value","large_output","value_moved","consolidation"]`,
			"subscribed"},
		{"known but not enabled is still known", `["consolidation"]`, "subscribed"},
		{"unknown name", `["tx_storm"]`, "error:bad_request"},
		{"the test pseudo-detector", `["test"]`, "error:bad_request"},
		{"empty list", `[]`, "error:bad_request"},
		{"not a list", `"large_value"`, "error:bad_request"},
		{"null", `null`, "error:bad_request"},
		{"a number inside", `["large_value",1]`, "error:bad_request"},
		{"uppercase", `["LARGE_VALUE"]`, "error:bad_request"},
		{"too long a name", `["` + strings.Repeat("a", actors.MaxDetectorName+1) + `"]`,
			"error:bad_request"},
		{"too many names", `[` + strings.TrimSuffix(strings.Repeat(`"large_value",`,
			actors.MaxDetectorFilter+1), ",") + `]`, "error:bad_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEngine(t, engineConfig{})
			peer := newFakePeer(0)
			pid, _ := e.connect(t, peer, auth.PermRead, auth.PermWrite)
			e.send(pid, `{"type":"subscribe","min_btc":1,"detectors":`+tt.detectors+`}`)
			if got := answers(peer.next(t, 1)); fmt.Sprint(got) != "["+tt.want+"]" {
				t.Errorf("got %v, want [%s]", got, tt.want)
			}
		})
	}
}
