package transport

import (
	"context"
	"log"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/whalecast/whalecast/internal/clock"
)

// Least time between two log lines of one kind that a client can cause.
const (
	// errorLogEvery spaces net/http's own error lines and failed store calls.
	errorLogEvery = time.Second
	// healthLogEvery spaces the lines of an unhealthy /healthz: the state lasts, the probe
	// repeats, and anyone may call it.
	healthLogEvery = time.Minute
)

// throttle lets one event through per interval and counts the ones it holds back, so that a
// client repeating a failure costs one log line per interval. It is safe for concurrent use.
type throttle struct {
	every time.Duration
	clock clock.Clock

	mu      sync.Mutex
	last    time.Time
	dropped int
}

func newThrottle(every time.Duration, clk clock.Clock) *throttle {
	return &throttle{every: every, clock: clk}
}

// allow reports whether an event may be logged now and, when it may, how many were held
// back since the last one.
func (t *throttle) allow() (ok bool, dropped int) {
	now := t.clock.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.last.IsZero() && now.Sub(t.last) < t.every {
		t.dropped++
		return false, 0
	}
	dropped = t.dropped
	t.last, t.dropped = now, 0
	return true, dropped
}

// log writes one line at level through t: args, plus the count of lines held back.
func (t *throttle) log(l *slog.Logger, level slog.Level, msg string, args ...any) {
	ok, dropped := t.allow()
	if !ok {
		return
	}
	l.Log(context.Background(), level, msg, append(args, "dropped", dropped)...)
}

// throttledErrorLog receives net/http's own error lines (failed TLS handshakes, bad
// requests) and passes at most one per errorLogEvery to the logger: a scanner's flood costs
// one line a second.
type throttledErrorLog struct {
	log *slog.Logger
	t   *throttle
}

// newErrorLog returns the http.Server ErrorLog for logger.
func newErrorLog(logger *slog.Logger, clk clock.Clock) *log.Logger {
	return log.New(&throttledErrorLog{log: logger, t: newThrottle(errorLogEvery, clk)}, "", 0)
}

// Write implements io.Writer for log.Logger: one call is one line.
func (w *throttledErrorLog) Write(p []byte) (int, error) {
	w.t.log(w.log, slog.LevelWarn, "http server error", "err", strings.TrimSpace(string(p)))
	return len(p), nil
}
