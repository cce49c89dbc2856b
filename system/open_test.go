package system_test

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/whalecast/whalecast/internal/auth"
	"github.com/whalecast/whalecast/internal/clock"
	"github.com/whalecast/whalecast/persistence"
	"github.com/whalecast/whalecast/system"
)

func TestOpenRefuses(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no-such-block.dat")
	tests := []struct {
		name string
		edit func(cfg *system.Config)
		// wantIs is a sentinel the error must wrap (nil: none checked).
		wantIs error
		// wantText are pieces the error's text must hold.
		wantText []string
	}{
		{name: "no-auth on every interface", wantIs: system.ErrConfig,
			wantText: []string{"--no-auth", "0.0.0.0:0", "loopback"},
			edit:     func(c *system.Config) { c.NoAuth, c.Addr = true, "0.0.0.0:0" }},
		{name: "no-auth on every IPv6 interface", wantIs: system.ErrConfig,
			wantText: []string{"--no-auth", "loopback"},
			edit:     func(c *system.Config) { c.NoAuth, c.Addr = true, "[::]:0" }},
		{name: "secret of 31 bytes", wantIs: auth.ErrWeakSecret,
			wantText: []string{"WEBSOCKET_SECRET_KEY"},
			edit:     func(c *system.Config) { c.Secret = strings.Repeat("s", 31) }},
		{name: "replay file missing", wantText: []string{missing},
			edit: func(c *system.Config) { c.Source = "replay:" + missing }},
		{name: "unknown source", wantIs: system.ErrConfig, wantText: []string{"kafka"},
			edit: func(c *system.Config) { c.Source = "kafka" }},
		{name: "zmq endpoint without port", wantIs: system.ErrConfig,
			wantText: []string{"zmq:tcp://127.0.0.1", "port"},
			edit:     func(c *system.Config) { c.Source = "zmq:tcp://127.0.0.1" }},
		{name: "zmq endpoint not tcp", wantIs: system.ErrConfig, wantText: []string{"tcp"},
			edit: func(c *system.Config) { c.Source = "zmq:ipc:///tmp/bitcoind" }},
		{name: "threshold over 21 million", wantIs: system.ErrConfig,
			wantText: []string{"--min-btc"},
			edit:     func(c *system.Config) { c.MinBTC = 21_000_001 }},
		{name: "no data directory", wantIs: system.ErrConfig, wantText: []string{"--data"},
			edit: func(c *system.Config) { c.DataDir = "" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := replayConfig(t)
			tt.edit(&cfg)
			eng, err := system.Open(cfg, testLogger(t), clock.Real{})
			if err == nil {
				_ = eng.Shutdown(context.Background())
				t.Fatalf("open: got no error, want one")
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("open: got %v, want an error wrapping %v", err, tt.wantIs)
			}
			for _, s := range tt.wantText {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("open: got %q, want it to name %q", err, s)
				}
			}
			if strings.Contains(err.Error(), testSecret) {
				t.Errorf("open: error %q holds the secret", err)
			}

			// A refused open leaves nothing locked: a good configuration opens the same
			// directory.
			good := replayConfig(t)
			good.DataDir = cfg.DataDir
			if good.DataDir == "" {
				return
			}
			eng, err = system.Open(good, testLogger(t), clock.Real{})
			if err != nil {
				t.Fatalf("open after a refusal: %v", err)
			}
			if err := eng.Shutdown(context.Background()); err != nil {
				t.Errorf("shutdown of an engine never started: %v", err)
			}
		})
	}
}

func TestOpenRefusesDataDirInUse(t *testing.T) {
	cfg := replayConfig(t)
	first := startEngine(t, cfg)
	first.waitLastSeq(t, lastSeq277647)

	second, err := system.Open(cfg, slog.New(slog.DiscardHandler), clock.Real{})
	if err == nil {
		_ = second.Shutdown(context.Background())
		t.Fatal("second open: got no error, want one")
	}
	if !errors.Is(err, persistence.ErrLocked) {
		t.Errorf("second open: got %v, want an error wrapping %v", err, persistence.ErrLocked)
	}
	if !strings.Contains(err.Error(), cfg.DataDir) {
		t.Errorf("second open: got %q, want it to name the data directory %s", err,
			cfg.DataDir)
	}

	// The first engine goes on serving.
	var stats struct {
		LastSeq uint64 `json:"last_seq"`
	}
	tok := token(t, "open-reader", auth.PermRead)
	if got := getJSON(t, first, "/api/v1/stats", tok, &stats); got != 200 ||
		stats.LastSeq != lastSeq277647 {
		t.Errorf("first engine's stats: got %d with last_seq %d, want 200 with %d", got,
			stats.LastSeq, lastSeq277647)
	}
	if got := getJSON(t, first, "/healthz", "", nil); got != 200 {
		t.Errorf("first engine's health: got %d, want 200", got)
	}
}
