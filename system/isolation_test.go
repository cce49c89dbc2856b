package system_test

import (
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/whalecast/whalecast/internal/auth"
)

// TestSessionIsolation checks that a session closed for its own fault leaves an established
// session untouched. A session that panics inside the engine cannot be caused through the
// public protocol; the actors tests cover that case (close 1011) with a fake peer.
func TestSessionIsolation(t *testing.T) {
	cfg := replayConfig(t)
	cfg.RateLimit = 10
	te := startEngine(t, cfg)
	tok := token(t, "bystander", auth.PermRead, auth.PermWrite)

	bystander := dial(t, te.wsURL())
	authenticate(t, bystander, tok, 0)
	check277647(t, readRecords(t, bystander, len(block277647)), 0)

	tests := []struct {
		name     string
		act      func(tb testing.TB, c *websocket.Conn)
		wantCode int
	}{
		{name: "malformed first message", wantCode: 4000,
			act: func(tb testing.TB, c *websocket.Conn) { send(tb, c, `{"type":"subscribe"}`) }},
		{name: "forged token", wantCode: 4003,
			act: func(tb testing.TB, c *websocket.Conn) {
				send(tb, c, authMsg(noneToken(tb), 0))
			}},
		{name: "oversized message", wantCode: 1009,
			act: func(tb testing.TB, c *websocket.Conn) {
				_ = c.WriteMessage(websocket.TextMessage, []byte(strings.Repeat("x", 5<<10)))
			}},
		{name: "rate limit abused", wantCode: 4008,
			act: func(tb testing.TB, c *websocket.Conn) {
				authenticate(tb, c, tok, -1)
				for range 40 {
					_ = c.WriteMessage(websocket.TextMessage, []byte(`{"type":"ping"}`))
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dial(t, te.wsURL())
			tt.act(t, c)
			if code, reason := closeCode(t, c); code != tt.wantCode {
				t.Fatalf("neighbour's close code: got %d (%q), want %d", code, reason,
					tt.wantCode)
			}

			send(t, bystander, `{"type":"ping"}`)
			if m := read(t, bystander); m.Type != "pong" {
				t.Errorf("bystander's answer: got %q, want pong", m.Type)
			}
		})
	}
	if got := te.Stats().ConnsAuthenticated.Load(); got != 1 {
		t.Errorf("authenticated connections: got %d, want 1 (the bystander)", got)
	}
}
