package notify

import (
	"os"
	"testing"
	"time"

	"github.com/whalecast/whalecast/internal/leakcheck"
)

// TestMain fails the run when a goroutine of this module (a dispatcher worker, a fake mail
// server) or of net/http's server is left running after the tests.
func TestMain(m *testing.M) {
	os.Exit(leakcheck.Run(m, 10*time.Second, leakcheck.Module, "net/http.(*conn).serve"))
}
