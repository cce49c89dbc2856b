package system_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/whalecast/whalecast/internal/auth"
	"github.com/whalecast/whalecast/internal/btcdtest"
	"github.com/whalecast/whalecast/internal/clock"
	"github.com/whalecast/whalecast/system"
	"github.com/whalecast/whalecast/system/systemtest"
)

// testSecret is the engines' WEBSOCKET_SECRET_KEY in these tests: 40 bytes, over the minimum.
const testSecret = "whalecast-system-tests-secret-0123456789"

// Deadlines of the helpers. They are generous: a loaded CI machine running -race is slow, and
// a deadline only bounds a wait that normally ends in milliseconds.
const (
	waitTimeout     = 15 * time.Second
	pollEvery       = 10 * time.Millisecond
	shutdownTimeout = 30 * time.Second
)

// The whales of mainnet block 277647 at the default threshold of 100 BTC, in block order.
var wantWhales = systemtest.Whales277647

// txsIn277647 is how many non-coinbase transactions the replay of block 277647 feeds.
const txsIn277647 = 212

// wantRecord is what the tests compare of a whale_alert or an alert_update message. The
// fields an alert_update alone carries (previous, alertSeq, height, confirmations, final)
// are zero for a whale_alert.
type wantRecord struct {
	typ           string
	seq           uint64
	txid          string
	valueSat      int64
	status        string
	previous      string
	alertSeq      uint64
	height        int64
	confirmations int64
	final         bool
}

// block277647 lists the records the replay of block 277647 stores (systemtest.Block277647).
var block277647 = func() []wantRecord {
	var out []wantRecord
	for _, r := range systemtest.Block277647() {
		out = append(out, wantRecord{typ: r.Type, seq: r.Seq, txid: r.TxID,
			valueSat: r.ValueSat, status: r.Status, previous: r.Previous,
			alertSeq: r.AlertSeq, height: r.Height, confirmations: r.Confirmations,
			final: r.Final})
	}
	return out
}()

// lastSeq277647 is the last seq the replay of block 277647 stores into a fresh data
// directory.
var lastSeq277647 = uint64(len(block277647))

// recordOf returns what the tests compare of a received message.
func recordOf(m serverMsg) wantRecord {
	return wantRecord{typ: m.Type, seq: m.Seq, txid: m.Data.TxID, valueSat: m.Data.ValueSat,
		status: m.Data.Status, previous: m.Data.Previous, alertSeq: m.Data.AlertSeq,
		height: m.Data.Height, confirmations: m.Data.Confirmations, final: m.Data.Final}
}

// checkRecords checks that got holds exactly the records of want, in order.
func checkRecords(tb testing.TB, got []serverMsg, want []wantRecord) {
	tb.Helper()
	for i := range max(len(got), len(want)) {
		switch {
		case i >= len(got):
			tb.Errorf("record %d: got none, want %+v", i+1, want[i])
		case i >= len(want):
			tb.Errorf("record %d: got %+v, want none", i+1, recordOf(got[i]))
		case recordOf(got[i]) != want[i]:
			tb.Errorf("record %d: got %+v, want %+v", i+1, recordOf(got[i]), want[i])
		}
	}
}

// check277647 checks that got holds exactly the records of block 277647 after seq since.
func check277647(tb testing.TB, got []serverMsg, since uint64) {
	tb.Helper()
	checkRecords(tb, got, block277647[min(since, lastSeq277647):])
}

// testEngine is an engine serving on a loopback port of its own.
type testEngine struct {
	*systemtest.Engine
	cfg  system.Config
	addr string
}

// replayConfig returns the configuration of an engine that replays block 277647 as fast as
// it can into a fresh data directory.
func replayConfig(tb testing.TB) system.Config {
	tb.Helper()
	cfg := system.DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.DataDir = tb.TempDir()
	cfg.Secret = testSecret
	cfg.Source = "replay:" + btcdtest.Block277647(tb)
	cfg.Rate = 0
	return cfg
}

// startEngine opens, starts and serves an engine on 127.0.0.1 port 0; it is shut down when
// the test ends (or earlier by shutdown).
func startEngine(tb testing.TB, cfg system.Config) *testEngine {
	tb.Helper()
	e := systemtest.Start(tb, cfg, testLogger(tb))
	return &testEngine{Engine: e, cfg: cfg, addr: e.Addr}
}

// shutdown stops the engine once, checks that it stopped cleanly and that Serve returned.
func (te *testEngine) shutdown(tb testing.TB) {
	tb.Helper()
	te.Stop(tb)
}

func (te *testEngine) wsURL() string   { return "ws://" + te.addr + "/ws" }
func (te *testEngine) httpURL() string { return "http://" + te.addr }

// waitLastSeq waits until the engine has stored records up to seq, and no further.
func (te *testEngine) waitLastSeq(tb testing.TB, seq uint64) {
	tb.Helper()
	waitFor(tb, fmt.Sprintf("last seq %d", seq), func() bool {
		return te.Store().LastSeq() >= seq
	})
	if got := te.Store().LastSeq(); got != seq {
		tb.Fatalf("last seq: got %d, want %d", got, seq)
	}
}

// waitTxs waits until the detector has handled n transactions.
func (te *testEngine) waitTxs(tb testing.TB, n int64) {
	tb.Helper()
	waitFor(tb, fmt.Sprintf("%d transactions", n), func() bool {
		return te.Stats().TxsReceived.Load() >= n
	})
}

// waitFor polls cond until it holds, failing tb after waitTimeout.
func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %v waiting for %s", waitTimeout, what)
		}
		time.Sleep(pollEvery)
	}
}

// logWriter sends the engine's log lines to the test's output while the test runs and drops
// them afterwards (an actor may log after the last cleanup).
type logWriter struct {
	mu   sync.Mutex
	out  io.Writer
	done bool
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return len(p), nil
	}
	return w.out.Write(p)
}

func testLogger(tb testing.TB) *slog.Logger {
	tb.Helper()
	w := &logWriter{out: tb.Output()}
	tb.Cleanup(func() {
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	return system.NewLogger(w, slog.LevelInfo)
}

// issuer returns an issuer signing with secret on the real clock.
func issuer(tb testing.TB, secret string, clk clock.Clock) *auth.Issuer {
	tb.Helper()
	s, err := auth.NewSecret([]byte(secret))
	if err != nil {
		tb.Fatalf("secret: %v", err)
	}
	iss, err := auth.NewIssuer(s, clk)
	if err != nil {
		tb.Fatalf("issuer: %v", err)
	}
	return iss
}

// token returns a token of the test secret for client with perms, valid for an hour.
func token(tb testing.TB, client string, perms ...auth.Perm) string {
	tb.Helper()
	tok, _, err := issuer(tb, testSecret, nil).Issue(client, perms, time.Hour)
	if err != nil {
		tb.Fatalf("issue token: %v", err)
	}
	return tok
}

// noneToken returns an unsigned token ("alg":"none") with otherwise valid claims.
func noneToken(tb testing.TB) string {
	tb.Helper()
	enc := base64.RawURLEncoding
	now := time.Now().Unix()
	claims, err := json.Marshal(map[string]any{
		"sub": "mallory", "perms": []string{"read"}, "iat": now, "exp": now + 3600,
		"jti": "0123456789abcdef",
	})
	if err != nil {
		tb.Fatalf("claims: %v", err)
	}
	return enc.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." +
		enc.EncodeToString(claims) + "."
}

// dial opens a WebSocket to the engine; the connection is closed when the test ends.
func dial(tb testing.TB, url string) *websocket.Conn {
	tb.Helper()
	d := websocket.Dialer{HandshakeTimeout: waitTimeout}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	c, resp, err := d.DialContext(ctx, url, nil)
	if err != nil {
		tb.Fatalf("dial %s: %v", url, err)
	}
	_ = resp.Body.Close()
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// serverMsg is the union of the engine's messages that the tests read.
type serverMsg struct {
	Type        string   `json:"type"`
	Seq         uint64   `json:"seq"`
	ClientID    string   `json:"client_id"`
	Permissions []string `json:"permissions"`
	Code        string   `json:"code"`
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
	// Raw is the message as it came.
	Raw []byte `json:"-"`
}

// isRecord reports whether m carries a stored record: a whale_alert or an alert_update.
func (m serverMsg) isRecord() bool {
	return m.Type == "whale_alert" || m.Type == "alert_update"
}

func send(tb testing.TB, c *websocket.Conn, msg string) {
	tb.Helper()
	_ = c.SetWriteDeadline(time.Now().Add(waitTimeout))
	if err := c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		tb.Fatalf("send %.40q: %v", msg, err)
	}
}

// authMsg returns an auth message; since < 0 leaves since out.
func authMsg(tok string, since int64) string {
	if since < 0 {
		return fmt.Sprintf(`{"type":"auth","token":%q}`, tok)
	}
	return fmt.Sprintf(`{"type":"auth","token":%q,"since":%d}`, tok, since)
}

// read returns the next message, failing tb if none comes within waitTimeout.
func read(tb testing.TB, c *websocket.Conn) serverMsg {
	tb.Helper()
	m, err := tryRead(c, waitTimeout)
	if err != nil {
		tb.Fatalf("read: %v", err)
	}
	return m
}

func tryRead(c *websocket.Conn, within time.Duration) (serverMsg, error) {
	_ = c.SetReadDeadline(time.Now().Add(within))
	_, data, err := c.ReadMessage()
	if err != nil {
		return serverMsg{}, err
	}
	var m serverMsg
	if err := json.Unmarshal(data, &m); err != nil {
		return serverMsg{}, fmt.Errorf("decode %q: %w", data, err)
	}
	m.Raw = data
	return m, nil
}

// authenticate sends an auth message and reads auth_success and welcome; it returns the
// welcome's seq.
func authenticate(tb testing.TB, c *websocket.Conn, tok string, since int64) uint64 {
	tb.Helper()
	send(tb, c, authMsg(tok, since))
	if m := read(tb, c); m.Type != "auth_success" {
		tb.Fatalf("first answer: got type %q, want auth_success", m.Type)
	}
	m := read(tb, c)
	if m.Type != "welcome" {
		tb.Fatalf("second answer: got type %q, want welcome", m.Type)
	}
	return m.Seq
}

// readRecords reads n records (whale_alert or alert_update messages), failing on any other
// message.
func readRecords(tb testing.TB, c *websocket.Conn, n int) []serverMsg {
	tb.Helper()
	out := make([]serverMsg, 0, n)
	for range n {
		m := read(tb, c)
		if !m.isRecord() {
			tb.Fatalf("message %d: got type %q, want whale_alert or alert_update",
				len(out)+1, m.Type)
		}
		out = append(out, m)
	}
	return out
}

// expectNothing checks that no message arrives within quiet.
func expectNothing(tb testing.TB, c *websocket.Conn, quiet time.Duration) {
	tb.Helper()
	m, err := tryRead(c, quiet)
	if err == nil {
		tb.Fatalf("got a %s message (seq %d), want none", m.Type, m.Seq)
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		tb.Fatalf("got %v, want a read timeout", err)
	}
}

// maxMessagesBeforeClose bounds how many messages closeCode reads while it waits for the
// close frame.
const maxMessagesBeforeClose = 100_000

// closeCode reads until the connection ends and returns the close code the server sent.
func closeCode(tb testing.TB, c *websocket.Conn) (int, string) {
	tb.Helper()
	deadline := time.Now().Add(waitTimeout)
	_ = c.SetReadDeadline(deadline)
	for range maxMessagesBeforeClose {
		_, _, err := c.ReadMessage()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if !errors.As(err, &ce) {
			tb.Fatalf("connection ended with %v, want a close frame", err)
		}
		return ce.Code, ce.Text
	}
	tb.Fatalf("no close frame after %d messages", maxMessagesBeforeClose)
	return 0, ""
}

// getJSON sends GET path with tok as Bearer token (none when empty), decodes the JSON body
// into v (when not nil) and returns the status.
func getJSON(tb testing.TB, te *testEngine, path, tok string, v any) int {
	tb.Helper()
	status, header, body := systemtest.Get(tb, te.httpURL()+path, tok)
	if ct := header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		tb.Errorf("GET %s: Content-Type %q, want application/json", path, ct)
	}
	if v != nil {
		if err := json.Unmarshal(body, v); err != nil {
			tb.Fatalf("GET %s: decode %q: %v", path, body, err)
		}
	}
	return status
}
