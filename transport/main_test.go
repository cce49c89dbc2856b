package transport

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestMain fails the run when a goroutine of this package or of net/http's server is left
// running after the tests: every server and connection a test opens must be closed.
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

// leakMarks are stack frames of goroutines the tests start.
var leakMarks = []string{"whalecast/whalecast/", "net/http.(*conn).serve", "gorilla/websocket"}

// waitLeaks waits until no marked goroutine is left and returns the stacks still running
// at the deadline.
func waitLeaks(timeout time.Duration) string {
	deadline := time.Now().Add(timeout)
	for {
		leaks := markedGoroutines()
		if leaks == "" || time.Now().After(deadline) {
			return leaks
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func markedGoroutines() string {
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
