package system_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/whalecast/whalecast/system/systemtest"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/whalecast/whalecast/internal/auth"
	"github.com/whalecast/whalecast/internal/btcdtest"
	"github.com/whalecast/whalecast/internal/clock"
	"github.com/whalecast/whalecast/system"
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
var wantWhales = []string{
	"d385205568e5420bc73b190ede001678730d42744d0716d2c5c2b6467cf73082",
	"5143ba5524d21b646de5cd5a1ab6ee7b7823a59c87a347d3b5339e9f977e7dcd",
	"712db987272743dd6e02bdd00fd8a0718bbfd04d13495a97eb70cdc42c010b1e",
}

// txsIn277647 is how many non-coinbase transactions the replay of block 277647 feeds.
const txsIn277647 = 212

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

// waitLastSeq waits until the engine has stored alerts up to seq.
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
		TxID     string `json:"txid"`
		ValueSat int64  `json:"value_sat"`
	} `json:"data"`
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

// readAlerts reads n whale_alert messages, failing on any other message.
func readAlerts(tb testing.TB, c *websocket.Conn, n int) []serverMsg {
	tb.Helper()
	out := make([]serverMsg, 0, n)
	for range n {
		m := read(tb, c)
		if m.Type != "whale_alert" {
			tb.Fatalf("message %d: got type %q, want whale_alert", len(out)+1, m.Type)
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
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, te.httpURL()+path, nil)
	if err != nil {
		tb.Fatalf("request %s: %v", path, err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		tb.Fatalf("GET %s: read body: %v", path, err)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		tb.Errorf("GET %s: Content-Type %q, want application/json", path, ct)
	}
	if v != nil {
		if err := json.Unmarshal(body, v); err != nil {
			tb.Fatalf("GET %s: decode %q: %v", path, body, err)
		}
	}
	return resp.StatusCode
}
