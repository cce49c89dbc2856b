package actors_test

import (
	"fmt"
	"testing"

	"github.com/whalecast/whalecast/actors"
	"github.com/whalecast/whalecast/internal/auth"
)

func TestSubscribePermission(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		perms []auth.Perm
		want  string
	}{
		{"reader", []auth.Perm{auth.PermRead}, "error:forbidden"},
		{"admin without write", []auth.Perm{auth.PermRead, auth.PermAdmin}, "error:forbidden"},
		{"reader and writer", []auth.Perm{auth.PermRead, auth.PermWrite}, "subscribed"},
		{"writer", []auth.Perm{auth.PermWrite}, "subscribed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEngine(t, engineConfig{})
			peer := newFakePeer(0)
			pid, _ := e.connect(t, peer, tt.perms...)
			e.send(pid, `{"type":"subscribe","min_btc":250}`)
			got := peer.next(t, 1)[0]
			if a := answers([]serverFrame{got}); a[0] != tt.want {
				t.Fatalf("got %q, want %q", a[0], tt.want)
			}
			if got.Type == "subscribed" && (got.MinBTC == nil || *got.MinBTC != 250) {
				t.Errorf("subscribed min_btc %v, want 250", got.MinBTC)
			}
		})
	}
}

func TestSubscribeThresholdFiltersLaterAlerts(t *testing.T) {
	t.Parallel()
	e := newEngine(t, engineConfig{})
	everything := newFakePeer(0)
	e.connect(t, everything, auth.PermRead)
	filtered := newFakePeer(0)
	pid, _ := e.connect(t, filtered, auth.PermRead, auth.PermWrite)
	e.send(pid, `{"type":"subscribe","min_btc":150}`)
	if got := filtered.next(t, 1)[0]; got.Type != "subscribed" {
		t.Fatalf("subscribe answered %q, want subscribed", got.Type)
	}

	test := actors.NewTestAlert(testStart)
	e.publish(whale(1, 100), whale(2, 150), whale(3, 149.99999999), whale(4, 20_000), test)
	e.waitPublished(t, 5)
	waitFor(t, "every delivery", func() bool { return e.stats.Deliveries.Load() == 5+3 })

	if got, want := seqsOf(t, everything.next(t, 5)), seqRange(1, 5); fmt.Sprint(got) !=
		fmt.Sprint(want) {
		t.Errorf("unfiltered session got seqs %v, want %v", got, want)
	}
	e.send(pid, `{"type":"ping"}`)
	got := filtered.next(t, 4)
	if seqs := seqsOf(t, got[:3]); fmt.Sprint(seqs) != "[2 4 5]" {
		t.Errorf("session with min_btc 150 got seqs %v, want [2 4 5] (150 BTC, 20000 BTC, "+
			"the test alert)", seqs)
	}
	if got[3].Type != "pong" {
		t.Errorf("after the alerts got %q, want pong and nothing else", got[3].Type)
	}
	if a := alertData(t, got[2]); !a.Test {
		t.Errorf("seq 5 is not the test alert: %+v", a)
	}
}

func TestReadlessSessionGetsNoAlerts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		perms []auth.Perm
		since int64
		want  []string // frames after auth_success: welcome, then any refusal of since
	}{
		{"writer", []auth.Perm{auth.PermWrite}, -1, []string{"welcome"}},
		{"admin", []auth.Perm{auth.PermAdmin}, -1, []string{"welcome"}},
		{"writer resuming", []auth.Perm{auth.PermWrite}, 0,
			[]string{"welcome", "error:forbidden"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEngine(t, engineConfig{Preload: 2})
			reader := newFakePeer(0)
			e.connect(t, reader, auth.PermRead)
			peer := newFakePeer(0)
			pid := e.startSession(t, peer)
			e.send(pid, authMessage(e.token(t, tt.perms...), tt.since))
			got := peer.next(t, 1+len(tt.want))
			if got[0].Type != "auth_success" {
				t.Fatalf("first frame %q, want auth_success", got[0].Type)
			}
			if a := answers(got[1:]); fmt.Sprint(a) != fmt.Sprint(tt.want) {
				t.Fatalf("then got %q, want %q", a, tt.want)
			}

			e.publish(whales(3, 5)...)
			if seqs := seqsOf(t, reader.next(t, 3)); fmt.Sprint(seqs) != "[3 4 5]" {
				t.Fatalf("reader got seqs %v, want [3 4 5]", seqs)
			}
			if got := e.stats.Deliveries.Load(); got != 3 {
				t.Errorf("Deliveries %d, want 3 (the reader's only)", got)
			}
			e.send(pid, `{"type":"ping"}`)
			if got := peer.next(t, 1)[0]; got.Type != "pong" {
				t.Errorf("read-less session got %q, want no alert before its pong", got.Type)
			}
		})
	}
}

func TestSubscribeMinBTCValidation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		message string
		want    string
		wantMin float64
	}{
		{"zero", `{"type":"subscribe","min_btc":0}`, "subscribed", 0},
		{"fraction", `{"type":"subscribe","min_btc":0.5}`, "subscribed", 0.5},
		{"every bitcoin", `{"type":"subscribe","min_btc":21000000}`, "subscribed", 21e6},
		{"negative", `{"type":"subscribe","min_btc":-1}`, "error:bad_request", 0},
		{"tiny negative", `{"type":"subscribe","min_btc":-1e-9}`, "error:bad_request", 0},
		{"over the supply", `{"type":"subscribe","min_btc":21000000.5}`, "error:bad_request", 0},
		{"huge", `{"type":"subscribe","min_btc":1e308}`, "error:bad_request", 0},
		{"overflows float64", `{"type":"subscribe","min_btc":1e400}`, "error:bad_request", 0},
		{"string", `{"type":"subscribe","min_btc":"100"}`, "error:bad_request", 0},
		{"boolean", `{"type":"subscribe","min_btc":true}`, "error:bad_request", 0},
		{"null", `{"type":"subscribe","min_btc":null}`, "error:bad_request", 0},
		{"missing", `{"type":"subscribe"}`, "error:bad_request", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEngine(t, engineConfig{})
			peer := newFakePeer(0)
			pid, _ := e.connect(t, peer, auth.PermRead, auth.PermWrite)
			e.send(pid, tt.message)
			got := peer.next(t, 1)[0]
			if a := answers([]serverFrame{got}); a[0] != tt.want {
				t.Fatalf("got %q, want %q", a[0], tt.want)
			}
			if tt.want == "subscribed" && (got.MinBTC == nil || *got.MinBTC != tt.wantMin) {
				t.Errorf("subscribed min_btc %v, want %v", got.MinBTC, tt.wantMin)
			}
			if peer.isClosed() {
				t.Errorf("connection closed; a bad field must keep it open")
			}
		})
	}
}

func TestAuthenticatedMessages(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		message string
		binary  bool
		want    string
	}{
		{"ping", `{"type":"ping"}`, false, "pong"},
		{"unknown type", `{"type":"unsubscribe"}`, false, "error:bad_request"},
		{"not JSON", `ping`, false, "error:bad_request"},
		{"empty", ``, false, "error:bad_request"},
		{"no type", `{"min_btc":1}`, false, "error:bad_request"},
		{"binary ping", `{"type":"ping"}`, true, "error:bad_request"},
		{"second auth", "", false, "auth_success"}, // message built below
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEngine(t, engineConfig{})
			peer := newFakePeer(0)
			pid, _ := e.connect(t, peer, auth.PermRead)
			msg := tt.message
			if tt.name == "second auth" {
				msg = authMessage(e.token(t, auth.PermRead), 0)
			}
			e.sys.Root.Send(pid, &actors.ClientFrame{Data: []byte(msg), Binary: tt.binary})
			e.send(pid, `{"type":"ping"}`)
			got := answers(peer.next(t, 2))
			if got[0] != tt.want || got[1] != "pong" {
				t.Errorf("got %q, want [%s pong]: the connection must stay open", got, tt.want)
			}
		})
	}
}

func TestSessionCloses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		message  any
		wantCode int
	}{
		{"server shutdown", &actors.ServerShutdown{}, actors.CloseGoingAway},
		{"peer gone", &actors.PeerGone{}, actors.CloseNormal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEngine(t, engineConfig{})
			peer := newFakePeer(0)
			pid, _ := e.connect(t, peer, auth.PermRead)
			e.sys.Root.Send(pid, tt.message)
			if code, reason := peer.waitClosed(t); code != tt.wantCode {
				t.Errorf("close code %d %q, want %d", code, reason, tt.wantCode)
			}
			waitFor(t, "the session to stop", func() bool { return e.sessionCount(t) == 0 })
		})
	}
}

// TestShutdownReachesEverySession sends ServerShutdown to the supervisor, as the engine does.
func TestShutdownReachesEverySession(t *testing.T) {
	t.Parallel()
	e := newEngine(t, engineConfig{})
	peers := []*fakePeer{newFakePeer(0), newFakePeer(0), newFakePeer(0)}
	e.connect(t, peers[0], auth.PermRead)
	e.connect(t, peers[1], auth.PermWrite)
	e.startSession(t, peers[2]) // not authenticated yet

	e.sys.Root.Send(e.sessions, &actors.ServerShutdown{})
	for i, p := range peers {
		if code, reason := p.waitClosed(t); code != actors.CloseGoingAway {
			t.Errorf("session %d closed with %d %q, want %d", i, code, reason,
				actors.CloseGoingAway)
		}
	}
	waitFor(t, "every session to stop", func() bool { return e.sessionCount(t) == 0 })
}

// TestNoAuthResume covers --no-auth: the session is a reader and writer from the start, and
// the client's first auth message may still resume with since.
func TestNoAuthResume(t *testing.T) {
	t.Parallel()
	e := newEngine(t, engineConfig{Preload: 4, Session: actors.SessionConfig{NoAuth: true}})
	peer := newFakePeer(0)
	pid := e.startSession(t, peer)
	got := peer.next(t, 2)
	if got[0].Type != "auth_success" || got[1].Type != "welcome" || got[1].Seq != 4 {
		t.Fatalf("at connect got %q %q seq %d, want auth_success, welcome seq 4",
			got[0].Type, got[1].Type, got[1].Seq)
	}

	e.send(pid, `{"type":"auth","token":"ignored","since":1}`)
	got = peer.next(t, 4)
	if got[0].Type != "auth_success" {
		t.Fatalf("late auth answered %q, want auth_success", got[0].Type)
	}
	if seqs := seqsOf(t, got[1:]); fmt.Sprint(seqs) != "[2 3 4]" {
		t.Errorf("resume got seqs %v, want [2 3 4]", seqs)
	}
	e.send(pid, `{"type":"auth","token":"ignored","since":0}`)
	if a := answers(peer.next(t, 1)); a[0] != "error:bad_request" {
		t.Errorf("a second late auth got %q, want error:bad_request", a[0])
	}
}

// TestNoAuthResumeWithUpgrade starts a --no-auth session with since given at the upgrade
// (?since=): it replays, and a later auth message may not ask for another resume.
func TestNoAuthResumeWithUpgrade(t *testing.T) {
	t.Parallel()
	e := newEngine(t, engineConfig{Preload: 4, Session: actors.SessionConfig{NoAuth: true}})
	peer := newFakePeer(0)
	since := uint64(1)
	res, err := e.sys.Root.RequestFuture(e.sessions,
		&actors.StartSession{Peer: peer, Since: &since}, waitLimit).Result()
	if err != nil {
		t.Fatal(err)
	}
	got := peer.next(t, 5)
	if got[0].Type != "auth_success" || got[1].Type != "welcome" {
		t.Fatalf("got %q, want auth_success and welcome first", answers(got))
	}
	if seqs := seqsOf(t, got[2:]); fmt.Sprint(seqs) != "[2 3 4]" {
		t.Errorf("resume got seqs %v, want [2 3 4]", seqs)
	}
	e.send(res.(*actors.SessionStarted).PID, `{"type":"auth","token":"x","since":0}`)
	if a := answers(peer.next(t, 1)); a[0] != "error:bad_request" {
		t.Errorf("a late auth after the resume got %q, want error:bad_request", a[0])
	}
}

// TestNoAuthLateResumeAfterNarrowFilter narrows the filter of a --no-auth session so that
// alerts go by unsent, then widens it and resumes from 0 in one breath: the replay covers
// the alerts that went by, with no gap.
func TestNoAuthLateResumeAfterNarrowFilter(t *testing.T) {
	t.Parallel()
	e := newEngine(t, engineConfig{Preload: 2, Session: actors.SessionConfig{NoAuth: true}})
	peer := newFakePeer(0)
	pid := e.startSession(t, peer)
	peer.next(t, 2)
	e.send(pid, `{"type":"subscribe","min_btc":1000000}`)
	peer.next(t, 1)
	e.publish(whales(3, 5)...)
	e.waitPublished(t, 3)

	e.send(pid, `{"type":"subscribe","min_btc":0}`)
	e.send(pid, `{"type":"auth","token":"x","since":0}`)
	got := peer.next(t, 7)
	if seqs := seqsOf(t, got[2:]); fmt.Sprint(seqs) != "[1 2 3 4 5]" {
		t.Errorf("resume from 0 got seqs %v, want [1 2 3 4 5]", seqs)
	}
}
