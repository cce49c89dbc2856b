package transport

import (
	"log"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/whalecast/whalecast/internal/clock"
)

// errorLogEvery is the least time between two net/http error lines in the log.
const errorLogEvery = time.Second

// throttledErrorLog receives net/http's own error lines (failed TLS handshakes, bad
// requests) and passes at most one per errorLogEvery to the logger, with the count of
// lines dropped since the last one: a scanner's flood costs one line a second.
type throttledErrorLog struct {
	log   *slog.Logger
	clock clock.Clock

	mu      sync.Mutex
	last    time.Time
	dropped int
}

// newErrorLog returns the http.Server ErrorLog for logger.
func newErrorLog(logger *slog.Logger, clk clock.Clock) *log.Logger {
	return log.New(&throttledErrorLog{log: logger, clock: clk}, "", 0)
}

// Write implements io.Writer for log.Logger: one call is one line.
func (t *throttledErrorLog) Write(p []byte) (int, error) {
	now := t.clock.Now()
	t.mu.Lock()
	if !t.last.IsZero() && now.Sub(t.last) < errorLogEvery {
		t.dropped++
		t.mu.Unlock()
		return len(p), nil
	}
	dropped := t.dropped
	t.last, t.dropped = now, 0
	t.mu.Unlock()

	t.log.Warn("http server error", "err", strings.TrimSpace(string(p)),
		"dropped", dropped)
	return len(p), nil
}
