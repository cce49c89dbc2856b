package main

import (
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/whalecast/whalecast/system"
	"github.com/whalecast/whalecast/transport"
)

func TestServeSecurityFlags(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		check func(tb testing.TB, c system.Config)
	}{
		{name: "defaults", check: func(tb testing.TB, c system.Config) {
			g := c.Guard
			if g.MaxConns != transport.DefaultMaxConns || g.MaxConnsPerIP != 100 ||
				g.AttemptsPerIP != 20 || g.BanAfter != 10 || g.BanWindow != time.Minute ||
				g.BanFor != 15*time.Minute || c.MaxTokenLifetime != 7*24*time.Hour ||
				c.RefreshWindow != time.Hour || c.TokenLeeway != 0 ||
				c.AllowedOrigins != nil || c.AllowedHosts != nil || c.TrustedProxies != "" ||
				c.TLSCert != "" {
				tb.Errorf("got %+v guard %+v, want the defaults", c, g)
			}
		}},
		{name: "tokens", args: []string{"--max-token-lifetime", "48h", "--token-issuer",
			"https://issuer.example", "--token-audience", "whalecast", "--token-leeway",
			"10s", "--refresh-window", "30m"},
			check: func(tb testing.TB, c system.Config) {
				if c.MaxTokenLifetime != 48*time.Hour || c.TokenIssuer !=
					"https://issuer.example" || c.TokenAudience != "whalecast" ||
					c.TokenLeeway != 10*time.Second || c.RefreshWindow != 30*time.Minute {
					tb.Errorf("got lifetime %v iss %q aud %q leeway %v refresh %v",
						c.MaxTokenLifetime, c.TokenIssuer, c.TokenAudience, c.TokenLeeway,
						c.RefreshWindow)
				}
			}},
		{name: "origins and proxies", args: []string{"--allowed-origins",
			" https://a.example, ,https://b.example:8443", "--trusted-proxies",
			"10.0.0.0/8, 127.0.0.1"},
			check: func(tb testing.TB, c system.Config) {
				want := []string{"https://a.example", "https://b.example:8443"}
				if !slices.Equal(c.AllowedOrigins, want) ||
					c.TrustedProxies != "10.0.0.0/8, 127.0.0.1" {
					tb.Errorf("got origins %q proxies %q, want %q", c.AllowedOrigins,
						c.TrustedProxies, want)
				}
			}},
		{name: "hosts", args: []string{"--allowed-hosts",
			"whales.example, proxy.internal:8080 ,[::1]:9000"},
			check: func(tb testing.TB, c system.Config) {
				want := []string{"whales.example", "proxy.internal:8080", "[::1]:9000"}
				if !slices.Equal(c.AllowedHosts, want) {
					tb.Errorf("got hosts %q, want %q", c.AllowedHosts, want)
				}
			}},
		{name: "guards", args: []string{"--max-conns", "50", "--max-conns-per-ip", "5",
			"--conn-rate-per-ip", "2", "--ban-after", "4", "--ban-window", "30s",
			"--ban-for", "1h"},
			check: func(tb testing.TB, c system.Config) {
				want := transport.GuardConfig{MaxConns: 50, MaxConnsPerIP: 5, AttemptsPerIP: 2,
					BanAfter: 4, BanWindow: 30 * time.Second, BanFor: time.Hour}
				if c.Guard != want {
					tb.Errorf("guard: got %+v, want %+v", c.Guard, want)
				}
			}},
		{name: "tls", args: []string{"--tls-cert", "c.pem", "--tls-key", "k.pem"},
			check: func(tb testing.TB, c system.Config) {
				if c.TLSCert != "c.pem" || c.TLSKey != "k.pem" {
					tb.Errorf("got cert %q key %q", c.TLSCert, c.TLSKey)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
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

func TestServeSecurityRefusals(t *testing.T) {
	missing := "replay:" + filepath.Join(t.TempDir(), "missing.dat")
	tests := []struct {
		name       string
		args       []string
		want       int
		wantStderr string
	}{
		{"leeway over 30 s", []string{"--token-leeway", "31s"}, 2, "--token-leeway"},
		{"negative max conns", []string{"--max-conns", "-1"}, 2, "--max-conns"},
		{"negative ban window", []string{"--ban-window", "-1s"}, 2, "--ban-window"},
		{"per-IP cap over the total", []string{"--max-conns", "10", "--max-conns-per-ip",
			"11"}, 2, "--max-conns-per-ip"},
		{"tls cert without key", []string{"--tls-cert", "c.pem"}, 2, "--tls-key"},
		{"tls files missing", []string{"--tls-cert", "/nonexistent/c.pem", "--tls-key",
			"/nonexistent/k.pem"}, 2, "--tls-cert"},
		{"origin with a path", []string{"--allowed-origins", "https://a.example/x"}, 2,
			"--allowed-origins"},
		{"origin of another scheme", []string{"--allowed-origins", "ftp://a.example"}, 2,
			"--allowed-origins"},
		{"host with a scheme", []string{"--allowed-hosts", "http://a.example"}, 2,
			"--allowed-hosts"},
		{"host wildcard", []string{"--allowed-hosts", "*.example"}, 2, "--allowed-hosts"},
		{"host with a bad port", []string{"--allowed-hosts", "a.example:99999"}, 2,
			"--allowed-hosts"},
		{"proxy not an address", []string{"--trusted-proxies", "proxy.example"}, 2,
			"--trusted-proxies"},
		{"no-auth on every interface", []string{"--no-auth", "--addr", "0.0.0.0:0"}, 2,
			"--no-auth"},
		{"max conns not a number", []string{"--max-conns", "many"}, 2, "-max-conns"},
		{"refresh window zero", []string{"--refresh-window", "0s"}, 2, "--refresh-window"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			args := append([]string{"serve", "--addr", "127.0.0.1:0", "--data", t.TempDir(),
				"--source", missing}, tt.args...)
			code, stdout, stderr := runCmd(t, args...)
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

// TestTokenIssuerAudience mints tokens for an engine that requires iss and aud: only a token
// minted with the same --token-issuer and --token-audience is accepted.
func TestTokenIssuerAudience(t *testing.T) {
	clearEnv(t)
	dir := t.TempDir()
	cfg := replayCfg(t, dir)
	cfg.TokenIssuer, cfg.TokenAudience = "https://issuer.test", "whalecast-test"
	tests := []struct {
		name string
		args []string
		want int
	}{
		{"issuer and audience", []string{"--token-issuer", "https://issuer.test",
			"--token-audience", "whalecast-test"}, 200},
		{"no issuer", []string{"--token-audience", "whalecast-test"}, 401},
		{"wrong audience", []string{"--token-issuer", "https://issuer.test",
			"--token-audience", "other"}, 401},
	}
	toks := make([]string, len(tests))
	for i, tt := range tests {
		args := append([]string{"token", "--data", dir, "--client", "aud-client"}, tt.args...)
		code, stdout, stderr := runCmd(t, args...)
		if code != 0 {
			t.Fatalf("%s: engine token: exit %d: %s", tt.name, code, stderr)
		}
		toks[i] = strings.TrimSpace(stdout)
	}
	re := serveEngine(t, cfg)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := doGet(t, http.DefaultClient, "http://"+re.addr+"/api/v1/stats",
				map[string]string{"Authorization": "Bearer " + toks[i]})
			if got != tt.want {
				t.Errorf("status: got %d, want %d", got, tt.want)
			}
		})
	}
}
