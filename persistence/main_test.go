package persistence_test

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// childEnv selects a child mode when the test binary re-executes itself; childDirEnv names
// the data directory the child uses.
const (
	childEnv    = "WHALECAST_PERSISTENCE_CHILD"
	childDirEnv = "WHALECAST_PERSISTENCE_CHILD_DIR"
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(childEnv); mode != "" {
		os.Exit(runChild(mode, os.Getenv(childDirEnv)))
	}

	code := m.Run()
	if code == 0 {
		if leaks := waitLeaks(5 * time.Second); leaks != "" {
			fmt.Fprintf(os.Stderr, "goroutines left running after the tests:\n%s\n", leaks)
			code = 1
		}
	}
	os.Exit(code)
}

// waitLeaks waits until no goroutine of this package or of Badger is left, and returns the
// stacks of those still running at the deadline.
func waitLeaks(timeout time.Duration) string {
	deadline := time.Now().Add(timeout)
	for {
		leaks := storeGoroutines()
		if leaks == "" || time.Now().After(deadline) {
			return leaks
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// storeGoroutines returns the stacks of every other goroutine that runs code of this
// package or of Badger.
func storeGoroutines() string {
	buf := make([]byte, 1<<20)
	stacks := strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n")

	var leaks []string
	for _, g := range stacks[1:] {
		if strings.Contains(g, "whalecast/persistence.") ||
			strings.Contains(g, "dgraph-io/badger") ||
			strings.Contains(g, "dgraph-io/ristretto") {
			leaks = append(leaks, g)
		}
	}
	return strings.Join(leaks, "\n\n")
}
