package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// processLifetime bounds an engine child process: it is killed if it still runs then, so a
// test that dies early cannot leave it behind.
const processLifetime = 2 * time.Minute

// keptLogLines is how many of a child's last log lines are kept for failure messages.
const keptLogLines = 40

// engineProcess is `engine serve` running as a child process: the test binary re-executed
// with childArgsEnv (see TestMain), its JSON log read line by line.
type engineProcess struct {
	cmd    *exec.Cmd
	cancel context.CancelFunc
	// addrs receives the address of the "listening" log line, once.
	addrs chan string
	// exited is closed once the process has ended and waitErr is set.
	exited  chan struct{}
	waitErr error
	stderr  io.Reader

	mu   sync.Mutex
	tail []string // the last keptLogLines log lines
}

// startProcess starts `engine serve args...` as a child process with the given extra
// environment (NAME=value). The process is killed, if it still runs, when the test ends.
func startProcess(tb testing.TB, env []string, args ...string) *engineProcess {
	tb.Helper()
	raw, err := json.Marshal(append([]string{"serve"}, args...))
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), processLifetime)
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(childEnv(), childArgsEnv+"="+string(raw))
	cmd.Env = append(cmd.Env, env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		cancel()
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		cancel()
		tb.Fatalf("start engine process: %v", err)
	}
	p := &engineProcess{cmd: cmd, cancel: cancel, addrs: make(chan string, 1),
		exited: make(chan struct{})}
	p.stderr = stderr
	go p.readLog(bufio.NewScanner(stderr))
	tb.Cleanup(func() {
		p.kill(tb)
		p.cancel()
	})
	return p
}

// childEnv returns the test's environment without the variables the engine reads, so that
// a child sees only what a test gives it. A child built with -race exits without the race
// detector's pause of a second, so that the tests time the engine's stop, not the pause.
func childEnv() []string {
	race := "atexit_sleep_ms=0"
	var out []string
	for _, kv := range os.Environ() {
		name, value, _ := strings.Cut(kv, "=")
		switch name {
		case envSecret, envTokenExpiry, envRateLimit, envRateWindow, childArgsEnv:
			continue
		case "GORACE":
			race = value + " " + race
			continue
		}
		out = append(out, kv)
	}
	return append(out, "GORACE="+race)
}

// readLog keeps the child's last log lines and reports its listening address, until the
// child's stderr ends; then it waits for the process.
func (p *engineProcess) readLog(sc *bufio.Scanner) {
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		p.mu.Lock()
		if len(p.tail) == keptLogLines {
			p.tail = p.tail[1:]
		}
		p.tail = append(p.tail, line)
		p.mu.Unlock()
		var rec struct {
			Msg  string `json:"msg"`
			Addr string `json:"addr"`
		}
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "listening" {
			select {
			case p.addrs <- rec.Addr:
			default:
			}
		}
	}
	// A line too long stops the scanner: drain the rest, or the child would block on it.
	_, _ = io.Copy(io.Discard, p.stderr)
	p.waitErr = p.cmd.Wait()
	close(p.exited)
}

// logTail returns the child's last log lines.
func (p *engineProcess) logTail() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.tail, "\n")
}

// addr waits for the child's "listening" line and returns its address.
func (p *engineProcess) addr(tb testing.TB) string {
	tb.Helper()
	select {
	case a := <-p.addrs:
		p.addrs <- a
		return a
	case <-p.exited:
		tb.Fatalf("engine process ended before listening: %v\n%s", p.waitErr, p.logTail())
	case <-time.After(waitTimeout):
		tb.Fatalf("engine process not listening within %v\n%s", waitTimeout, p.logTail())
	}
	return ""
}

// kill sends SIGKILL to the child, if it still runs, and waits for it to end.
func (p *engineProcess) kill(tb testing.TB) {
	tb.Helper()
	select {
	case <-p.exited:
		return
	default:
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil &&
		!errors.Is(err, os.ErrProcessDone) {
		tb.Errorf("SIGKILL engine process: %v", err)
	}
	select {
	case <-p.exited:
	case <-time.After(waitTimeout):
		tb.Errorf("engine process still running %v after SIGKILL", waitTimeout)
	}
}

// terminate sends SIGTERM and waits up to within for the child to exit; it returns the
// exit code and how long the exit took.
func (p *engineProcess) terminate(tb testing.TB, within time.Duration) (int, time.Duration) {
	tb.Helper()
	start := time.Now()
	p.signal(tb, syscall.SIGTERM)
	code := p.waitExit(tb, within)
	return code, time.Since(start)
}

// signal sends sig to the child.
func (p *engineProcess) signal(tb testing.TB, sig os.Signal) {
	tb.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		tb.Fatalf("signal %v to the engine process: %v", sig, err)
	}
}

// waitExit waits up to within for the child to exit and returns its exit code.
func (p *engineProcess) waitExit(tb testing.TB, within time.Duration) int {
	tb.Helper()
	select {
	case <-p.exited:
	case <-time.After(within):
		tb.Fatalf("engine process still running after %v\n%s", within, p.logTail())
	}
	var exit *exec.ExitError
	switch {
	case p.waitErr == nil:
		return 0
	case errors.As(p.waitErr, &exit):
		return exit.ExitCode()
	}
	tb.Fatalf("wait for engine process: %v", p.waitErr)
	return 0
}
