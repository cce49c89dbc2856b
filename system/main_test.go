package system_test

import (
	"os"
	"testing"
	"time"

	"github.com/whalecast/whalecast/internal/leakcheck"
)

// TestMain fails the run if a goroutine of an engine is left: its packages, its actors, its
// store or its connections.
func TestMain(m *testing.M) {
	os.Exit(leakcheck.Run(m, 10*time.Second, leakcheck.Module, "protoactor-go/actor.",
		"dgraph-io/badger", "dgraph-io/ristretto", "gorilla/websocket"))
}
