package actors_test

import (
	"encoding/base64"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/whalecast/whalecast/actors"
	"github.com/whalecast/whalecast/internal/auth"
	"github.com/whalecast/whalecast/internal/clock"
)

// lostRace is the timer a clock returns when Stop came too late: the callback runs anyway.
// A real time.AfterFunc behaves so when Stop races the firing; the session must cope with it.
type lostRace struct{}

func (lostRace) Stop() bool { return false }

// racingClock is a fake clock whose timers cannot be stopped: every callback fires when its
// time comes, as if each Stop had lost the race.
type racingClock struct{ *clock.Fake }

func (c racingClock) AfterFunc(d time.Duration, f func()) clock.Timer {
	c.Fake.AfterFunc(d, f)
	return lostRace{}
}

// silentClock is a fake clock whose timers never fire, so a test sees what the session does
// without its own timers.
type silentClock struct{ *clock.Fake }

func (silentClock) AfterFunc(time.Duration, func()) clock.Timer { return lostRace{} }

func TestAuthSuccessThenWelcome(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		perms   []auth.Perm
		preload int
	}{
		{"reader on an empty store", []auth.Perm{auth.PermRead}, 0},
		{"reader and writer", []auth.Perm{auth.PermRead, auth.PermWrite}, 7},
		{"writer only", []auth.Perm{auth.PermWrite}, 3},
		{"every permission", []auth.Perm{auth.PermRead, auth.PermWrite, auth.PermAdmin}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEngine(t, engineConfig{Preload: tt.preload})
			peer := newFakePeer(0)
			pid := e.startSession(t, peer)
			tok, claims := e.tokenFor(t, "desk-7", tokenTTL, tt.perms...)
			e.send(pid, authMessage(tok, -1))

			got := peer.next(t, 2)
			success, welcome := got[0], got[1]
			if success.Type != "auth_success" {
				t.Fatalf("first frame type %q, want auth_success", success.Type)
			}
			if success.ClientID != "desk-7" {
				t.Errorf("client_id %q, want %q", success.ClientID, "desk-7")
			}
			var wantPerms []string
			for _, p := range tt.perms {
				wantPerms = append(wantPerms, string(p))
			}
			if !slices.Equal(success.Permissions, wantPerms) {
				t.Errorf("permissions %q, want %q", success.Permissions, wantPerms)
			}
			exp, err := time.Parse(time.RFC3339, success.ExpiresAt)
			if err != nil {
				t.Errorf("expires_at %q is not RFC3339: %v", success.ExpiresAt, err)
			} else if !exp.Equal(claims.ExpiresAt) {
				t.Errorf("expires_at %v, want the token's exp %v", exp, claims.ExpiresAt)
			}
			if welcome.Type != "welcome" {
				t.Fatalf("second frame type %q, want welcome", welcome.Type)
			}
			if welcome.Seq != uint64(tt.preload) {
				t.Errorf("welcome seq %d, want the latest stored seq %d", welcome.Seq, tt.preload)
			}
			if welcome.Version != "test-version" {
				t.Errorf("welcome version %q, want %q", welcome.Version, "test-version")
			}
			if got := e.stats.ConnsAuthenticated.Load(); got != 1 {
				t.Errorf("authenticated connections %d, want 1", got)
			}
			if got := e.stats.ConnsUnauthenticated.Load(); got != 0 {
				t.Errorf("unauthenticated connections %d, want 0", got)
			}
		})
	}
}

func TestAuthTimeout(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		timeout time.Duration
		want    time.Duration
	}{
		{"default", 0, 5 * time.Second},
		{"configured", 1500 * time.Millisecond, 1500 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEngine(t, engineConfig{Session: actors.SessionConfig{AuthTimeout: tt.timeout}})
			peer := newFakePeer(0)
			e.startSession(t, peer)
			waitFor(t, "the auth deadline timer", func() bool { return e.clock.Pending() == 1 })

			e.clock.Advance(tt.want - time.Nanosecond)
			if got := e.clock.Pending(); got != 1 {
				t.Fatalf("just before the deadline: %d timers pending, want the deadline armed",
					got)
			}
			if peer.isClosed() {
				t.Fatalf("closed just before the deadline")
			}

			e.clock.Advance(time.Nanosecond)
			code, reason := peer.waitClosed(t)
			if code != actors.CloseAuthTimeout {
				t.Errorf("close code %d %q, want %d", code, reason, actors.CloseAuthTimeout)
			}
			if frames := peer.untaken(); len(frames) != 0 {
				t.Errorf("sent %q before the auth timeout close, want nothing", frames)
			}
			if got := e.stats.AuthTimeouts.Load(); got != 1 {
				t.Errorf("AuthTimeouts %d, want 1", got)
			}
		})
	}
}

func TestAuthJustBeforeTimeout(t *testing.T) {
	t.Parallel()
	e := newEngine(t, engineConfig{})
	peer := newFakePeer(0)
	pid := e.startSession(t, peer)
	waitFor(t, "the auth deadline timer", func() bool { return e.clock.Pending() == 1 })
	e.clock.Advance(5*time.Second - time.Nanosecond)

	e.send(pid, authMessage(e.token(t, auth.PermRead), -1))
	if got := peer.next(t, 2); got[0].Type != "auth_success" || got[1].Type != "welcome" {
		t.Fatalf("got %q, %q; want auth_success, welcome", got[0].Type, got[1].Type)
	}
	e.clock.Advance(time.Minute)
	e.send(pid, `{"type":"ping"}`)
	if got := peer.next(t, 1)[0]; got.Type != "pong" {
		t.Errorf("after the old deadline got %q, want pong: the deadline must not fire", got.Type)
	}
	if got := e.stats.AuthTimeouts.Load(); got != 0 {
		t.Errorf("AuthTimeouts %d, want 0", got)
	}
}

// TestStaleTimerIgnored replaces the auth deadline (by authenticating) on a clock whose timers
// cannot be stopped: the old deadline still fires, and the session must ignore it.
func TestStaleTimerIgnored(t *testing.T) {
	t.Parallel()
	e := newEngine(t, engineConfig{
		SessionClock: func(f *clock.Fake) clock.Clock { return racingClock{f} },
	})
	peer := newFakePeer(0)
	pid, _ := e.connect(t, peer, auth.PermRead)

	e.clock.Advance(10 * time.Second) // the replaced auth deadline fires in here
	e.send(pid, `{"type":"ping"}`)
	if got := peer.next(t, 1)[0]; got.Type != "pong" {
		t.Errorf("after the stale deadline got %q, want pong", got.Type)
	}
	if got := e.stats.AuthTimeouts.Load(); got != 0 {
		t.Errorf("AuthTimeouts %d, want 0: a replaced deadline was obeyed", got)
	}
}

func TestFirstMessageMalformed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		data   string
		binary bool
	}{
		{"not JSON", `hello`, false},
		{"empty", ``, false},
		{"JSON array", `[{"type":"auth"}]`, false},
		{"JSON string", `"auth"`, false},
		{"null", `null`, false},
		{"no type", `{"token":"abc"}`, false},
		{"ping before auth", `{"type":"ping"}`, false},
		{"subscribe before auth", `{"type":"subscribe","min_btc":1}`, false},
		{"empty token", `{"type":"auth","token":""}`, false},
		{"no token", `{"type":"auth"}`, false},
		{"token not a string", `{"type":"auth","token":42}`, false},
		{"negative since", `{"type":"auth","token":"a.b.c","since":-1}`, false},
		{"fractional since", `{"type":"auth","token":"a.b.c","since":1.5}`, false},
		{"trailing garbage", `{"type":"auth","token":"a.b.c"}x`, false},
		{"binary frame", "", true}, // the data is a valid auth message; see below
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEngine(t, engineConfig{})
			peer := newFakePeer(0)
			pid := e.startSession(t, peer)
			data := []byte(tt.data)
			if tt.binary {
				data = []byte(authMessage(e.token(t, auth.PermRead), -1))
			}
			e.sys.Root.Send(pid, &actors.ClientFrame{Data: data, Binary: tt.binary})

			code, reason := peer.waitClosed(t)
			if code != actors.CloseMalformed {
				t.Errorf("close code %d %q, want %d", code, reason, actors.CloseMalformed)
			}
			if frames := peer.untaken(); len(frames) != 0 {
				t.Errorf("sent %q, want nothing before the close", frames)
			}
			if got := e.stats.AuthFailures.Load(); got != 1 {
				t.Errorf("AuthFailures %d, want 1", got)
			}
			peer.waitReleased(t, 1)
		})
	}
}

// claimsAt returns well-formed claims issued at now, with one claim left out.
func claimsAt(now time.Time, without string) jwt.MapClaims {
	c := jwt.MapClaims{
		"sub":   "client-1",
		"perms": []string{"read"},
		"iat":   now.Unix(),
		"exp":   now.Add(time.Hour).Unix(),
		"jti":   "0123456789abcdef0123456789abcdef",
	}
	delete(c, without)
	return c
}

func TestFirstMessageBadToken(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		token func(testing.TB, *engine) string
		want  string // the reason after "authentication failed: "
	}{
		{"not a JWT", func(testing.TB, *engine) string { return "abc" }, "malformed"},
		{"bad signature", func(tb testing.TB, e *engine) string {
			other := []byte("some-other-secret-of-enough-length!!")
			return e.forge(tb, jwt.SigningMethodHS256, other, claimsAt(testStart, ""))
		}, "bad_signature"},
		{"payload changed after signing", func(tb testing.TB, e *engine) string {
			tok := e.token(tb, auth.PermRead)
			parts := strings.Split(tok, ".")
			payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
			payload = []byte(strings.Replace(string(payload), `"read"`, `"admin"`, 1))
			parts[1] = base64.RawURLEncoding.EncodeToString(payload)
			return strings.Join(parts, ".")
		}, "bad_signature"},
		{"expired", func(tb testing.TB, e *engine) string {
			tok, _ := e.tokenFor(tb, "client-1", time.Second, auth.PermRead)
			e.clock.Advance(time.Second)
			return tok
		}, "expired"},
		{"HS384 with the right secret", func(tb testing.TB, e *engine) string {
			return e.forge(tb, jwt.SigningMethodHS384, testSecret, claimsAt(testStart, ""))
		}, "bad_algorithm"},
		{"alg none", func(tb testing.TB, e *engine) string {
			return e.forge(tb, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType,
				claimsAt(testStart, ""))
		}, "bad_algorithm"},
		{"missing sub", func(tb testing.TB, e *engine) string {
			return e.forge(tb, jwt.SigningMethodHS256, testSecret, claimsAt(testStart, "sub"))
		}, "missing_claim"},
		{"missing perms", func(tb testing.TB, e *engine) string {
			return e.forge(tb, jwt.SigningMethodHS256, testSecret, claimsAt(testStart, "perms"))
		}, "missing_claim"},
		{"missing exp", func(tb testing.TB, e *engine) string {
			return e.forge(tb, jwt.SigningMethodHS256, testSecret, claimsAt(testStart, "exp"))
		}, "missing_claim"},
		{"missing iat", func(tb testing.TB, e *engine) string {
			return e.forge(tb, jwt.SigningMethodHS256, testSecret, claimsAt(testStart, "iat"))
		}, "missing_claim"},
		{"missing jti", func(tb testing.TB, e *engine) string {
			return e.forge(tb, jwt.SigningMethodHS256, testSecret, claimsAt(testStart, "jti"))
		}, "missing_claim"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEngine(t, engineConfig{})
			tok := tt.token(t, e) // may move the clock, so before the session starts
			peer := newFakePeer(0)
			pid := e.startSession(t, peer)
			e.send(pid, authMessage(tok, -1))

			code, reason := peer.waitClosed(t)
			if code != actors.CloseAuthFailed {
				t.Errorf("close code %d %q, want %d", code, reason, actors.CloseAuthFailed)
			}
			if want := "authentication failed: " + tt.want; reason != want {
				t.Errorf("close reason %q, want %q", reason, want)
			}
			if strings.Contains(reason, tok) {
				t.Errorf("close reason holds the token")
			}
			if frames := peer.untaken(); len(frames) != 0 {
				t.Errorf("sent %q, want nothing before the close", frames)
			}
			if got := e.stats.AuthFailures.Load(); got != 1 {
				t.Errorf("AuthFailures %d, want 1", got)
			}
		})
	}
}

func TestTokenExpiresMidSession(t *testing.T) {
	t.Parallel()
	e := newEngine(t, engineConfig{})
	peer := newFakePeer(0)
	pid := e.startSession(t, peer)
	tok, _ := e.tokenFor(t, "client-1", time.Minute, auth.PermRead)
	e.send(pid, authMessage(tok, -1))
	peer.next(t, 2)

	e.clock.Advance(time.Minute - time.Nanosecond)
	e.send(pid, `{"type":"ping"}`)
	if got := peer.next(t, 1)[0]; got.Type != "pong" {
		t.Fatalf("just before expiry got %q, want pong", got.Type)
	}
	if peer.isClosed() {
		t.Fatalf("closed before the token expired")
	}

	e.clock.Advance(time.Nanosecond)
	code, reason := peer.waitClosed(t)
	if code != actors.CloseAuthFailed {
		t.Errorf("close code %d %q, want %d", code, reason, actors.CloseAuthFailed)
	}
	assertOnlyTokenExpired(t, peer.untaken())
}

// assertOnlyTokenExpired checks that the expiry close came with exactly one message: the
// token_expired error.
func assertOnlyTokenExpired(t *testing.T, frames [][]byte) {
	t.Helper()
	want := `"code":"` + actors.ErrCodeTokenExpired + `"`
	if len(frames) != 1 || !strings.Contains(string(frames[0]), want) {
		t.Errorf("sent %q with the expiry close, want one token_expired error", frames)
	}
}

// TestMessageAfterExpiryRefused runs the session on a clock whose timers never fire, so only
// the check made on every client message can notice the expiry.
func TestMessageAfterExpiryRefused(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		advance time.Duration
		message string
	}{
		{"ping at exp", time.Minute, `{"type":"ping"}`},
		{"ping after exp", time.Hour, `{"type":"ping"}`},
		{"subscribe after exp", 2 * time.Minute, `{"type":"subscribe","min_btc":1}`},
		{"garbage after exp", 2 * time.Minute, `garbage`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEngine(t, engineConfig{
				SessionClock: func(f *clock.Fake) clock.Clock { return silentClock{f} },
			})
			peer := newFakePeer(0)
			pid := e.startSession(t, peer)
			tok, _ := e.tokenFor(t, "client-1", time.Minute, auth.PermRead, auth.PermWrite)
			e.send(pid, authMessage(tok, -1))
			peer.next(t, 2)

			e.clock.Advance(tt.advance)
			e.send(pid, tt.message)
			code, reason := peer.waitClosed(t)
			if code != actors.CloseAuthFailed {
				t.Errorf("close code %d %q, want %d", code, reason, actors.CloseAuthFailed)
			}
			assertOnlyTokenExpired(t, peer.untaken())
		})
	}
}
