package system_test

import (
	"net"
	"strconv"
	"testing"

	"github.com/whalecast/whalecast/internal/auth"
)

// TestStatsShowZMQCounters: an engine on a ZMQ source reports the feed's counters in
// /api/v1/stats, here while no publisher listens, so the feed keeps reconnecting.
func TestStatsShowZMQCounters(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close() // a free port on which nothing publishes

	cfg := replayConfig(t)
	cfg.Source = "zmq:tcp://127.0.0.1:" + strconv.Itoa(port)
	te := startEngine(t, cfg)

	var stats struct {
		Source *struct {
			ZMQ struct {
				Received   uint64 `json:"received"`
				Reconnects uint64 `json:"reconnects"`
			} `json:"zmq"`
		} `json:"source"`
	}
	if code := getJSON(t, te, "/api/v1/stats", token(t, "ops", auth.PermRead), &stats); code != 200 {
		t.Fatalf("GET /api/v1/stats = %d, want 200", code)
	}
	if stats.Source == nil {
		t.Fatal("stats carry no source section for a ZMQ engine")
	}
	if stats.Source.ZMQ.Received != 0 {
		t.Errorf("received %d transactions from nobody", stats.Source.ZMQ.Received)
	}
}
