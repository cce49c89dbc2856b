//go:build unix

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// stopBound is how long the engine may take to exit after SIGTERM (issue 5).
const stopBound = 5 * time.Second

// TestSIGTERMStopsInTime stops the engine binary with SIGTERM three times. First while the
// simulator runs as fast as it goes, with a live reader (the store is writing). Then with
// clients connected: three that read (resuming from 0 and from the middle of a store of
// thousands of records, and one live only) and one that reads nothing at all, whose socket
// is full with a write of the engine blocked on it; new connections must be refused while
// that stop runs. Last after a restart on the same data. Each time the process must exit
// with code 0 within 5 s, and every reading client must get every record the store held
// when it closed, without a gap, and then close code 1001. The restarted engine must
// resume a reader exactly where it stopped, and hold every record the clients saw,
// unchanged.
func TestSIGTERMStopsInTime(t *testing.T) {
	if testing.Short() {
		t.Skip("runs engine processes for several seconds")
	}
	clearEnv(t)
	dir := t.TempDir()
	tok := mint(t, dir, "stopper", "read,admin")
	args := []string{"--addr", "127.0.0.1:0", "--data", dir, "--source", "sim",
		"--log-level", "info"}
	env := []string{envRateLimit + "=100000"}
	fill, stuckKnown := stuckRecords()

	// Fill the store (the simulator as fast as it goes, and published alerts), and stop
	// while it writes.
	p := startProcess(t, env, append(args, "--rate", "0")...)
	addr := p.addr(t)
	for lastSeq(t, addr, tok) < fill {
		publish(t, addr, tok, 100)
	}
	busy := recordLive(t, "ws://"+addr+"/ws", tok)
	waitFor(t, "live records", func() bool { return busy.count() > 0 })
	checkStopped(t, p, "while storing")
	checkReaders(t, p, busy)

	// Slow live traffic, so that the reader that reads nothing is held by its socket and not
	// closed as a slow consumer (its live alerts wait while its replay is stuck).
	p = startProcess(t, env, append(args, "--rate", "20")...)
	wsURL := "ws://" + p.addr(t) + "/ws"
	stored := lastSeq(t, p.addr(t), tok)
	stuck := stuckClient(t, wsURL, tok)
	readers := []*recorder{
		record(t, wsURL, tok, 0, 0),
		record(t, wsURL, tok, stored/2, 0),
		recordLive(t, wsURL, tok),
	}
	waitFor(t, "the readers to catch up", func() bool {
		return readers[0].count() >= int(stored) && readers[1].count() >= int(stored-stored/2)
	})
	if !checkStopped(t, p, "with clients") {
		t.Errorf("the engine accepted connections until it exited, want refusals from SIGTERM")
	}
	if cut := strings.Contains(p.logTail(), `"connections cut at shutdown"`); stuckKnown &&
		!cut {
		t.Errorf("no connection was cut at shutdown: the client that reads nothing did not "+
			"hold a write of the engine (%d records stored)", stored)
	}

	seen := checkReaders(t, p, readers...)
	last := lastStoredAtExit(t, p)
	_ = stuck.Close()

	// The readers resume where they stopped; one from 0 finds every record they saw.
	p = startProcess(t, nil, append(args, "--rate", "200")...)
	wsURL = "ws://" + p.addr(t) + "/ws"
	after := record(t, wsURL, tok, last, last+1)
	whole := record(t, wsURL, tok, 0, last)
	if got := after.wait(t, waitTimeout); len(got) == 0 || got[0].seq != last+1 {
		t.Errorf("resume from %d after the restart: got %d records, want seq %d first", last,
			len(got), last+1)
	}
	compareSeen(t, seen, whole.wait(t, waitTimeout))
	checkStopped(t, p, "after the restart")
}

// checkReaders checks, once p has stopped, that each reader got every record the store
// held when it closed, without a gap, and then close code 1001: the store flushed what it
// held and the sessions sent it before closing. It returns the records the readers saw,
// by seq.
func checkReaders(tb testing.TB, p *engineProcess, readers ...*recorder) map[uint64][]byte {
	tb.Helper()
	last := lastStoredAtExit(tb, p)
	seen := map[uint64][]byte{}
	for i, r := range readers {
		got := r.wait(tb, waitTimeout)
		if r.closeCode != websocket.CloseGoingAway {
			tb.Errorf("reader %d (since %d): connection ended with %v, want close code 1001",
				i, r.since, r.end)
		}
		end := r.since
		if n := len(got); n > 0 {
			end = got[n-1].seq
		}
		if end != last {
			tb.Errorf("reader %d (since %d): got records up to seq %d, want every one up to "+
				"%d, the last stored", i, r.since, end, last)
		}
		compareSeen(tb, seen, got)
	}
	return seen
}

// checkStopped sends SIGTERM and checks that p exits with code 0 within stopBound. It
// reports whether p refused new connections before it exited.
func checkStopped(tb testing.TB, p *engineProcess, when string) (refused bool) {
	tb.Helper()
	addr := p.addr(tb)
	start := time.Now()
	p.signal(tb, syscall.SIGTERM)
	refused = refusedBeforeExit(addr, p)
	code := p.waitExit(tb, waitTimeout)
	took := time.Since(start)
	if code != 0 || took > stopBound {
		tb.Errorf("SIGTERM %s: exit code %d after %v, want 0 within %v\n%s", when, code,
			took.Round(time.Millisecond), stopBound, p.logTail())
	}
	tb.Logf("SIGTERM %s: exit code %d after %v", when, code, took.Round(time.Millisecond))
	return refused
}

// refusedBeforeExit dials addr every 10 ms until a connection is refused (true) or p has
// exited (false).
func refusedBeforeExit(addr string, p *engineProcess) bool {
	for range int(waitTimeout / (10 * time.Millisecond)) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		select {
		case <-p.exited:
			return false
		default:
		}
		if err != nil {
			return true
		}
		_ = c.Close()
		time.Sleep(10 * time.Millisecond)
	}
	return false
}

// lastStoredAtExit returns the last seq of the store as p closed it (its "store closed"
// log line).
func lastStoredAtExit(tb testing.TB, p *engineProcess) uint64 {
	tb.Helper()
	for line := range strings.Lines(p.logTail()) {
		var rec struct {
			Msg     string `json:"msg"`
			LastSeq uint64 `json:"last_seq"`
		}
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "store closed" {
			return rec.LastSeq
		}
	}
	tb.Fatalf("no \"store closed\" line in the engine's log:\n%s", p.logTail())
	return 0
}

// lastSeq returns the engine's last stored seq from /api/v1/stats.
func lastSeq(tb testing.TB, addr, tok string) uint64 {
	tb.Helper()
	status, body := getStatus(tb, "http://"+addr+"/api/v1/stats", tok)
	var stats struct {
		LastSeq uint64 `json:"last_seq"`
	}
	if err := json.Unmarshal([]byte(body), &stats); status != 200 || err != nil {
		tb.Fatalf("stats: got %d %.200s (%v), want 200 with last_seq", status, body, err)
	}
	return stats.LastSeq
}

// waitFor polls cond every 20 ms until it holds, failing tb after waitTimeout.
func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %v waiting for %s", waitTimeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// minFrameBytes is less than the size of any record's frame.
const minFrameBytes = 300

// stuckRecords returns how many records a store must hold for the engine's writes to a
// client that reads nothing (and resumes from 0) to block: their frames must overflow the
// largest send buffer of a socket (Linux: the third figure of tcp_wmem) and the client's
// receive buffer. known is false where that size cannot be read or is too large to fill
// within a test: the store is then filled less.
func stuckRecords() (n uint64, known bool) {
	const (
		fallback = 4 << 20
		most     = 8 << 20
	)
	sndbuf, known := fallback, false
	if raw, err := os.ReadFile("/proc/sys/net/ipv4/tcp_wmem"); err == nil {
		if f := strings.Fields(string(raw)); len(f) == 3 {
			if v, err := strconv.Atoi(f[2]); err == nil && v <= most {
				sndbuf, known = v, true
			}
		}
	}
	return uint64(sndbuf+sndbuf/2+(1<<20)) / minFrameBytes, known
}

// publish publishes n test alerts through the admin route, with tok (admin).
func publish(tb testing.TB, addr, tok string, n int) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	body := strings.NewReader(fmt.Sprintf(`{"count":%d}`, n))
	req, err := http.NewRequestWithContext(ctx, http.MethodPost,
		"http://"+addr+"/api/v1/admin/publish", body)
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("publish: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
		tb.Fatalf("publish: got %d %s, want 201", resp.StatusCode, msg)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
}

// stuckRcvBuf is the receive buffer of the client that reads nothing: small, so that the
// engine's writes to it block soon.
const stuckRcvBuf = 4096

// stuckClient connects with a small receive buffer, authenticates resuming from 0 and then
// reads nothing at all.
func stuckClient(tb testing.TB, wsURL, tok string) *websocket.Conn {
	tb.Helper()
	d := websocket.Dialer{HandshakeTimeout: waitTimeout,
		NetDialContext: (&net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
			var err error
			if cerr := c.Control(func(fd uintptr) {
				err = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF,
					stuckRcvBuf)
			}); cerr != nil {
				return cerr
			}
			return err
		}}).DialContext}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	c, resp, err := d.DialContext(ctx, wsURL, nil)
	if err != nil {
		tb.Fatalf("dial %s: %v", wsURL, err)
	}
	_ = resp.Body.Close()
	tb.Cleanup(func() { _ = c.Close() })
	_ = c.SetWriteDeadline(time.Now().Add(waitTimeout))
	auth := fmt.Sprintf(`{"type":"auth","token":%q,"since":0}`, tok)
	if err := c.WriteMessage(websocket.TextMessage, []byte(auth)); err != nil {
		tb.Fatalf("send auth: %v", err)
	}
	return c
}
