package actors_test

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/whalecast/whalecast/actors"
	"github.com/whalecast/whalecast/internal/auth"
	"github.com/whalecast/whalecast/persistence"
)

// refreshed is the token_refreshed message.
type refreshed struct {
	Type      string `json:"type"`
	Token     string `json:"token"`
	ExpiresAt string `json:"expires_at"`
}

func TestRefresh(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		advance time.Duration // from auth; the token lives one hour more than the window
		want    string
	}{
		{"long before the window", 30 * time.Minute, "error:refresh_too_early"},
		{"just before the window", time.Hour - time.Second, "error:refresh_too_early"},
		{"at the window", time.Hour, "token_refreshed"},
		{"late in the window", 110 * time.Minute, "token_refreshed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEngine(t, engineConfig{})
			peer := newFakePeer(0)
			pid := e.startSession(t, peer)
			tok, old := e.tokenFor(t, "client-1", 2*time.Hour, auth.PermRead)
			e.send(pid, authMessage(tok, -1))
			peer.next(t, 2)

			e.clock.Advance(tt.advance)
			e.send(pid, `{"type":"refresh"}`)
			raw := peer.nextRaw(t, 1)[0]
			if got := answers([]serverFrame{decodeFrame(t, raw)})[0]; got != tt.want {
				t.Fatalf("refresh answered %s, want %s", got, tt.want)
			}
			if tt.want != "token_refreshed" {
				return
			}
			checkRefreshed(t, e, raw, old)

			// The old token's expiry no longer ends the session.
			e.clock.Advance(2*time.Hour - tt.advance + time.Minute)
			e.send(pid, `{"type":"ping"}`)
			if got := peer.next(t, 1)[0].Type; got != "pong" {
				t.Fatalf("after the old expiry got %q, want pong", got)
			}
		})
	}
}

// checkRefreshed verifies the new token: same client and permissions, a new jti, the old
// lifetime, and an audit event.
func checkRefreshed(t *testing.T, e *engine, raw []byte, old auth.Claims) {
	t.Helper()
	var m refreshed
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("decode token_refreshed: %v", err)
	}
	claims, err := e.verifier.Verify(m.Token)
	if err != nil {
		t.Fatalf("refreshed token does not verify: %v", err)
	}
	switch {
	case claims.Subject != old.Subject || !slices.Equal(claims.Perms, old.Perms):
		t.Errorf("refreshed for %s %v, want %s %v", claims.Subject, claims.Perms,
			old.Subject, old.Perms)
	case claims.ID == old.ID:
		t.Errorf("refreshed token kept jti %s", old.ID)
	case claims.ExpiresAt.Sub(claims.IssuedAt) != 2*time.Hour:
		t.Errorf("refreshed lifetime %v, want 2h", claims.ExpiresAt.Sub(claims.IssuedAt))
	case m.ExpiresAt != claims.ExpiresAt.UTC().Format(time.RFC3339):
		t.Errorf("expires_at %s, want %s", m.ExpiresAt, claims.ExpiresAt.UTC())
	}
	if !slices.Contains(e.audits.types(), persistence.AuditTokenRefreshed) {
		t.Errorf("audit %v has no %s", e.audits.types(), persistence.AuditTokenRefreshed)
	}
	if strings.Contains(e.logs.String(), m.Token) {
		t.Error("the refreshed token reached a log line")
	}
}

func TestReauthenticate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		token     func(e *engine) string
		want      string
		wantClose int
	}{
		{"same client, fewer permissions",
			func(e *engine) string { return e.token(t, auth.PermRead) }, "auth_success", 0},
		{"another client", func(e *engine) string {
			tok, _ := e.tokenFor(t, "client-2", tokenTTL, auth.PermRead)
			return tok
		}, "error:forbidden", 0},
		{"bad signature", func(e *engine) string {
			tok := e.token(t, auth.PermRead)
			return tok[:len(tok)-2] + "AA"
		}, "", actors.CloseAuthFailed},
		{"no token", func(*engine) string { return "" }, "error:bad_request", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEngine(t, engineConfig{})
			peer := newFakePeer(0)
			pid, _ := e.connect(t, peer, auth.PermRead, auth.PermWrite)
			msg := `{"type":"auth"}`
			if tok := tt.token(e); tok != "" {
				msg = authMessage(tok, -1)
			}
			e.send(pid, msg)
			if tt.wantClose != 0 {
				if code, _ := peer.waitClosed(t); code != tt.wantClose {
					t.Fatalf("close %d, want %d", code, tt.wantClose)
				}
				return
			}
			if got := answers(peer.next(t, 1))[0]; got != tt.want {
				t.Fatalf("re-auth answered %s, want %s", got, tt.want)
			}
			if tt.want != "auth_success" {
				return
			}
			// The new token has no write permission any more.
			e.send(pid, `{"type":"subscribe","min_btc":1}`)
			if got := answers(peer.next(t, 1))[0]; got != "error:forbidden" {
				t.Errorf("subscribe after losing write answered %s, want error:forbidden", got)
			}
		})
	}
}

func TestRevocationClosesLiveSession(t *testing.T) {
	t.Parallel()
	e := newEngine(t, engineConfig{})
	victim, other := newFakePeer(0), newFakePeer(0)
	pid := e.startSession(t, victim)
	tok, claims := e.tokenFor(t, "client-1", tokenTTL, auth.PermRead)
	e.send(pid, authMessage(tok, -1))
	victim.next(t, 2)
	e.connect(t, other, auth.PermRead)

	e.revoked.RevokeJTI(claims.ID, claims.ExpiresAt)
	e.sys.Root.Send(e.sessions, &actors.CredentialsChanged{})
	code, reason := victim.waitClosed(t)
	if code != actors.CloseAuthFailed || reason != "token revoked" {
		t.Fatalf("close %d %q, want %d token revoked", code, reason, actors.CloseAuthFailed)
	}
	if got := answers(victim.next(t, 1))[0]; got != "error:"+actors.ErrCodeTokenRevoked {
		t.Errorf("before the close got %s, want error:%s", got, actors.ErrCodeTokenRevoked)
	}
	if other.isClosed() {
		t.Error("a session with another token was closed")
	}
	if got := e.stats.SessionsRevoked.Load(); got != 1 {
		t.Errorf("SessionsRevoked = %d, want 1", got)
	}
}

func TestAuthEventsAudited(t *testing.T) {
	t.Parallel()
	e := newEngine(t, engineConfig{})
	e.connect(t, newFakePeer(0), auth.PermRead)
	bad := newFakePeer(0)
	pid := e.startSession(t, bad)
	tok := e.token(t, auth.PermRead)
	e.send(pid, authMessage(tok[:len(tok)-2]+"AA", -1))
	bad.waitClosed(t)

	want := []string{"auth_success", "auth_failure:bad_signature"}
	waitFor(t, "two audit events", func() bool { return len(e.audits.types()) >= 2 })
	if got := e.audits.types(); !slices.Equal(got, want) {
		t.Errorf("audit events %v, want %v", got, want)
	}
	for _, ev := range e.audits.events {
		if ev.Remote == "" || ev.Time.IsZero() {
			t.Errorf("event %s lacks remote or time: %+v", ev.Type, ev)
		}
	}
}

func TestAuditActorWritesAndCountsFailures(t *testing.T) {
	t.Parallel()
	sys := newActorSystem(t, nil)
	mem := persistence.NewMemory()
	stats := actors.NewStats(testStart)
	pid := sys.Root.Spawn(actors.NewAuditProps(mem, stats, discardLogger()))

	for i := range 20 {
		sys.Root.Send(pid, &actors.Audit{Event: persistence.AuditEvent{
			Type: persistence.AuditAuthFailure, Remote: "192.0.2.1",
			Reason: "bad_signature", Client: "c" + string(rune('a'+i))}})
	}
	waitFor(t, "20 audit events written", func() bool { return stats.AuditWritten.Load() == 20 })
	events, err := mem.RangeAudit(0, 100)
	if err != nil || len(events) != 20 || events[19].Seq != 20 {
		t.Fatalf("RangeAudit = %d events, err %v; want 20 numbered 1..20", len(events), err)
	}

	mem.FailWrites(errors.New("disk gone"))
	sys.Root.Send(pid, &actors.Audit{Event: persistence.AuditEvent{
		Type: persistence.AuditAuthSuccess, Client: "alice"}})
	waitFor(t, "the failed write counted", func() bool { return stats.AuditDropped.Load() == 1 })
	if err := sys.Root.PoisonFuture(pid).Wait(); err != nil {
		t.Fatalf("stop audit actor: %v", err)
	}
}

// TestReauthWithoutReadStopsAlerts: a new token without read stops the alerts at once, live
// ones and a resume in progress alike.
func TestReauthWithoutReadStopsAlerts(t *testing.T) {
	t.Parallel()
	e := newEngine(t, engineConfig{Preload: 20, Session: actors.SessionConfig{
		ReplayPage: 2, ReplayHighWater: 1}})
	peer := newFakePeer(0)
	pid := e.startSession(t, peer)
	e.send(pid, authMessage(e.token(t, auth.PermRead, auth.PermWrite), 0))
	peer.next(t, 2) // auth_success, welcome; the replay then pauses on its high-water mark

	e.send(pid, authMessage(e.token(t, auth.PermWrite), -1))
	e.publish(whales(21, 23)...)
	e.waitPublished(t, 3)
	// Let the paused replay go on: drain the client and let its retry timer fire.
	var frames [][]byte
	for range 20 {
		frames = append(frames, peer.takeAll()...)
		e.clock.Advance(50 * time.Millisecond)
		time.Sleep(time.Millisecond)
	}
	e.send(pid, `{"type":"ping"}`)
	waitFor(t, "the pong", func() bool {
		for _, f := range peer.untaken() {
			if strings.Contains(string(f), `"pong"`) {
				return true
			}
		}
		return false
	})
	frames = append(frames, peer.takeAll()...)

	var after []string
	seenAuth := false
	for _, f := range frames {
		got := decodeFrame(t, f)
		if got.Type == "auth_success" {
			seenAuth = true
			continue
		}
		if seenAuth && got.Type == "whale_alert" {
			after = append(after, string(f))
		}
	}
	if !seenAuth || len(after) != 0 {
		t.Errorf("after the write-only re-auth (seen %v) got %d alerts, want none", seenAuth,
			len(after))
	}
}
