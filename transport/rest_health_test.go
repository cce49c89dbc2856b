package transport

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/whalecast/whalecast/internal/auth"
)

// TestHealthzSaysNoMore checks that the unauthenticated /healthz answers its status only:
// no seq (it would time alerts) and no cause (it may name files). The cause goes to the log,
// once for many calls, and to the authenticated /api/v1/stats.
func TestHealthzSaysNoMore(t *testing.T) {
	var unhealthy atomic.Bool
	cause := errors.New("store: write /var/lib/whalecast/badger/000042.vlog: disk full")
	logs := &syncBuffer{}
	f := newFixture(t, func(c *Config) {
		c.Health = func() error {
			if unhealthy.Load() {
				return cause
			}
			return nil
		}
		c.Logger = slog.New(slog.NewTextHandler(logs, nil))
	})
	tok := f.token(t, "reader", auth.PermRead)

	tests := []struct {
		name       string
		unhealthy  bool
		wantStatus int
		wantBody   string
		wantHealth healthDetail
	}{
		{"healthy", false, 200, `{"status":"ok"}`, healthDetail{Status: "ok"}},
		{"unhealthy", true, 503, `{"status":"unhealthy"}`,
			healthDetail{Status: "unhealthy", Error: cause.Error()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			unhealthy.Store(tt.unhealthy)
			for range 5 {
				got := call(t, http.MethodGet, f.url+"/healthz", nil)
				if got.status != tt.wantStatus || strings.TrimSpace(string(got.body)) !=
					tt.wantBody {
					t.Fatalf("healthz: got %d %s, want %d %s", got.status, got.body,
						tt.wantStatus, tt.wantBody)
				}
			}

			got := call(t, http.MethodGet, f.url+"/api/v1/stats", bearer(tok))
			var stats struct {
				Version string       `json:"version"`
				LastSeq uint64       `json:"last_seq"`
				Health  healthDetail `json:"health"`
				Stored  *int64       `json:"alerts_stored"`
			}
			if err := json.Unmarshal(got.body, &stats); err != nil || got.status != 200 {
				t.Fatalf("stats: got %d %s (%v), want 200 with JSON", got.status, got.body,
					err)
			}
			if stats.Version != "test" || stats.LastSeq != 2 || stats.Health != tt.wantHealth ||
				stats.Stored == nil {
				t.Errorf("stats: got %+v, want version test, last_seq 2, health %+v and "+
					"the counters", stats, tt.wantHealth)
			}
		})
	}

	lines := logs.lines("health check failed")
	if len(lines) != 1 || !strings.Contains(lines[0], "level=ERROR") ||
		!strings.Contains(lines[0], "disk full") {
		t.Errorf("log: got %q, want one error line with the cause for 5 calls", lines)
	}
}

// syncBuffer collects log lines from concurrent handlers.
type syncBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// lines returns the lines that hold s.
func (b *syncBuffer) lines(s string) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for line := range strings.SplitSeq(b.buf.String(), "\n") {
		if strings.Contains(line, s) {
			out = append(out, line)
		}
	}
	return out
}
