// Package leakcheck fails a test binary whose tests leave goroutines running: every
// package's TestMain calls Run with the stack frames that mark its own goroutines (the
// module's code, and the libraries whose goroutines its tests start).
package leakcheck

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Module marks goroutines running any code of this module.
const Module = "github.com/whalecast/whalecast/"

// Run runs the tests; if they pass, it waits up to timeout for every other goroutine whose
// stack contains one of marks to end, and fails the run (printing their stacks) if some are
// still there. It returns the exit code for os.Exit.
func Run(m *testing.M, timeout time.Duration, marks ...string) int {
	code := m.Run()
	if code != 0 {
		return code
	}
	if leaks := wait(timeout, marks); leaks != "" {
		fmt.Fprintf(os.Stderr, "goroutines left running after the tests:\n%s\n", leaks)
		return 1
	}
	return 0
}

// wait polls until no marked goroutine is left, and returns the stacks still running at
// the deadline.
func wait(timeout time.Duration, marks []string) string {
	deadline := time.Now().Add(timeout)
	for {
		leaks := Marked(marks...)
		if leaks == "" || time.Now().After(deadline) {
			return leaks
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Marked returns the stacks of the goroutines, other than the caller, that contain one of
// marks.
func Marked(marks ...string) string {
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
		for _, mark := range marks {
			if strings.Contains(g, mark) {
				leaks = append(leaks, g)
				break
			}
		}
	}
	return strings.Join(leaks, "\n\n")
}
