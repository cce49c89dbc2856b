package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/whalecast/whalecast/internal/btcdtest"
	"github.com/whalecast/whalecast/internal/leakcheck"
	"github.com/whalecast/whalecast/system"
	"github.com/whalecast/whalecast/system/systemtest"
)

// childArgsEnv, when set, makes the test binary run the engine's command line it holds (a
// JSON array) instead of the tests, so that a test can run `engine serve` as a process.
const childArgsEnv = "WHALECAST_ENGINE_CHILD_ARGS"

func TestMain(m *testing.M) {
	if raw, ok := os.LookupEnv(childArgsEnv); ok {
		var args []string
		if err := json.Unmarshal([]byte(raw), &args); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", childArgsEnv, err)
			os.Exit(3)
		}
		os.Exit(run(args, os.Stdout, os.Stderr))
	}
	// The tests run engines in process too: none may leave a goroutine behind.
	os.Exit(leakcheck.Run(m, 10*time.Second, leakcheck.Module, "protoactor-go/actor.",
		"dgraph-io/badger", "dgraph-io/ristretto", "gorilla/websocket"))
}

// Deadlines of the helpers; they bound waits that normally end in milliseconds.
const (
	waitTimeout = 20 * time.Second
)

// testSecret is a WEBSOCKET_SECRET_KEY for these tests: 40 bytes.
const testSecret = "whalecast-cmd-engine-tests-secret-012345"

// block277647 lists the records a client receives from the replay of block 277647.
var block277647 = systemtest.Block277647()

// clearEnv unsets every variable the engine reads, for the rest of the test.
func clearEnv(tb testing.TB) {
	tb.Helper()
	for _, name := range []string{envSecret, envTokenExpiry, envRateLimit, envRateWindow} {
		tb.Setenv(name, "")
	}
}

// runCmd runs a command line in process and returns its exit code and outputs.
func runCmd(tb testing.TB, args ...string) (code int, stdout, stderr string) {
	tb.Helper()
	var out, errOut bytes.Buffer
	code = run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// startEngine serves an engine on 127.0.0.1 port 0 that replays block 277647 into dataDir,
// with secret (empty: dataDir/secret.key); it returns the engine's address.
func startEngine(tb testing.TB, dataDir, secret string) string {
	tb.Helper()
	cfg := system.DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.DataDir = dataDir
	cfg.Secret = secret
	cfg.Source = "replay:" + btcdtest.Block277647(tb)
	cfg.Rate = 0
	return systemtest.Start(tb, cfg, slog.New(slog.DiscardHandler)).Addr
}

// serverMsg is the part of the engine's WebSocket messages these tests read.
type serverMsg struct {
	Type        string   `json:"type"`
	Seq         uint64   `json:"seq"`
	ClientID    string   `json:"client_id"`
	Permissions []string `json:"permissions"`
	ExpiresAt   string   `json:"expires_at"`
	Data        struct {
		TxID          string `json:"txid"`
		ValueSat      int64  `json:"value_sat"`
		Status        string `json:"status"`
		Previous      string `json:"previous"`
		AlertSeq      uint64 `json:"alert_seq"`
		Height        int64  `json:"height"`
		Confirmations int64  `json:"confirmations"`
		Final         bool   `json:"final"`
	} `json:"data"`
}

// record returns what the tests compare of a whale_alert or alert_update message.
func (m serverMsg) record() systemtest.Record {
	return systemtest.Record{Type: m.Type, Seq: m.Seq, TxID: m.Data.TxID,
		ValueSat: m.Data.ValueSat, Status: m.Data.Status, Previous: m.Data.Previous,
		AlertSeq: m.Data.AlertSeq, Height: m.Data.Height, Confirmations: m.Data.Confirmations,
		Final: m.Data.Final}
}

// wsSession dials wsURL and authenticates with tok and since; it returns the connection
// and the auth_success message. The connection is closed when the test ends.
func wsSession(tb testing.TB, wsURL, tok string, since uint64) (*websocket.Conn, serverMsg) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	c, resp, err := websocket.DefaultDialer.DialContext(ctx, wsURL, nil)
	if err != nil {
		tb.Fatalf("dial %s: %v", wsURL, err)
	}
	_ = resp.Body.Close()
	tb.Cleanup(func() { _ = c.Close() })

	auth := fmt.Sprintf(`{"type":"auth","token":%q,"since":%d}`, tok, since)
	_ = c.SetWriteDeadline(time.Now().Add(waitTimeout))
	if err := c.WriteMessage(websocket.TextMessage, []byte(auth)); err != nil {
		tb.Fatalf("send auth: %v", err)
	}
	ok := readMsg(tb, c)
	if ok.Type != "auth_success" {
		tb.Fatalf("answer to auth: got type %q, want auth_success", ok.Type)
	}
	return c, ok
}

// readMsg reads one message within waitTimeout.
func readMsg(tb testing.TB, c *websocket.Conn) serverMsg {
	tb.Helper()
	_ = c.SetReadDeadline(time.Now().Add(waitTimeout))
	_, data, err := c.ReadMessage()
	if err != nil {
		tb.Fatalf("read: %v", err)
	}
	var m serverMsg
	if err := json.Unmarshal(data, &m); err != nil {
		tb.Fatalf("decode %q: %v", data, err)
	}
	return m
}

// check277647 reads welcome and then, from a session resuming from seq 0, every record of
// block 277647 in order: its three whales, then their confirmations. No final update
// follows: one block is short of the default --settle-blocks.
func check277647(tb testing.TB, c *websocket.Conn) {
	tb.Helper()
	if m := readMsg(tb, c); m.Type != "welcome" {
		tb.Fatalf("after auth_success: got type %q, want welcome", m.Type)
	}
	for i, want := range block277647 {
		m := readMsg(tb, c)
		if got := m.record(); got != want {
			tb.Fatalf("record %d: got %+v, want %+v", i+1, got, want)
		}
	}
}

// getStatus sends GET url with tok as Bearer token (none when empty) and returns the status
// and body.
func getStatus(tb testing.TB, url, tok string) (int, string) {
	tb.Helper()
	status, _, body := systemtest.Get(tb, url, tok)
	return status, strings.TrimSpace(string(body))
}
