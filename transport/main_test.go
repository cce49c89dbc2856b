package transport

import (
	"os"
	"testing"
	"time"

	"github.com/whalecast/whalecast/internal/leakcheck"
)

// TestMain fails the run when a goroutine of this package or of net/http's server is left
// running after the tests: every server and connection a test opens must be closed.
func TestMain(m *testing.M) {
	os.Exit(leakcheck.Run(m, 10*time.Second, leakcheck.Module, "net/http.(*conn).serve",
		"gorilla/websocket"))
}
