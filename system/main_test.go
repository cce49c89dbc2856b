package system_test

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if leaks := waitLeaks(10 * time.Second); leaks != "" {
			fmt.Fprintf(os.Stderr, "goroutines left running after the tests:\n%s\n", leaks)
			code = 1
		}
	}
	os.Exit(code)
}

// leakMarks are the stack frames that mark a goroutine of an engine: its packages, its
// actors, its store and its connections.
var leakMarks = []string{
	"whalecast/whalecast/",
	"protoactor-go/actor.",
	"dgraph-io/badger",
	"dgraph-io/ristretto",
	"gorilla/websocket",
}

// waitLeaks waits until no goroutine of an engine is left, and returns the stacks of those
// still running at the deadline.
func waitLeaks(timeout time.Duration) string {
	deadline := time.Now().Add(timeout)
	for {
		leaks := engineGoroutines()
		if leaks == "" || time.Now().After(deadline) {
			return leaks
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func engineGoroutines() string {
	buf := make([]byte, 4<<20)
	stacks := strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n")
	var leaks []string
	for _, g := range stacks[1:] {
		for _, mark := range leakMarks {
			if strings.Contains(g, mark) {
				leaks = append(leaks, g)
				break
			}
		}
	}
	return strings.Join(leaks, "\n\n")
}
