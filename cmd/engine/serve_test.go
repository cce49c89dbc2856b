package main

import (
	"encoding/json"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/whalecast/whalecast/internal/btcdtest"
)

// TestServeProcess runs `engine serve` as a process (the test binary re-executed), uses it,
// and stops it with SIGTERM: the process must shut down cleanly and exit 0.
func TestServeProcess(t *testing.T) {
	clearEnv(t)
	dir := t.TempDir()
	p := startProcess(t, []string{envSecret + "=" + testSecret}, "--addr", "127.0.0.1:0",
		"--data", dir, "--source", "replay:"+btcdtest.Block277647(t), "--rate", "0")
	addr := p.addr(t)
	if !strings.HasPrefix(addr, "127.0.0.1:") {
		t.Fatalf("listening on %q, want 127.0.0.1", addr)
	}

	_, stdout, _ := runCmdEnv(t, map[string]string{envSecret: testSecret}, "token",
		"--client", "proc", "--data", dir)
	tok := strings.TrimSpace(stdout)
	c, _ := wsSession(t, "ws://"+addr+"/ws", tok, 0)
	check277647(t, c)
	if got, body := getStatus(t, "http://"+addr+"/healthz", ""); got != 200 ||
		body != `{"status":"ok"}` {
		t.Errorf("healthz: got %d %s, want 200 with only status ok", got, body)
	}
	var stats struct {
		LastSeq *uint64 `json:"last_seq"`
	}
	got, body := getStatus(t, "http://"+addr+"/api/v1/stats", tok)
	if err := json.Unmarshal([]byte(body), &stats); got != 200 || err != nil ||
		stats.LastSeq == nil || *stats.LastSeq != uint64(len(block277647)) {
		t.Errorf("stats: got %d %s, want 200 with last_seq %d", got, body,
			len(block277647))
	}

	// The connected client must get 1001 while the process stops.
	p.signal(t, syscall.SIGTERM)
	_ = c.SetReadDeadline(time.Now().Add(waitTimeout))
	if _, data, err := c.ReadMessage(); err == nil {
		t.Errorf("client after SIGTERM: got message %s, want close 1001", data)
	} else if !strings.Contains(err.Error(), "1001") {
		t.Errorf("client after SIGTERM: got %v, want close 1001", err)
	}
	if code := p.waitExit(t, waitTimeout); code != 0 {
		t.Errorf("exit: got code %d, want 0\n%s", code, p.logTail())
	}
	if !strings.Contains(p.logTail(), `"engine stopped"`) {
		t.Errorf("log: no \"engine stopped\" line after SIGTERM")
	}
}

// runCmdEnv runs a command line in process with env set for the rest of the test.
func runCmdEnv(tb testing.TB, env map[string]string, args ...string) (int, string, string) {
	tb.Helper()
	for k, v := range env {
		tb.Setenv(k, v)
	}
	return runCmd(tb, args...)
}
