package load_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/whalecast/whalecast/bench/load"
	"github.com/whalecast/whalecast/bench/load/loadtest"
	"github.com/whalecast/whalecast/system"
	"github.com/whalecast/whalecast/system/systemtest"
)

// testSecret is the engines' WEBSOCKET_SECRET_KEY in these tests.
const testSecret = "whalecast-load-tests-secret-0123456789ab"

// testTimeout bounds a run of these tests beyond its own duration.
const testTimeout = 30 * time.Second

// logBuffer keeps an engine's warnings and errors, shown when a test fails.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// startEngine runs a real engine on 127.0.0.1 with the test secret, limits raised for one
// machine's load, and edit applied.
func startEngine(t *testing.T, edit func(*system.Config)) *systemtest.Engine {
	t.Helper()
	cfg := system.DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.Secret = testSecret
	cfg.Guard.AttemptsPerIP = 10_000
	cfg.Guard.MaxConnsPerIP = 10_000
	if edit != nil {
		edit(&cfg)
	}
	logs := &logBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("engine log:\n%s", logs)
		}
	})
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	return systemtest.Start(t, cfg, log)
}

// secretCredentials mints the run's tokens from secret.
func secretCredentials(t *testing.T, secret string) load.Credentials {
	t.Helper()
	m, err := load.NewSecretMinter([]byte(secret), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	creds, err := m.Credentials()
	if err != nil {
		t.Fatal(err)
	}
	return creds
}

// runLoad runs cfg, failing t if it does not end within its duration and testTimeout.
func runLoad(t *testing.T, ctx context.Context, cfg load.Config) *load.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, cfg.Duration+testTimeout)
	defer cancel()
	res, err := load.Run(ctx, cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if res.Interrupted {
		t.Fatalf("the run did not end within %v", cfg.Duration+testTimeout)
	}
	return res
}

// TestRunAgainstEngine runs the load tool for a few seconds against a real engine, with
// each way of authenticating, and checks that nothing was lost or repeated.
func TestRunAgainstEngine(t *testing.T) {
	const clients = 20
	for _, mode := range []load.AuthMode{load.AuthMessage, load.AuthHeader} {
		t.Run(string(mode), func(t *testing.T) {
			eng := startEngine(t, nil)
			var progress bytes.Buffer
			res := runLoad(t, t.Context(), load.Config{
				URL:          "ws://" + eng.Addr + "/ws",
				Clients:      clients,
				Duration:     2 * time.Second,
				Ramp:         200,
				Credentials:  secretCredentials(t, testSecret),
				Auth:         mode,
				PublishRate:  5,
				PublishEvery: 200 * time.Millisecond,
				Progress:     &progress,
			})
			loadtest.CheckClean(t, res, clients, 5)
			if res.Server == nil || len(res.Server.Stats) == 0 {
				t.Error("server stats: got none, want the engine's /api/v1/stats")
			}
			if !strings.Contains(progress.String(), "connected 20/20") {
				t.Errorf("progress: got %q, want a line with connected 20/20", progress.String())
			}
		})
	}
}

// TestRunWithStalledClient runs with one client that stops reading: the engine closes it as
// a slow consumer, and every other client gets every alert. (The stalled client cannot read
// the 4009 close frame: the engine's write to it is stuck, so it cuts the socket.)
func TestRunWithStalledClient(t *testing.T) {
	const clients = 5
	eng := startEngine(t, nil)
	res := runLoad(t, t.Context(), load.Config{
		URL:         "ws://" + eng.Addr + "/ws",
		Clients:     clients,
		Stalled:     1,
		Duration:    3 * time.Second,
		Ramp:        100,
		Credentials: secretCredentials(t, testSecret),
		// 4,000 alerts of about 500 bytes: past the engine's 1 MiB queue of a connection.
		PublishRate:  2000,
		PublishEvery: 50 * time.Millisecond,
	})
	if c := res.Clients; c.Stalled != 1 || c.StalledClosed != 1 {
		t.Errorf("stalled: got %+v, want the one stalled client closed by the engine", c)
	}
	if got := eng.Engine.Stats().SlowConsumerCloses.Load(); got != 1 {
		t.Errorf("engine's slow consumer closes: got %d, want 1", got)
	}
	if d := res.Delivery; d.ErrorFrames != 0 {
		t.Errorf("error frames %d among the clients that read, want 0", d.ErrorFrames)
	}
	loadtest.CheckClean(t, res, clients, 1000)
}

// TestRunCountsRefusals runs with a secret the engine does not hold: every client is
// refused (4003) and every publish call too (401), and the run still ends and reports.
func TestRunCountsRefusals(t *testing.T) {
	eng := startEngine(t, func(c *system.Config) { c.Guard.BanAfter = 1000 })
	res := runLoad(t, t.Context(), load.Config{
		URL:          "ws://" + eng.Addr + "/ws",
		Clients:      3,
		Duration:     time.Second,
		Credentials:  secretCredentials(t, strings.Repeat("x", 40)),
		PublishRate:  5,
		PublishEvery: 200 * time.Millisecond,
		Drain:        100 * time.Millisecond,
	})
	if c := res.Clients; c.Connected != 0 || c.ConnectErrors != 3 ||
		c.ConnectCauses["close 4003 authentication failed: bad_signature"] != 3 {
		t.Errorf("clients: got %+v, want 3 refused with 4003 bad_signature", c)
	}
	if p := res.Publish; p.Alerts != 0 || p.Failed == 0 || !strings.HasPrefix(p.LastError,
		"http 401") {
		t.Errorf("publish: got %+v, want every call refused with 401", p)
	}
}

// TestRunStopsOnCancel cancels a long run, as Ctrl-C does: it ends at once, closes its
// clients and still reports what it saw.
func TestRunStopsOnCancel(t *testing.T) {
	eng := startEngine(t, nil)
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(1500*time.Millisecond, cancel)
	start := time.Now()
	res, err := load.Run(ctx, load.Config{
		URL:          "ws://" + eng.Addr + "/ws",
		Clients:      5,
		Duration:     time.Minute,
		Credentials:  secretCredentials(t, testSecret),
		PublishRate:  5,
		PublishEvery: 200 * time.Millisecond,
		Progress:     io.Discard,
	})
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 15*time.Second {
		t.Errorf("the run took %v after its cancel, want a prompt stop", took)
	}
	if !res.Interrupted || res.Clients.Connected != 5 || res.Publish.Alerts == 0 {
		t.Errorf("got interrupted %v, %d connected, %d published; want true, 5, some",
			res.Interrupted, res.Clients.Connected, res.Publish.Alerts)
	}
	waitFor(t, "the engine to see every client gone", func() bool {
		s := eng.Stats()
		return s.ConnsAuthenticated.Load() == 0 && s.ConnsUnauthenticated.Load() == 0
	})
}

// waitFor polls cond until it holds, failing t after testTimeout.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", testTimeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
