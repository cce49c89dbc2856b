package actors_test

import (
	"encoding/json"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/whalecast/whalecast/actors"
	"github.com/whalecast/whalecast/internal/auth"
)

// FuzzClientFrame sends arbitrary bytes as a session's first message and, when that one
// authenticated, as a later one. The session must not fail (a failure would close with 1011),
// a first message that is not a valid auth must close with 4000 or 4003 and nothing else,
// and a later message must be answered, never closed, within the limits used here.
func FuzzClientFrame(f *testing.F) {
	e := newEngine(f, engineConfig{Quiet: true})
	valid := e.token(f, auth.PermRead, auth.PermWrite)
	readOnly := e.token(f, auth.PermRead)
	hs384 := e.forge(f, jwt.SigningMethodHS384, testSecret, claimsAt(testStart, ""))
	none := e.forge(f, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType,
		claimsAt(testStart, ""))
	seeds := []struct {
		first  string
		binary bool
		later  string
	}{
		{authMessage(valid, -1), false, `{"type":"ping"}`},
		{authMessage(valid, 0), false, `{"type":"subscribe","min_btc":1.5}`},
		{authMessage(readOnly, 3), false, `{"type":"subscribe","min_btc":1}`},
		{authMessage(valid, -1), false, `{"type":"subscribe","min_btc":-1}`},
		{authMessage(valid, 0), false,
			`{"type":"subscribe","min_btc":0,"detectors":["consolidation","large_value"]}`},
		{authMessage(valid, -1), false, `{"type":"subscribe","min_btc":0,"detectors":["x",2]}`},
		{authMessage(valid, -1), false, authMessage(valid, 0)},
		{authMessage(valid, -1), false, "\x00\xff"},
		{authMessage(valid, -1), false, ``},
		{authMessage(valid, -1), true, `{"type":"ping"}`},
		{authMessage("a.b.c", -1), false, ``},
		{authMessage(hs384, -1), false, ``},
		{authMessage(none, -1), false, ``},
		{authMessage(valid+"x", -1), false, ``},
		{`{"type":"auth","token":""}`, false, ``},
		{`{"type":"auth","token":null,"since":null}`, false, ``},
		{`{"type":"auth","token":"` + valid + `","since":18446744073709551616}`, false, ``},
		{`{"type":"ping"}`, false, ``},
		{`[]`, false, ``},
		{`not json`, false, ``},
		{``, false, ``},
	}
	for _, s := range seeds {
		f.Add([]byte(s.first), s.binary, []byte(s.later))
	}

	f.Fuzz(func(t *testing.T, first []byte, binary bool, later []byte) {
		peer := newFakePeer(0)
		pid := e.startSession(t, peer)
		defer func() { _ = e.sys.Root.StopFuture(pid).Wait() }()

		e.sys.Root.Send(pid, &actors.ClientFrame{Data: first, Binary: binary})
		peer.await(t, "an answer to the first message", func() bool {
			return peer.closed || len(peer.frames) >= 2
		})
		if peer.isClosed() {
			code, reason := peer.waitClosed(t)
			if code != actors.CloseMalformed && code != actors.CloseAuthFailed {
				t.Fatalf("first message %q closed with %d %q, want 4000 or 4003", first, code,
					reason)
			}
			if frames := peer.untaken(); len(frames) != 0 {
				t.Fatalf("first message %q: sent %q before the close, want nothing", first,
					frames)
			}
			return
		}
		got := peer.next(t, 2)
		if got[0].Type != "auth_success" || got[1].Type != "welcome" {
			t.Fatalf("first message %q answered %q %q, want auth_success and welcome", first,
				got[0].Type, got[1].Type)
		}
		if !validAuth(e, first, binary) {
			t.Fatalf("first message %q (binary %v) is not a valid auth but authenticated",
				first, binary)
		}

		e.send(pid, string(later))
		peer.await(t, "an answer to the later message", func() bool {
			return peer.closed || len(peer.frames) > 2
		})
		if peer.isClosed() && len(peer.untaken()) == 0 {
			// Only a re-auth with a bad token ends an authenticated session.
			if code, reason := peer.waitClosed(t); code != actors.CloseAuthFailed {
				t.Fatalf("later message %q closed with %d %q, want 4003", later, code, reason)
			}
			return
		}
		answer := peer.next(t, 1)[0]
		switch a := answers([]serverFrame{answer})[0]; a {
		case "pong", "subscribed", "auth_success", "token_refreshed", "error:bad_request",
			"error:forbidden", "error:refresh_too_early":
		case "whale_alert":
			t.Fatalf("a whale_alert with an empty store")
		default:
			t.Fatalf("later message %q answered %s", later, a)
		}
	})
}

// validAuth reports whether data is an auth message whose token the engine accepts.
func validAuth(e *engine, data []byte, binary bool) bool {
	var m struct {
		Type  string `json:"type"`
		Token string `json:"token"`
	}
	if binary || json.Unmarshal(data, &m) != nil || m.Type != "auth" {
		return false
	}
	_, err := e.verifier.Verify(m.Token)
	return err == nil
}
