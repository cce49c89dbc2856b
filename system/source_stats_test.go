package system_test

import (
	"bytes"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/whalecast/whalecast/internal/auth"
	"github.com/whalecast/whalecast/system"
	"github.com/whalecast/whalecast/system/systemtest"
)

// freeZMQSource returns a zmq source on a free 127.0.0.1 port on which nothing publishes,
// so that the feed keeps reconnecting.
func freeZMQSource(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return "zmq:tcp://127.0.0.1:" + strconv.Itoa(port)
}

// TestStatsShowZMQCounters: an engine on a ZMQ source reports the feed's counters in
// /api/v1/stats, here while no publisher listens, so the feed keeps reconnecting.
func TestStatsShowZMQCounters(t *testing.T) {
	cfg := replayConfig(t)
	cfg.Source = freeZMQSource(t)
	te := startEngine(t, cfg)

	var stats struct {
		Source *struct {
			ZMQ map[string]uint64 `json:"zmq"`
		} `json:"source"`
	}
	tok := token(t, "ops", auth.PermRead)
	if code := getJSON(t, te, "/api/v1/stats", tok, &stats); code != 200 {
		t.Fatalf("GET /api/v1/stats = %d, want 200", code)
	}
	if stats.Source == nil {
		t.Fatal("stats carry no source section for a ZMQ engine")
	}
	for _, key := range []string{"received", "dropped", "corrupt", "lost", "reconnects",
		"blocks", "disconnected", "removed", "resyncs", "resync_errors", "resync_txs",
		"fee_errors"} {
		if _, ok := stats.Source.ZMQ[key]; !ok {
			t.Errorf("source.zmq has no %q: %v", key, stats.Source.ZMQ)
		}
	}
	if got := stats.Source.ZMQ["received"]; got != 0 {
		t.Errorf("received %d transactions from nobody", got)
	}
}

// syncBuffer is a bytes.Buffer safe for the engine's concurrent log writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestZMQEngineWithRPC opens an engine on a ZMQ source with --rpc and a password: it
// starts, logs its RPC settings with the password redacted, and stops cleanly. The node
// is a 127.0.0.1 server that refuses everything; no publisher connects, so it is never
// called.
func TestZMQEngineWithRPC(t *testing.T) {
	node := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer node.Close()
	cfg := replayConfig(t)
	cfg.Source = freeZMQSource(t)
	cfg.RPC, cfg.RPCUser, cfg.RPCPassword = node.URL, "whale", testRPCPassword
	logs := &syncBuffer{}
	e := systemtest.Start(t, cfg, system.NewLogger(logs, slog.LevelDebug))
	e.Stop(t)

	out := logs.String()
	if strings.Contains(out, testRPCPassword) {
		t.Errorf("the logs show the RPC password:\n%s", out)
	}
	if !strings.Contains(out, node.URL) || !strings.Contains(out, "[redacted]") {
		t.Errorf("the logs do not show the RPC settings with the password redacted:\n%s", out)
	}
}
