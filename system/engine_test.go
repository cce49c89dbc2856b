package system_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/whalecast/whalecast/internal/auth"
	"github.com/whalecast/whalecast/internal/clock"
)

// quiet is how long a client waits to be sure that no further message comes.
const quiet = 300 * time.Millisecond

func TestWhalesArrive(t *testing.T) {
	tests := []struct {
		name    string
		clients int
		since   int64
		// waitStored makes the clients connect only after every record is stored, so that
		// they all come from the replay; otherwise they may race the source.
		waitStored bool
	}{
		{name: "one client racing the source", clients: 1, since: 0},
		{name: "one client after the source", clients: 1, since: 0, waitStored: true},
		{name: "eight concurrent clients", clients: 8, since: 0},
		{name: "resume from seq 2", clients: 2, since: 2, waitStored: true},
		{name: "resume between alerts and updates", clients: 2, since: 3, waitStored: true},
		{name: "resume from the last seq", clients: 1, since: 6, waitStored: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			te := startEngine(t, replayConfig(t))
			if tt.waitStored {
				te.waitLastSeq(t, lastSeq277647)
			}
			tok := token(t, "reader", auth.PermRead)

			conns := make([]*websocket.Conn, tt.clients)
			for i := range conns {
				conns[i] = dial(t, te.wsURL())
			}
			var wg sync.WaitGroup
			got := make([][]serverMsg, tt.clients)
			errs := make([]error, tt.clients)
			want := block277647[tt.since:]
			for i, c := range conns {
				wg.Go(func() { got[i], errs[i] = collect(c, tok, tt.since, len(want)) })
			}
			wg.Wait()

			for i := range conns {
				if errs[i] != nil {
					t.Fatalf("client %d: %v", i, errs[i])
				}
				checkRecords(t, got[i], want)
			}
			te.waitLastSeq(t, lastSeq277647)
		})
	}
}

// collect authenticates with since, reads n records (whale alerts or alert updates) and
// checks that nothing follows within quiet; it reports instead of failing so that it can
// run in its own goroutine.
func collect(c *websocket.Conn, tok string, since int64, n int) ([]serverMsg, error) {
	_ = c.SetWriteDeadline(time.Now().Add(waitTimeout))
	if err := c.WriteMessage(websocket.TextMessage, []byte(authMsg(tok, since))); err != nil {
		return nil, fmt.Errorf("send auth: %w", err)
	}
	var out []serverMsg
	for _, want := range []string{"auth_success", "welcome"} {
		m, err := tryRead(c, waitTimeout)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", want, err)
		}
		if m.Type != want {
			return nil, fmt.Errorf("got type %q, want %s", m.Type, want)
		}
	}
	for range n {
		m, err := tryRead(c, waitTimeout)
		if err != nil {
			return out, fmt.Errorf("read record %d: %w", len(out)+1, err)
		}
		if !m.isRecord() {
			return out, fmt.Errorf("got type %q, want whale_alert or alert_update", m.Type)
		}
		out = append(out, m)
	}
	if m, err := tryRead(c, quiet); err == nil {
		return out, fmt.Errorf("after %d records: got a %s (seq %d), want nothing", n,
			m.Type, m.Seq)
	}
	return out, nil
}

func TestCloseCodes(t *testing.T) {
	const authTimeout = 300 * time.Millisecond
	past := clock.NewFake(time.Now().Add(-2 * time.Hour))
	expired, _, err := issuer(t, testSecret, past).Issue("late", []auth.Perm{auth.PermRead},
		time.Hour)
	if err != nil {
		t.Fatalf("issue expired token: %v", err)
	}
	forged, _, err := issuer(t, strings.Repeat("x", 40), nil).Issue("forger",
		[]auth.Perm{auth.PermRead}, time.Hour)
	if err != nil {
		t.Fatalf("issue forged token: %v", err)
	}
	good := token(t, "reader", auth.PermRead, auth.PermWrite)

	tests := []struct {
		name string
		// act runs on a fresh connection to te.
		act        func(tb testing.TB, te *testEngine, c *websocket.Conn)
		wantCode   int
		wantReason string
		// minWait is the least time the close may take.
		minWait time.Duration
	}{
		{
			name:     "first message is a ping",
			act:      sends(`{"type":"ping"}`),
			wantCode: 4000, wantReason: "auth",
		},
		{
			name:     "first message is not json",
			act:      sends("hello"),
			wantCode: 4000, wantReason: "auth",
		},
		{
			name: "first message is binary",
			act: func(tb testing.TB, _ *testEngine, c *websocket.Conn) {
				_ = c.WriteMessage(websocket.BinaryMessage, []byte(authMsg(good, -1)))
			},
			wantCode: 4000, wantReason: "auth",
		},
		{
			name:     "no auth within the timeout",
			act:      func(testing.TB, *testEngine, *websocket.Conn) {},
			wantCode: 4001, wantReason: "timeout", minWait: authTimeout,
		},
		{
			name:     "bad signature",
			act:      sends(authMsg(forged, 0)),
			wantCode: 4003, wantReason: "bad_signature",
		},
		{
			name:     "expired token",
			act:      sends(authMsg(expired, 0)),
			wantCode: 4003, wantReason: "expired",
		},
		{
			name: "alg none",
			act: func(tb testing.TB, _ *testEngine, c *websocket.Conn) {
				send(tb, c, authMsg(noneToken(tb), 0))
			},
			wantCode: 4003, wantReason: "bad_algorithm",
		},
		{
			name: "rate limit abused",
			act: func(tb testing.TB, _ *testEngine, c *websocket.Conn) {
				authenticate(tb, c, good, -1)
				for range 40 {
					// The engine closes the connection midway; later writes may fail.
					_ = c.WriteMessage(websocket.TextMessage, []byte(`{"type":"ping"}`))
				}
			},
			wantCode: 4008, wantReason: "rate limit",
		},
		{
			name: "5 KiB first message",
			act: func(tb testing.TB, _ *testEngine, c *websocket.Conn) {
				big := `{"type":"auth","token":"` + strings.Repeat("a", 5<<10) + `"}`
				_ = c.WriteMessage(websocket.TextMessage, []byte(big))
			},
			wantCode: 1009,
		},
		{
			name: "5 KiB message after auth",
			act: func(tb testing.TB, _ *testEngine, c *websocket.Conn) {
				authenticate(tb, c, good, -1)
				big := `{"type":"ping","pad":"` + strings.Repeat("a", 5<<10) + `"}`
				_ = c.WriteMessage(websocket.TextMessage, []byte(big))
			},
			wantCode: 1009,
		},
		{
			name: "engine shutdown",
			act: func(tb testing.TB, te *testEngine, c *websocket.Conn) {
				authenticate(tb, c, good, 0)
				// The engine waits for the client's close reply, which the client sends
				// while it reads: shut down in the background (the test's cleanup waits).
				go te.shutdown(tb)
			},
			wantCode: 1001, wantReason: "shutting down",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := replayConfig(t)
			cfg.AuthTimeout = authTimeout
			cfg.RateLimit = 2
			te := startEngine(t, cfg)
			start := time.Now()
			c := dial(t, te.wsURL())

			tt.act(t, te, c)
			code, reason := closeCode(t, c)
			if code != tt.wantCode {
				t.Errorf("close code: got %d (%q), want %d", code, reason, tt.wantCode)
			}
			if !strings.Contains(reason, tt.wantReason) {
				t.Errorf("close reason: got %q, want one containing %q", reason, tt.wantReason)
			}
			if strings.Contains(reason, "eyJ") {
				t.Errorf("close reason %q holds a token", reason)
			}
			if took := time.Since(start); took < tt.minWait {
				t.Errorf("closed after %v, want at least %v", took, tt.minWait)
			}
		})
	}
}

// sends returns a TestCloseCodes action that sends msg.
func sends(msg string) func(testing.TB, *testEngine, *websocket.Conn) {
	return func(tb testing.TB, _ *testEngine, c *websocket.Conn) { send(tb, c, msg) }
}

func TestSlowConsumer(t *testing.T) {
	// A simulator at 20,000 transactions a second with no threshold raises an alert for each
	// one: a client that never reads fills the socket buffers and then its outbound queue.
	cfg := replayConfig(t)
	cfg.Source = "sim"
	cfg.MinBTC = 0
	cfg.Rate = 20_000
	te := startEngine(t, cfg)
	tok := token(t, "sloth", auth.PermRead)
	c := dial(t, te.wsURL())
	authenticate(t, c, tok, -1)

	waitFor(t, "a slow consumer close", func() bool {
		return te.Stats().SlowConsumerCloses.Load() > 0
	})
	var got []uint64
	_ = c.SetReadDeadline(time.Now().Add(waitTimeout))
	code, told := 0, false
	for range maxMessagesBeforeClose {
		m, err := tryRead(c, waitTimeout)
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			code = ce.Code
			break
		}
		if err != nil {
			t.Fatalf("after %d alerts: got %v, want a close frame", len(got), err)
		}
		if told {
			t.Fatalf("a %s frame after the slow_consumer error, want the close", m.Type)
		}
		if m.Type == "error" {
			if m.Code != "slow_consumer" {
				t.Fatalf("error frame %s, want code slow_consumer", m.Raw)
			}
			told = true
			continue
		}
		got = append(got, m.Seq)
	}
	if code != 4009 || !told {
		t.Fatalf("close code %d, told %v: want the slow_consumer error, then 4009", code, told)
	}
	checkDense(t, got)

	// The client resumes from the last alert it saw and misses nothing.
	last := uint64(0)
	if len(got) > 0 {
		last = got[len(got)-1]
	}
	c2 := dial(t, te.wsURL())
	authenticate(t, c2, tok, int64(last))
	resumed := readRecords(t, c2, 100)
	if resumed[0].Seq != last+1 {
		t.Errorf("first record after resume: got seq %d, want %d", resumed[0].Seq, last+1)
	}
	seqs := make([]uint64, len(resumed))
	for i, m := range resumed {
		seqs[i] = m.Seq
	}
	checkDense(t, seqs)
}

// checkDense checks that seqs go up by one.
func checkDense(tb testing.TB, seqs []uint64) {
	tb.Helper()
	for i := 1; i < len(seqs); i++ {
		if seqs[i] != seqs[i-1]+1 {
			tb.Fatalf("alert %d: got seq %d after %d, want %d", i, seqs[i], seqs[i-1],
				seqs[i-1]+1)
		}
	}
}
