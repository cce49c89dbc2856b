package actors_test

import (
	"os"
	"testing"
	"time"

	"github.com/whalecast/whalecast/internal/leakcheck"
)

// TestMain fails the run if code of this module still runs on some goroutine once every test
// is done. Idle actors own no goroutine in protoactor, so what this catches is a stuck
// mailbox, a store writer that never returned, or a goroutine a test forgot. protoactor's own
// helpers (dead-letter throttles, futures) run no code of ours and are not counted.
func TestMain(m *testing.M) {
	os.Exit(leakcheck.Run(m, 5*time.Second, leakcheck.Module))
}
