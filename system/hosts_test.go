package system_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
)

// TestNoAuthEngineRefusesRebinding plays DNS rebinding against a --no-auth engine on
// loopback: a page of attacker.example whose name now resolves to 127.0.0.1 sends Host
// attacker.example, and gets 421 on every route; the engine's own names are served, and
// with --allowed-hosts a proxy's name too.
func TestNoAuthEngineRefusesRebinding(t *testing.T) {
	cfg := replayConfig(t)
	cfg.NoAuth = true
	plain := startEngine(t, cfg)
	cfg = replayConfig(t)
	cfg.NoAuth = true
	cfg.AllowedHosts = []string{"whales.example"}
	proxied := startEngine(t, cfg)

	tests := []struct {
		name   string
		engine *testEngine
		path   string
		host   string // PORT stands for the engine's port
		want   int
	}{
		{"alerts, rebound", plain, "/api/v1/alerts", "attacker.example:PORT", 421},
		{"websocket, rebound", plain, "/ws", "attacker.example:PORT", 421},
		{"healthz, rebound", plain, "/healthz", "attacker.example", 421},
		{"alerts by IP", plain, "/api/v1/alerts", "127.0.0.1:PORT", 200},
		{"alerts by localhost", plain, "/api/v1/alerts", "localhost:PORT", 200},
		{"alerts by a proxy's name", plain, "/api/v1/alerts", "whales.example", 421},
		{"alerts by an allowed name", proxied, "/api/v1/alerts", "whales.example", 200},
		{"alerts by localhost, allowed names", proxied, "/api/v1/alerts", "localhost", 200},
		{"alerts, rebound, allowed names", proxied, "/api/v1/alerts", "attacker.example",
			421},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, port, _ := net.SplitHostPort(tt.engine.addr)
			host := strings.ReplaceAll(tt.host, "PORT", port)
			ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet,
				tt.engine.httpURL()+tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Host = host
			req.Header.Set("Origin", "http://"+host)
			if tt.path == "/ws" {
				req.Header.Set("Connection", "Upgrade")
				req.Header.Set("Upgrade", "websocket")
				req.Header.Set("Sec-WebSocket-Version", "13")
				req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatalf("GET %s: %v", tt.path, err)
			}
			defer resp.Body.Close()
			var body []byte
			if resp.StatusCode != http.StatusSwitchingProtocols { // else it never ends
				body, _ = io.ReadAll(io.LimitReader(resp.Body, 1<<16))
			}
			if resp.StatusCode != tt.want {
				t.Errorf("status: got %d %s, want %d", resp.StatusCode, body, tt.want)
			}
		})
	}
}
