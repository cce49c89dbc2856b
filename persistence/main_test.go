package persistence_test

import (
	"os"
	"testing"
	"time"

	"github.com/whalecast/whalecast/internal/leakcheck"
)

// childEnv selects a child mode when the test binary re-executes itself; childDirEnv names
// the data directory the child uses.
const (
	childEnv    = "WHALECAST_PERSISTENCE_CHILD"
	childDirEnv = "WHALECAST_PERSISTENCE_CHILD_DIR"
)

// TestMain runs a child mode when asked to, and otherwise fails the run if a goroutine of
// this package or of Badger is left once the tests are done.
func TestMain(m *testing.M) {
	if mode := os.Getenv(childEnv); mode != "" {
		os.Exit(runChild(mode, os.Getenv(childDirEnv)))
	}
	os.Exit(leakcheck.Run(m, 5*time.Second, "whalecast/persistence.", "dgraph-io/badger",
		"dgraph-io/ristretto"))
}
