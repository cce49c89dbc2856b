//go:build smoke

package main

import (
	"encoding/json"
	"net"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/whalecast/whalecast/system"
)

// Environment of TestSmokeAgainstRunningEngine, which .ci/run sets after it started the
// engine binary.
const (
	// smokeURLEnv is the base URL of a running engine, such as http://127.0.0.1:PORT.
	smokeURLEnv = "WHALECAST_SMOKE_URL"
	// smokeTokenEnv is a token with the read permission for that engine.
	smokeTokenEnv = "WHALECAST_SMOKE_TOKEN"
)

// TestSmokeAgainstRunningEngine checks an engine started elsewhere (by .ci/run, as a real
// process) that replays block 277647: healthz answers, a client resuming from seq 0 receives
// exactly the block's six records (its three whales, then their confirmations), and the
// REST page holds them too. It is built only with the smoke tag (.ci/run passes -tags
// smoke) and checks only a loopback host.
func TestSmokeAgainstRunningEngine(t *testing.T) {
	base, tok := os.Getenv(smokeURLEnv), os.Getenv(smokeTokenEnv)
	if base == "" {
		t.Fatalf("%s is not set: no engine to check", smokeURLEnv)
	}
	if tok == "" {
		t.Fatalf("%s is set but %s is empty", smokeURLEnv, smokeTokenEnv)
	}
	u, err := url.Parse(base)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		t.Fatalf("%s=%q: want http://HOST:PORT", smokeURLEnv, base)
	}
	if host, _, err := net.SplitHostPort(u.Host); err != nil || !system.IsLoopback(host) {
		t.Fatalf("%s=%q: the smoke test only talks to a loopback address", smokeURLEnv, base)
	}
	base = strings.TrimSuffix(base, "/")

	if got, body := getStatus(t, base+"/healthz", ""); got != 200 {
		t.Fatalf("healthz: got %d %s, want 200", got, body)
	}
	c, ok := wsSession(t, "ws://"+u.Host+"/ws", tok, 0)
	if len(ok.Permissions) == 0 {
		t.Errorf("auth_success: got no permissions")
	}
	check277647(t, c)
	got, body := getStatus(t, base+"/api/v1/alerts?since=0&limit=1000", tok)
	if got != 200 {
		t.Fatalf("GET /api/v1/alerts: got %d %s, want 200", got, body)
	}
	var page struct {
		Alerts []struct {
			Seq uint64 `json:"seq"`
		} `json:"alerts"`
		Next uint64 `json:"next"`
	}
	if err := json.Unmarshal([]byte(body), &page); err != nil {
		t.Fatalf("GET /api/v1/alerts: decode %s: %v", body, err)
	}
	if len(page.Alerts) != len(block277647) || page.Next != uint64(len(block277647)) {
		t.Errorf("GET /api/v1/alerts: got %s, want seqs 1 to %d", body, len(block277647))
	}
	t.Logf("engine at %s delivered the %d records of block 277647", base, len(block277647))
}
