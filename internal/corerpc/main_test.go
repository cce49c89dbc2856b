package corerpc

import (
	"os"
	"testing"
	"time"

	"github.com/whalecast/whalecast/internal/leakcheck"
)

// TestMain fails the run if a handler of a fake node, or any other code of this module,
// still runs once the tests are done.
func TestMain(m *testing.M) {
	os.Exit(leakcheck.Run(m, 5*time.Second, leakcheck.Module))
}
