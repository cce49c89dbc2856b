package system_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/whalecast/whalecast/actors"
	"github.com/whalecast/whalecast/internal/alert"
	"github.com/whalecast/whalecast/internal/auth"
	"github.com/whalecast/whalecast/system"
)

// The size of TestReconnectStorm. CI runs the defaults; bench/README.md runs 5,000 clients.
var (
	stormClients = flag.Int("storm.clients", 300,
		"clients of TestReconnectStorm that reconnect at once")
	stormRecords = flag.Int("storm.records", 2000,
		"records in the store of TestReconnectStorm")
	stormBound = flag.Duration("storm.bound", 60*time.Second,
		"time within which every client of TestReconnectStorm must have caught up")
)

// replayPage is the page size of a resume (actors.SessionConfig.ReplayPage's default; the
// engine keeps it).
const replayPage = 256

// pagedReader counts how the sessions read the store: calls, the largest page asked for,
// and the records returned.
type pagedReader struct {
	actors.AlertReader
	calls, maxLimit, rows atomic.Int64
}

func (r *pagedReader) Range(after uint64, limit int) ([]alert.Stored, error) {
	r.calls.Add(1)
	for {
		m := r.maxLimit.Load()
		if int64(limit) <= m || r.maxLimit.CompareAndSwap(m, int64(limit)) {
			break
		}
	}
	page, err := r.AlertReader.Range(after, limit)
	r.rows.Add(int64(len(page)))
	return page, err
}

// TestReconnectStorm fills a store with a few thousand records (block 277647 and alerts
// published through the admin route), then makes many clients reconnect at once, their
// since values spread over the whole store. Each must receive exactly the records after
// its since, in order, byte for byte as stored, and nothing more, within -storm.bound. On
// the engine's side every resume must read the store in pages of at most replayPage
// records, and each record once per client: a resume that read its whole range at once,
// or read pages again, fails.
func TestReconnectStorm(t *testing.T) {
	clients, records := *stormClients, *stormRecords
	reader := &pagedReader{}
	cfg := replayConfig(t)
	cfg.RateLimit = 10 * records
	cfg.Guard.MaxConnsPerIP = clients
	cfg.Guard.AttemptsPerIP = clients
	cfg.Guard.MaxConns = max(cfg.Guard.MaxConns, clients)
	// Every client dials at once: on a loaded machine under -race a handshake can take
	// longer than the default 5 s to reach the auth message. The storm is about catching
	// up, not about the auth timeout (tested on its own).
	cfg.AuthTimeout = *stormBound
	hooks := system.Hooks{Alerts: func(store actors.AlertReader) actors.AlertReader {
		reader.AlertReader = store
		return reader
	}}
	te := startHooked(t, cfg, hooks, &syncBuffer{})

	te.waitIdle(t, txsIn277647, 1)
	admin := authHeader(token(t, "ops", auth.PermAdmin))
	for last := int(te.Store().LastSeq()); last < records; last = int(te.Store().LastSeq()) {
		publishAlerts(t, te, admin, min(100, records-last))
	}
	stored := storedRecords(t, te)
	last := uint64(len(stored))
	frames := make([][]byte, len(stored))
	for i, st := range stored {
		frames[i] = alert.Frame(st)
	}
	before := reader.rows.Load()

	tok := token(t, "stormer", auth.PermRead)
	start := make(chan struct{})
	errs := make([]error, clients)
	var owed uint64
	var wg sync.WaitGroup
	for i := range clients {
		since := uint64(i) * last / uint64(clients)
		owed += last - since
		wg.Go(func() {
			<-start
			errs[i] = catchUp(te.wsURL(), tok, since, frames, *stormBound)
		})
	}
	began := time.Now()
	close(start)
	wg.Wait()
	took := time.Since(began)

	failed := 0
	for i, err := range errs {
		if err != nil {
			if failed < 5 {
				t.Errorf("client %d (since %d): %v", i, uint64(i)*last/uint64(clients), err)
			}
			failed++
		}
	}
	if failed > 0 {
		t.Fatalf("%d of %d clients did not catch up", failed, clients)
	}
	if took > *stormBound {
		t.Errorf("%d clients caught up in %v, want within %v", clients, took, *stormBound)
	}
	if m := reader.maxLimit.Load(); m > replayPage {
		t.Errorf("a resume read %d records at once, want pages of at most %d", m, replayPage)
	}
	if rows := uint64(reader.rows.Load() - before); rows != owed {
		t.Errorf("resumes read %d records from the store, want %d: each record once per "+
			"client", rows, owed)
	}
	t.Logf("%d clients, %d records, %d owed: caught up in %v (%.0f records/s), %d store "+
		"reads of at most %d", clients, last, owed, took.Round(time.Millisecond),
		float64(owed)/took.Seconds(), reader.calls.Load(), reader.maxLimit.Load())
}

// catchUp connects, authenticates resuming from since, and checks that the records after
// since arrive in order, each byte for byte frames[seq-1], and then nothing more.
func catchUp(url, tok string, since uint64, frames [][]byte, within time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	d := websocket.Dialer{HandshakeTimeout: within}
	c, resp, err := d.DialContext(ctx, url, nil)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		return fmt.Errorf("dial: %v (http %d)", err, status)
	}
	defer c.Close()
	_ = resp.Body.Close()
	deadline := time.Now().Add(within)
	_ = c.SetWriteDeadline(deadline)
	if err := c.WriteMessage(websocket.TextMessage,
		[]byte(authMsg(tok, int64(since)))); err != nil {
		return fmt.Errorf("send auth: %w", err)
	}
	_ = c.SetReadDeadline(deadline)
	for _, want := range []string{"auth_success", "welcome"} {
		m, err := tryRead(c, within)
		if err != nil || m.Type != want {
			return fmt.Errorf("read %s: got %q, %v", want, m.Type, err)
		}
		if want == "welcome" && m.Seq != uint64(len(frames)) {
			return fmt.Errorf("welcome seq %d, want %d", m.Seq, len(frames))
		}
	}
	for seq := since + 1; seq <= uint64(len(frames)); seq++ {
		_, data, err := c.ReadMessage()
		if err != nil {
			return fmt.Errorf("read seq %d: %w", seq, err)
		}
		if !bytes.Equal(data, frames[seq-1]) {
			return fmt.Errorf("record for seq %d: got %.120s", seq, data)
		}
	}
	_ = c.SetReadDeadline(time.Now().Add(quiet))
	_, data, err := c.ReadMessage()
	var ne net.Error
	if err == nil || !errors.As(err, &ne) || !ne.Timeout() {
		return fmt.Errorf("after the last record: got %.120s, %v; want nothing", data, err)
	}
	return nil
}
