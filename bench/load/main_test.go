package load

import (
	"os"
	"testing"
	"time"

	"github.com/whalecast/whalecast/internal/leakcheck"
)

// TestMain fails the run if a client, publisher or engine goroutine outlives the tests.
func TestMain(m *testing.M) {
	os.Exit(leakcheck.Run(m, 10*time.Second, leakcheck.Module))
}
