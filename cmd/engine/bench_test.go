package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/whalecast/whalecast/bench/load"
)

// benchSecret is the WEBSOCKET_SECRET_KEY of the engine of TestBenchCommand's secret case.
const benchSecret = "whalecast-bench-command-secret-0123456789"

// TestBenchCommand runs `engine bench` briefly against a real engine, minting its tokens
// each way, and checks its table and report.
func TestBenchCommand(t *testing.T) {
	tests := []struct {
		name   string
		secret string // the engine's WEBSOCKET_SECRET_KEY; empty: its key ring
		creds  func(t *testing.T, dataDir string) []string
	}{
		{"key ring", "", func(_ *testing.T, dataDir string) []string {
			return []string{"--data", dataDir}
		}},
		{"secret file", benchSecret, func(t *testing.T, _ string) []string {
			path := filepath.Join(t.TempDir(), "bench.secret")
			if err := os.WriteFile(path, []byte(benchSecret+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			return []string{"--secret-file", path, "--auth", "header"}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			t.Setenv(envAdminToken, "")
			dataDir := t.TempDir()
			addr := startEngine(t, dataDir, tt.secret)
			out := filepath.Join(t.TempDir(), "report")
			args := append([]string{"bench", "--url", "ws://" + addr + "/ws",
				"--clients", "5", "--duration", "1s", "--publish-rate", "5",
				"--publish-every", "200ms", "--out", out}, tt.creds(t, dataDir)...)

			code, stdout, stderr := runCmd(t, args...)
			if code != 0 {
				t.Fatalf("exit code: got %d, want 0\nstderr: %s", code, stderr)
			}
			table := strings.Join(strings.Fields(stdout), " ")
			for _, want := range []string{"connected 5 (peak 5)", "connect errors 0", "lost 0",
				"duplicates 0", "latency p99.9"} {
				if !strings.Contains(table, want) {
					t.Errorf("table lacks %q:\n%s", want, stdout)
				}
			}
			for _, name := range []string{load.ReportJSON, load.ReportHTML} {
				if _, err := os.Stat(filepath.Join(out, name)); err != nil {
					t.Errorf("report: %v", err)
				}
			}
		})
	}
}

func TestBenchUsage(t *testing.T) {
	base := []string{"bench", "--clients", "1", "--duration", "1s"}
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStderr string
	}{
		{"help", []string{"bench", "--help"}, 0, "-secret-file"},
		{"no credential", base, 2, "exactly one of"},
		{"two credentials", append(base, "--no-auth", "--token", "t"), 2, "exactly one of"},
		{"remote url", append(base, "--no-auth", "--url", "ws://192.0.2.1:8765/ws"), 2,
			"not on this machine"},
		{"http url", append(base, "--no-auth", "--url", "http://127.0.0.1:8765/ws"), 2,
			"want ws://"},
		{"unknown auth mode", append(base, "--no-auth", "--auth", "cookie"), 2,
			"message or header"},
		{"token without an admin token", append(base, "--token", "t"), 2,
			"publishing needs an admin token"},
		{"no clients", []string{"bench", "--no-auth", "--clients", "0"}, 2, "clients 0"},
		{"stray argument", append(base, "--no-auth", "now"), 2, "unexpected argument"},
		{"missing key ring", append(base, "--data", "/nonexistent-whalecast"), 1,
			"no key ring"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			t.Setenv(envAdminToken, "")
			code, _, stderr := runCmd(t, tt.args...)
			if code != tt.wantCode || !strings.Contains(stderr, tt.wantStderr) {
				t.Errorf("got exit %d, stderr %q; want exit %d mentioning %q", code, stderr,
					tt.wantCode, tt.wantStderr)
			}
		})
	}
}
