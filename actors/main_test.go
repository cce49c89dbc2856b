package actors_test

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestMain fails the run if code of this module still runs on some goroutine once every test
// is done. Idle actors own no goroutine in protoactor, so what this catches is a stuck
// mailbox, a store writer that never returned, or a goroutine a test forgot. protoactor's own
// helpers (dead-letter throttles, futures) run no code of ours and are not counted.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if leaks := waitLeaks(5 * time.Second); leaks != "" {
			fmt.Fprintf(os.Stderr, "goroutines still running whalecast code:\n%s\n", leaks)
			code = 1
		}
	}
	os.Exit(code)
}

// waitLeaks waits up to timeout for every other goroutine running code of this module to
// end, and returns the stacks of those left.
func waitLeaks(timeout time.Duration) string {
	deadline := time.Now().Add(timeout)
	for {
		leaks := moduleGoroutines()
		if leaks == "" || time.Now().After(deadline) {
			return leaks
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// moduleGoroutines returns the stacks of the goroutines, other than the caller, that have a
// frame of this module.
func moduleGoroutines() string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var leaks []string
	for _, g := range strings.Split(string(buf), "\n\n")[1:] {
		if strings.Contains(g, "github.com/whalecast/whalecast/") {
			leaks = append(leaks, g)
		}
	}
	return strings.Join(leaks, "\n\n")
}
