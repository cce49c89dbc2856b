package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/whalecast/whalecast/internal/btcdtest"
	"github.com/whalecast/whalecast/system"
)

// TestTokenCommand mints tokens with the command and presents each to an engine that loads
// its keys as `engine serve` would (same data directory, same environment): over WebSocket
// and REST.
func TestTokenCommand(t *testing.T) {
	tests := []struct {
		name      string
		args      []string
		env       map[string]string
		wantSub   string
		wantPerms []string
		wantTTL   time.Duration
	}{
		{name: "read token from the data directory's keys", args: []string{"--client", "alice"},
			wantSub: "alice", wantPerms: []string{"read"}, wantTTL: 24 * time.Hour},
		{name: "read and write", args: []string{"--client", "bob", "--perm", "read,write"},
			wantSub: "bob", wantPerms: []string{"read", "write"}, wantTTL: 24 * time.Hour},
		{name: "ttl flag", args: []string{"--client", "carol", "--ttl", "2h"},
			env:     map[string]string{envTokenExpiry: "5"},
			wantSub: "carol", wantPerms: []string{"read"}, wantTTL: 2 * time.Hour},
		{name: "ttl from TOKEN_EXPIRY_HOURS", args: []string{"--client", "dave"},
			env:     map[string]string{envTokenExpiry: "3"},
			wantSub: "dave", wantPerms: []string{"read"}, wantTTL: 3 * time.Hour},
		{name: "secret from WEBSOCKET_SECRET_KEY", args: []string{"--client", "erin"},
			env:     map[string]string{envSecret: testSecret},
			wantSub: "erin", wantPerms: []string{"read"}, wantTTL: 24 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			dir := t.TempDir()

			// The command reads its clock between these two, and exp has whole seconds.
			before := time.Now().Truncate(time.Second)
			code, stdout, stderr := runCmd(t, append([]string{"token", "--data", dir},
				tt.args...)...)
			after := time.Now()
			if code != 0 {
				t.Fatalf("exit code: got %d, want 0 (stderr ends %q)", code, lastLine(stderr))
			}
			tok := strings.TrimSuffix(stdout, "\n")
			if strings.Count(tok, ".") != 2 || strings.ContainsAny(tok, " \n") {
				t.Fatalf("stdout: got %q, want one JWT on one line", stdout)
			}
			if strings.Contains(stderr, tok) {
				t.Errorf("stderr holds the token: %q", stderr)
			}

			addr := startEngine(t, dir, os.Getenv(envSecret))
			_, ok := wsSession(t, "ws://"+addr+"/ws", tok, 0)
			if ok.ClientID != tt.wantSub {
				t.Errorf("client_id: got %q, want %q", ok.ClientID, tt.wantSub)
			}
			if !slices.Equal(ok.Permissions, tt.wantPerms) {
				t.Errorf("permissions: got %v, want %v", ok.Permissions, tt.wantPerms)
			}
			expires, err := time.Parse(time.RFC3339, ok.ExpiresAt)
			if err != nil {
				t.Fatalf("expires_at %q: %v", ok.ExpiresAt, err)
			}
			if expires.Before(before.Add(tt.wantTTL)) || expires.After(after.Add(tt.wantTTL)) {
				t.Errorf("expires_at %v, want %v after the command ran (to the second)",
					expires, tt.wantTTL)
			}
			url := "http://" + addr + "/api/v1/alerts?limit=1"
			if got, body := getStatus(t, url, tok); got != 200 {
				t.Errorf("GET /api/v1/alerts: got %d (%s), want 200", got, body)
			}
		})
	}
}

// lastLine returns the last non-empty line of s.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

func TestHelp(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantStdout []string
		wantStderr []string
	}{
		{name: "serve --help", args: []string{"serve", "--help"},
			wantStderr: []string{"-addr", "-source", "-min-btc", "-rate", "-data",
				"-detectors", "-large-output-btc", "-consolidation-min-inputs",
				"-consolidation-max-outputs", "-consolidation-min-btc", "-rate-limit-requests",
				"WEBSOCKET_SECRET_KEY", "RATE_LIMIT_REQUESTS", "TOKEN_EXPIRY_HOURS", "RATE_LIMIT_WINDOW"}},
		{name: "serve -h", args: []string{"serve", "-h"},
			wantStderr: []string{"-addr", "WEBSOCKET_SECRET_KEY"}},
		{name: "flags alone mean serve", args: []string{"--help"},
			wantStderr: []string{"Usage: engine serve"}},
		{name: "token --help", args: []string{"token", "--help"},
			wantStderr: []string{"-client", "-perm", "-ttl", "-data"}},
		{name: "help", args: []string{"help"},
			wantStdout: []string{"engine token", "engine serve --help", "engine token revoke",
				"engine apikey create", "engine apikey list", "engine apikey revoke",
				"engine cert", envAdminToken}},
		{name: "serve --help shows the security flags", args: []string{"serve", "--help"},
			wantStderr: []string{"-max-token-lifetime", "-token-issuer", "-token-audience",
				"-token-leeway", "-refresh-window", "-allowed-origins", "-trusted-proxies",
				"-max-conns", "-max-conns-per-ip", "-conn-rate-per-ip", "-ban-after",
				"-ban-window", "-ban-for", "-tls-cert", "-tls-key"}},
		{name: "serve --help shows the operator flags", args: []string{"serve", "--help"},
			wantStderr: []string{"-accuracy-threshold", "-accuracy-window", "-operator-webhook",
				"-operator-webhook-secret-file", "-smtp-addr", "-smtp-from", "-smtp-to",
				"-smtp-user", "-smtp-password-file", "-smtp-tls"}},
		{name: "token revoke --help", args: []string{"token", "revoke", "--help"},
			wantStderr: []string{"-jti", "-expires-at", "-client", "-url", "-admin-token",
				"-data", envAdminToken}},
		{name: "apikey help", args: []string{"apikey", "help"},
			wantStdout: []string{"create", "list", "revoke", "X-API-Key"}},
		{name: "apikey create --help", args: []string{"apikey", "create", "--help"},
			wantStderr: []string{"-client", "-perm", "-url", "-cacert"}},
		{name: "cert --help", args: []string{"cert", "--help"},
			wantStderr: []string{"-host", "-out", "-days"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			code, stdout, stderr := runCmd(t, tt.args...)
			if code != 0 {
				t.Fatalf("exit code: got %d, want 0 (stderr %q)", code, stderr)
			}
			for _, s := range tt.wantStdout {
				if !strings.Contains(stdout, s) {
					t.Errorf("stdout: got %q, want it to mention %q", stdout, s)
				}
			}
			for _, s := range tt.wantStderr {
				if !strings.Contains(stderr, s) {
					t.Errorf("stderr: got %q, want it to mention %q", stderr, s)
				}
			}
		})
	}
}

func TestExitCodes(t *testing.T) {
	// Every serve case names a loopback address, a fresh directory and a replay file that
	// does not exist, so that a command line wrongly accepted fails in Open instead of
	// serving.
	missing := "replay:" + filepath.Join(t.TempDir(), "missing.dat")
	safe := func(dir string, args ...string) []string {
		return append([]string{"serve", "--addr", "127.0.0.1:0", "--data", dir,
			"--source", missing}, args...)
	}
	tests := []struct {
		name       string
		args       func(dir string) []string
		env        map[string]string
		want       int
		wantStderr string
	}{
		{name: "unknown serve flag", want: 2, wantStderr: "-bogus",
			args: func(d string) []string { return safe(d, "--bogus") }},
		{name: "negative rate", want: 2, wantStderr: "-rate",
			args: func(d string) []string { return safe(d, "--rate", "-1") }},
		{name: "rate not a number", want: 2, wantStderr: "-rate",
			args: func(d string) []string { return safe(d, "--rate", "fast") }},
		{name: "threshold not a number", want: 2, wantStderr: "-min-btc",
			args: func(d string) []string { return safe(d, "--min-btc", "lots") }},
		{name: "unknown detector", want: 2, wantStderr: `unknown detector "tx_storm"`,
			args: func(d string) []string { return safe(d, "--detectors", "large_value,tx_storm") }},
		{name: "no detector", want: 2, wantStderr: "--detectors is empty",
			args: func(d string) []string { return safe(d, "--detectors", ",") }},
		{name: "consolidation of no inputs", want: 2, wantStderr: "--consolidation-min-inputs",
			args: func(d string) []string { return safe(d, "--consolidation-min-inputs", "0") }},
		{name: "stray argument", want: 2, wantStderr: "unexpected argument",
			args: func(d string) []string { return safe(d, "extra") }},
		{name: "addr with port", want: 2, wantStderr: "not both",
			args: func(d string) []string { return safe(d, "--port", "0") }},
		{name: "unknown log level", want: 2, wantStderr: "--log-level",
			args: func(d string) []string { return safe(d, "--log-level", "loud") }},
		{name: "bad RATE_LIMIT_REQUESTS", want: 2, wantStderr: envRateLimit,
			env:  map[string]string{envRateLimit: "lots"},
			args: func(d string) []string { return safe(d) }},
		{name: "zero RATE_LIMIT_WINDOW", want: 2, wantStderr: envRateWindow,
			env:  map[string]string{envRateWindow: "0"},
			args: func(d string) []string { return safe(d) }},
		{name: "unknown command", want: 2, wantStderr: "unknown command",
			args: func(string) []string { return []string{"frobnicate"} }},
		{name: "unknown token flag", want: 2, wantStderr: "-bogus",
			args: func(d string) []string {
				return []string{"token", "--data", d, "--client", "x", "--bogus"}
			}},
		{name: "token without client", want: 2, wantStderr: "--client",
			args: func(d string) []string { return []string{"token", "--data", d} }},
		{name: "token with unknown permission", want: 2, wantStderr: "--perm",
			args: func(d string) []string {
				return []string{"token", "--data", d, "--client", "x", "--perm", "root"}
			}},
		{name: "missing replay file", want: 1, wantStderr: "missing.dat",
			args: func(d string) []string { return safe(d) }},
		{name: "short WEBSOCKET_SECRET_KEY", want: 1, wantStderr: envSecret,
			env: map[string]string{envSecret: "short"},
			args: func(d string) []string {
				return []string{"token", "--data", d, "--client", "x"}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			code, stdout, stderr := runCmd(t, tt.args(t.TempDir())...)
			if code != tt.want {
				t.Errorf("exit code: got %d, want %d (stderr ends %q)", code, tt.want,
					lastLine(stderr))
			}
			if !strings.Contains(stderr, tt.wantStderr) {
				t.Errorf("stderr: got %q, want it to mention %q", stderr, tt.wantStderr)
			}
			if stdout != "" {
				t.Errorf("stdout: got %q, want nothing", stdout)
			}
		})
	}
}

func TestServeFlagsAndEnv(t *testing.T) {
	block := btcdtest.Block277647(t)
	tests := []struct {
		name  string
		args  []string
		env   map[string]string
		check func(tb testing.TB, cfg system.Config)
	}{
		{name: "defaults", check: func(tb testing.TB, c system.Config) {
			want := system.DefaultConfig()
			if c.Addr != want.Addr || c.RateLimit != want.RateLimit ||
				c.RateWindow != want.RateWindow || c.TokenExpiry != want.TokenExpiry ||
				c.Secret != "" {
				tb.Errorf("got %+v, want the defaults %+v", c, want)
			}
		}},
		{name: "RATE_LIMIT_REQUESTS alone", env: map[string]string{envRateLimit: "7"},
			check: wantRateLimit(7)},
		{name: "flag wins over RATE_LIMIT_REQUESTS", args: []string{"--rate-limit-requests", "9"},
			env: map[string]string{envRateLimit: "7"}, check: wantRateLimit(9)},
		{name: "flag at its default still wins", args: []string{"--rate-limit-requests=100"},
			env: map[string]string{envRateLimit: "7"}, check: wantRateLimit(100)},
		{name: "RATE_LIMIT_WINDOW in seconds", env: map[string]string{envRateWindow: "30"},
			check: func(tb testing.TB, c system.Config) {
				if c.RateWindow != 30*time.Second {
					tb.Errorf("rate window: got %v, want 30s", c.RateWindow)
				}
			}},
		{name: "flag wins over RATE_LIMIT_WINDOW", args: []string{"--rate-limit-window", "5s"},
			env: map[string]string{envRateWindow: "30"},
			check: func(tb testing.TB, c system.Config) {
				if c.RateWindow != 5*time.Second {
					tb.Errorf("rate window: got %v, want 5s", c.RateWindow)
				}
			}},
		{name: "flag wins over TOKEN_EXPIRY_HOURS", args: []string{"--token-expiry", "90m"},
			env: map[string]string{envTokenExpiry: "2"},
			check: func(tb testing.TB, c system.Config) {
				if c.TokenExpiry != 90*time.Minute {
					tb.Errorf("token expiry: got %v, want 90m", c.TokenExpiry)
				}
			}},
		{name: "WEBSOCKET_SECRET_KEY", env: map[string]string{envSecret: testSecret},
			check: func(tb testing.TB, c system.Config) {
				if c.Secret != testSecret {
					tb.Errorf("secret: got %d bytes, want the variable's %d", len(c.Secret),
						len(testSecret))
				}
			}},
		{name: "host and port", args: []string{"--host", "127.0.0.2", "--port", "0"},
			check: func(tb testing.TB, c system.Config) {
				if c.Addr != "127.0.0.2:0" {
					tb.Errorf("addr: got %q, want 127.0.0.2:0", c.Addr)
				}
			}},
		{name: "replay flags", args: []string{"--source", "replay:" + block, "--rate", "0",
			"--min-btc", "250", "--auth-timeout", "2s"},
			check: func(tb testing.TB, c system.Config) {
				if c.Source != "replay:"+block || c.SourceRate() != 0 || c.MinBTC != 250 ||
					c.AuthTimeout != 2*time.Second {
					tb.Errorf("got source %q rate %v min %v auth timeout %v, want "+
						"replay:%s 0 250 2s", c.Source, c.SourceRate(), c.MinBTC,
						c.AuthTimeout, block)
				}
			}},
		{name: "detector flags", args: []string{"--detectors", "value_moved, consolidation",
			"--large-output-btc", "50", "--consolidation-min-inputs", "10",
			"--consolidation-max-outputs", "1", "--consolidation-min-btc", "2.5"},
			check: func(tb testing.TB, c system.Config) {
				got := fmt.Sprint(c.Detectors, c.LargeOutputBTC, c.ConsolidationMinInputs,
					c.ConsolidationMaxOutputs, c.ConsolidationMinBTC)
				if want := "[value_moved consolidation] 50 10 1 2.5"; got != want {
					tb.Errorf("got %s, want %s", got, want)
				}
			}},
		{name: "detector defaults", args: nil,
			check: func(tb testing.TB, c system.Config) {
				got := fmt.Sprint(c.Detectors, c.LargeOutputBTC, c.ConsolidationMinInputs,
					c.ConsolidationMaxOutputs, c.ConsolidationMinBTC)
				if want := "[large_value] 100 20 2 10"; got != want {
					tb.Errorf("got %s, want %s", got, want)
				}
			}},
		{name: "rate auto", args: []string{"--source", "replay:" + block, "--rate", "auto"},
			check: func(tb testing.TB, c system.Config) {
				if got := c.SourceRate(); got != system.DefaultReplayRate {
					tb.Errorf("rate: got %v, want %v", got, system.DefaultReplayRate)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			cfg, err := serveFlags(tt.args, io.Discard)
			if err != nil {
				t.Fatalf("serveFlags: %v", err)
			}
			if err := cfg.Validate(); err != nil {
				t.Errorf("validate: %v", err)
			}
			tt.check(t, cfg)
		})
	}
}

func wantRateLimit(n int) func(testing.TB, system.Config) {
	return func(tb testing.TB, c system.Config) {
		tb.Helper()
		if c.RateLimit != n {
			tb.Errorf("rate limit: got %d, want %d", c.RateLimit, n)
		}
	}
}
