package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/whalecast/whalecast/bench/load"
	"github.com/whalecast/whalecast/bench/load/loadtest"
	"github.com/whalecast/whalecast/internal/alert"
	"github.com/whalecast/whalecast/internal/leakcheck"
)

func TestMain(m *testing.M) {
	os.Exit(leakcheck.Run(m, 10*time.Second, leakcheck.Module))
}

// waitTimeout bounds every wait of these tests.
const waitTimeout = 15 * time.Second

// startFloor serves the floor on 127.0.0.1 until the test ends.
func startFloor(t *testing.T, queue int) (string, *server) {
	t.Helper()
	srv := newServer(queue)
	ts := httptest.NewServer(srv.routes())
	t.Cleanup(func() {
		if !srv.close(waitTimeout) {
			t.Error("the floor's handlers did not end")
		}
		ts.Close()
	})
	return strings.TrimPrefix(ts.URL, "http://"), srv
}

// TestBenchAgainstFloor runs the load tool against the floor as it runs against the
// engine, without credentials, and checks that nothing was lost or repeated.
func TestBenchAgainstFloor(t *testing.T) {
	addr, _ := startFloor(t, DefaultQueue)
	const clients = 20
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	res, err := load.Run(ctx, load.Config{
		URL:          "ws://" + addr + "/ws",
		Clients:      clients,
		Duration:     2 * time.Second,
		Ramp:         200,
		PublishRate:  5,
		PublishEvery: 200 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	loadtest.CheckClean(t, res, clients, 5)
}

func TestPublishRoute(t *testing.T) {
	addr, _ := startFloor(t, DefaultQueue)
	tests := []struct {
		name     string
		body     string
		want     int
		wantSeqs []uint64
	}{
		{"bench alerts", `{"count":2,"detector":"bench","value_btc":5}`, 201, []uint64{1, 2}},
		{"default detector", `{"count":1}`, 201, []uint64{3}},
		{"count zero", `{"count":0}`, 400, nil},
		{"count over the bound", `{"count":101}`, 400, nil},
		{"unknown field", `{"count":1,"x":1}`, 400, nil},
		{"unknown detector", `{"count":1,"detector":"large_value"}`, 400, nil},
		{"trailing data", `{"count":1} {}`, 400, nil},
		{"not JSON", `count=1`, 400, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := http.Post("http://"+addr+"/api/v1/admin/publish", "application/json",
				strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			data, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.want {
				t.Fatalf("status: got %d (%s), want %d", resp.StatusCode, data, tt.want)
			}
			if tt.want != 201 {
				return
			}
			var got publishResponse
			if err := json.Unmarshal(data, &got); err != nil {
				t.Fatal(err)
			}
			if got.Published != len(tt.wantSeqs) || !slices.Equal(got.Seqs, tt.wantSeqs) {
				t.Errorf("got %+v, want seqs %v", got, tt.wantSeqs)
			}
		})
	}
}

// TestWelcomeThenAlerts checks the frames a client gets: a welcome with the last seq, then
// each alert published after it, in the engine's whale_alert shape.
func TestWelcomeThenAlerts(t *testing.T) {
	addr, srv := startFloor(t, DefaultQueue)
	if _, err := srv.hub.broadcast(alertsOf(3)); err != nil {
		t.Fatal(err)
	}
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	_ = ws.SetReadDeadline(time.Now().Add(waitTimeout))
	_, welcome, err := ws.ReadMessage()
	if err != nil || string(welcome) != `{"type":"welcome","version":"floor","seq":3}` {
		t.Fatalf("welcome: got %s, %v", welcome, err)
	}
	if _, err := srv.hub.broadcast(alertsOf(1)); err != nil {
		t.Fatal(err)
	}
	_, frame, err := ws.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	var msg struct {
		Type string `json:"type"`
		Seq  uint64 `json:"seq"`
		Data struct {
			Detector  string    `json:"detector"`
			Test      bool      `json:"test"`
			FirstSeen time.Time `json:"first_seen"`
		} `json:"data"`
	}
	if err := json.Unmarshal(frame, &msg); err != nil {
		t.Fatal(err)
	}
	if msg.Type != "whale_alert" || msg.Seq != 4 || msg.Data.Detector != "bench" ||
		!msg.Data.Test || msg.Data.FirstSeen.IsZero() {
		t.Errorf("alert: got %s, want whale_alert seq 4 of detector bench", frame)
	}
}

// TestSlowConsumerDropped checks that a client whose queue is full is dropped, without
// holding up the broadcast.
func TestSlowConsumerDropped(t *testing.T) {
	h := newHub(1)
	c := h.join(nil) // its queue holds the welcome: the next frame finds it full
	if c == nil {
		t.Fatal("join refused")
	}
	if _, err := h.broadcast(alertsOf(1)); err != nil {
		t.Fatal(err)
	}
	if n := h.count(); n != 0 {
		t.Errorf("clients: got %d, want 0 after the slow one was dropped", n)
	}
	var queued int
	for range c.out {
		queued++
	}
	if queued != 1 || c.code != closeSlowConsumer {
		t.Errorf("got %d queued frames and close code %d, want 1 and %d", queued, c.code,
			closeSlowConsumer)
	}
}

func TestCheckAddr(t *testing.T) {
	for addr, ok := range map[string]bool{
		"127.0.0.1:8766": true, "localhost:1": true, "[::1]:8766": true,
		"0.0.0.0:8766": false, ":8766": false, "192.0.2.1:8766": false, "127.0.0.1": false,
	} {
		if err := checkAddr(addr); (err == nil) != ok {
			t.Errorf("checkAddr(%q): got %v, want ok %v", addr, err, ok)
		}
	}
}

func alertsOf(n int) []alert.Alert {
	out := make([]alert.Alert, n)
	for i := range out {
		out[i] = alert.Alert{TxID: strings.Repeat("a", 64), FirstSeen: time.Now().UTC(),
			Detector: "bench", Test: true}
	}
	return out
}
