package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
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
	args, err := json.Marshal([]string{"serve", "--addr", "127.0.0.1:0", "--data", dir,
		"--source", "replay:" + btcdtest.Block277647(t), "--rate", "0"})
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*waitTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childArgsEnv+"="+string(args), envSecret+"="+testSecret)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start engine process: %v", err)
	}
	// exited is closed once the process ended and waitErr is set.
	exited := make(chan struct{})
	var waitErr error
	lines := make(chan string, 1024)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default: // the test stopped listening: drop the line
			}
		}
		close(lines)
		waitErr = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		select {
		case <-exited:
		case <-time.After(waitTimeout):
			t.Errorf("engine process did not exit after kill")
		}
	})

	addr := listeningAddr(t, lines)
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
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	_ = c.SetReadDeadline(time.Now().Add(waitTimeout))
	if _, data, err := c.ReadMessage(); err == nil {
		t.Errorf("client after SIGTERM: got message %s, want close 1001", data)
	} else if !strings.Contains(err.Error(), "1001") {
		t.Errorf("client after SIGTERM: got %v, want close 1001", err)
	}
	stopped := drainUntil(t, lines, `"engine stopped"`)
	select {
	case <-exited:
		var ee *exec.ExitError
		if errors.As(waitErr, &ee) {
			t.Errorf("exit: got code %d, want 0", ee.ExitCode())
		} else if waitErr != nil {
			t.Errorf("wait: %v", waitErr)
		}
	case <-time.After(waitTimeout):
		t.Fatalf("engine process still running %v after SIGTERM", waitTimeout)
	}
	if !stopped {
		t.Errorf("log: no \"engine stopped\" line after SIGTERM")
	}
}

// listeningAddr reads log lines until the engine's "listening" line and returns its address.
func listeningAddr(tb testing.TB, lines <-chan string) string {
	tb.Helper()
	timeout := time.After(waitTimeout)
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				tb.Fatal("engine process ended before listening")
			}
			var rec struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "listening" {
				return rec.Addr
			}
		case <-timeout:
			tb.Fatalf("no listening line within %v", waitTimeout)
		}
	}
}

// drainUntil reads log lines until one holds want (true) or the output ends (false).
func drainUntil(tb testing.TB, lines <-chan string, want string) bool {
	tb.Helper()
	timeout := time.After(waitTimeout)
	found := false
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				return found
			}
			found = found || strings.Contains(line, want)
		case <-timeout:
			tb.Fatalf("log output still open %v after SIGTERM", waitTimeout)
		}
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
