// Package systemtest runs a real engine for tests of other packages: opened, started and
// served on a listener of its own on 127.0.0.1, and stopped cleanly when the test ends.
package systemtest

import (
	"context"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/whalecast/whalecast/internal/clock"
	"github.com/whalecast/whalecast/system"
)

// ShutdownTimeout bounds the engine's graceful stop in Stop.
const ShutdownTimeout = 20 * time.Second

// Engine is a running engine. Its Addr is host:port on 127.0.0.1.
type Engine struct {
	*system.Engine
	Addr string

	served chan error
	once   sync.Once
}

// Start opens an engine with cfg (its Addr is ignored: the engine listens on 127.0.0.1:0),
// starts it and serves it; it is stopped when the test ends, or earlier by Stop.
func Start(tb testing.TB, cfg system.Config, log *slog.Logger) *Engine {
	tb.Helper()
	eng, err := system.Open(cfg, log, clock.Real{})
	if err != nil {
		tb.Fatalf("open engine: %v", err)
	}
	return Run(tb, eng)
}

// Run starts an opened engine and serves it on 127.0.0.1 port 0; it is stopped when the
// test ends, or earlier by Stop. On failure the engine is shut down.
func Run(tb testing.TB, eng *system.Engine) *Engine {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		_ = eng.Shutdown(context.Background())
		tb.Fatalf("listen: %v", err)
	}
	if err := eng.Start(); err != nil {
		_ = ln.Close()
		_ = eng.Shutdown(context.Background())
		tb.Fatalf("start engine: %v", err)
	}
	e := &Engine{Engine: eng, Addr: ln.Addr().String(), served: make(chan error, 1)}
	go func() { e.served <- eng.Serve(ln) }()
	tb.Cleanup(func() { e.Stop(tb) })
	return e
}

// Stop shuts the engine down once and checks that it stopped cleanly and that Serve
// returned, within ShutdownTimeout.
func (e *Engine) Stop(tb testing.TB) {
	tb.Helper()
	e.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
		defer cancel()
		if err := e.Shutdown(ctx); err != nil {
			tb.Errorf("shutdown: got %v, want nil", err)
		}
		select {
		case err := <-e.served:
			if err != nil {
				tb.Errorf("serve: got %v, want nil after shutdown", err)
			}
		case <-ctx.Done():
			tb.Errorf("serve did not return within %v of shutdown", ShutdownTimeout)
		}
	})
}
