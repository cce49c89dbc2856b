package system_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/whalecast/whalecast/internal/auth"
	"github.com/whalecast/whalecast/internal/clock"
	"github.com/whalecast/whalecast/persistence"
	"github.com/whalecast/whalecast/system"
	"github.com/whalecast/whalecast/system/systemtest"
	"github.com/whalecast/whalecast/transport"
)

// Bounds of the publishing that runs the engine into a broken data directory. With the
// smallest memtable (1 MiB) a few dozen calls of 100 alerts fill it; the bounds are far
// above that and only stop a store that never fails.
const (
	storeFaultCalls  = 500
	storeFaultBudget = 90 * time.Second
)

// storeRefused is the message of the 503 that POST /api/v1/admin/publish answers when the
// store took none of the alerts.
const storeRefused = "the store could not take the alerts: it has failed closed (see " +
	"health in /api/v1/stats) and stores nothing until the engine is restarted on a " +
	"working data directory"

// TestStoreFaultStopsIngestion runs a real engine whose memtables are small into a data
// directory that stopped taking new files, the way a read-only mount or a full disk does,
// while a client reads the live stream. Publishing goes on until the store refuses a call.
// Then the engine must have failed closed: /healthz answers 503 with nothing but its
// status; /api/v1/stats names the cause; the log holds the cause as an error and no secret;
// the refusal is reported to the caller and every refused alert is counted as lost; further
// publishing is refused at once. The client must have received exactly the durable records:
// once the directory is repaired, a new engine on the same data serves, to a client resuming
// from 0, byte for byte what the first client saw, and nothing of the failed batch.
func TestStoreFaultStopsIngestion(t *testing.T) {
	cfg := replayConfig(t)
	logs := &syncBuffer{}
	te := startStoreHooked(t, cfg, system.Hooks{MemTableSize: persistence.MinMemTableSize},
		logs)
	if last := te.waitIdle(t, txsIn277647, 1); last != lastSeq277647 {
		t.Fatalf("last seq after the replay: got %d, want %d", last, lastSeq277647)
	}
	readTok, adminTok := token(t, "reader", auth.PermRead), token(t, "ops", auth.PermAdmin)
	admin := authHeader(adminTok)
	c := dial(t, te.wsURL())
	authenticate(t, c, readTok, 0)
	live := watchRecords(t, c)

	before := publishAlerts(t, te, admin, 10)
	restore, cause := unwritableDir(t, filepath.Join(cfg.DataDir, "badger"))
	run := publishUntilRefused(t, te, admin)
	t.Logf("%d calls: %d alerts stored, %d refused; the first refusal: %d %s",
		run.calls, len(run.seqs), run.refused, run.first.status, run.first.body)

	// Ingestion stopped: the next call is refused at once, and counted.
	got, err := postPublish(te, admin)
	if err != nil {
		t.Fatal(err)
	}
	if got.status != http.StatusServiceUnavailable || got.code != "unavailable" ||
		got.message != storeRefused {
		t.Errorf("publish after the failure: got %d %s, want 503 unavailable %q",
			got.status, got.body, storeRefused)
	}
	refused := run.refused + transport.MaxPublishCount

	checkFailedHealth(t, te, readTok, cause)
	checkLostCount(t, te, readTok, refused)
	failure := checkFaultLog(t, logs.String(), cause, []string{testSecret, readTok, adminTok})
	t.Logf("the store failed on: %.60s", failure)

	// The store numbered exactly the replay and the accepted alerts.
	durable := te.Store().LastSeq()
	if want := lastSeq277647 + uint64(len(before)+len(run.seqs)); durable != want {
		t.Errorf("last seq after the failure: got %d, want %d (replay %d, published %d)",
			durable, want, lastSeq277647, len(before)+len(run.seqs))
	}
	seen := live.settle(t, durable)
	checkLiveSeqs(t, seen, durable)

	// A new engine on the repaired directory holds exactly what the client saw.
	restore()
	_ = c.Close()
	te.shutdown(t)
	te2 := startEngine(t, cfg)
	last := te2.waitIdle(t, txsIn277647, 1)
	if last != durable {
		t.Errorf("last seq after the restart: got %d, want %d", last, durable)
	}
	c2 := dial(t, te2.wsURL())
	authenticate(t, c2, readTok, 0)
	resumed := readRecords(t, c2, int(last))
	expectNothing(t, c2, quiet)
	checkSameFrames(t, seen, resumed)
}

// startStoreHooked is startHooked for hooks that act as the store opens (OpenHooked).
func startStoreHooked(tb testing.TB, cfg system.Config, h system.Hooks,
	logs *syncBuffer) *testEngine {
	tb.Helper()
	eng, err := system.OpenHooked(cfg, system.NewLogger(logs, slog.LevelInfo), clock.Real{},
		h)
	if err != nil {
		tb.Fatalf("open engine: %v", err)
	}
	e := systemtest.Run(tb, eng)
	return &testEngine{Engine: e, cfg: cfg, addr: e.Addr}
}

// unwritableDir stops new files from being created in dir and returns the undo, which
// also runs at cleanup (before the engine stops: a failed store closes only once its
// directory works again), and the error text a file creation in dir now fails with. An
// ordinary user loses the write permission; root ignores permission bits, so as root the
// directory is renamed aside (the store keeps the files it holds open) and a regular file
// takes its path.
func unwritableDir(tb testing.TB, dir string) (restore func(), cause string) {
	tb.Helper()
	var undo func() error
	if os.Geteuid() != 0 {
		if err := os.Chmod(dir, 0o500); err != nil {
			tb.Fatalf("make %s read-only: %v", dir, err)
		}
		cause = "permission denied"
		undo = func() error { return os.Chmod(dir, 0o700) }
	} else {
		aside := dir + ".aside"
		if err := os.Rename(dir, aside); err != nil {
			tb.Fatalf("move %s aside: %v", dir, err)
		}
		if err := os.WriteFile(dir, []byte("not a directory\n"), 0o600); err != nil {
			tb.Fatalf("put a file at %s: %v", dir, err)
		}
		cause = "not a directory"
		undo = func() error {
			if err := os.Remove(dir); err != nil {
				return err
			}
			return os.Rename(aside, dir)
		}
	}

	var once sync.Once
	restore = func() {
		once.Do(func() {
			if err := undo(); err != nil {
				tb.Errorf("repair %s: %v", dir, err)
			}
		})
	}
	tb.Cleanup(restore)
	return restore, cause
}

// storeFaultPublishers is how many clients publish at once. The write that fails is the
// first one after Badger's memtable filled up. With one client that is always the audit
// line of the call whose alerts filled it, and the alerts' own failed commit would go
// untested; with three, alerts are often queued by then, and in about half the runs the
// failed write is an alert batch (the test logs which).
const storeFaultPublishers = 3

// publishAnswer is one answer of POST /api/v1/admin/publish.
type publishAnswer struct {
	status  int
	body    []byte
	resp    transport.PublishResponse // on 201
	code    string                    // the error's code, on an error
	message string                    // the error's message, on an error
}

// refused reports whether the store took none or only some of the call's alerts.
func (a publishAnswer) refused() bool {
	return a.status != http.StatusCreated || a.resp.Lost > 0
}

// postPublish asks for transport.MaxPublishCount test alerts. It may run outside the
// test's goroutine, so it returns its errors.
func postPublish(te *testEngine, admin http.Header) (publishAnswer, error) {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	body, err := json.Marshal(transport.PublishRequest{Count: transport.MaxPublishCount})
	if err != nil {
		return publishAnswer{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost,
		te.httpURL()+"/api/v1/admin/publish", bytes.NewReader(body))
	if err != nil {
		return publishAnswer{}, err
	}
	req.Header = admin.Clone()
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return publishAnswer{}, fmt.Errorf("publish: %w", err)
	}
	defer resp.Body.Close()

	got := publishAnswer{status: resp.StatusCode}
	if got.body, err = io.ReadAll(io.LimitReader(resp.Body, 1<<20)); err != nil {
		return got, fmt.Errorf("publish: read: %w", err)
	}
	if got.status == http.StatusCreated {
		err = json.Unmarshal(got.body, &got.resp)
	} else {
		var e struct {
			Error   string `json:"error"`
			Message string `json:"message"`
		}
		err = json.Unmarshal(got.body, &e)
		got.code, got.message = e.Error, e.Message
	}
	if err != nil {
		return got, fmt.Errorf("publish: decode %d %s: %w", got.status, got.body, err)
	}
	return got, nil
}

// checkPublishAnswer checks that a publish call either stored each alert or reported it
// lost: a 201 that lists the stored seqs and counts the others, or a 503 that says the
// store took none. An outcome the caller cannot know (the store did not answer in time)
// fails it.
func checkPublishAnswer(tb testing.TB, call int, got publishAnswer) {
	tb.Helper()
	switch got.status {
	case http.StatusCreated:
		if got.resp.Published+got.resp.Lost != transport.MaxPublishCount ||
			len(got.resp.Seqs) != got.resp.Published || got.resp.Published == 0 {
			tb.Errorf("publish call %d: got 201 %s, want every alert stored or counted lost",
				call, got.body)
		}
	case http.StatusServiceUnavailable:
		if got.code != "unavailable" || got.message != storeRefused {
			tb.Errorf("publish call %d: got 503 %s, want unavailable %q", call, got.body,
				storeRefused)
		}
	default:
		tb.Errorf("publish call %d: got %d %s, want 201 or 503", call, got.status, got.body)
	}
}

// publishRun is what publishUntilRefused saw.
type publishRun struct {
	calls   int
	seqs    []uint64 // the seqs of the stored alerts, in no particular order
	refused int      // the alerts the store did not take
	first   publishAnswer
}

// publishUntilRefused publishes from storeFaultPublishers clients at once until the store
// refuses some alerts of a call; the calls in progress then end too. Every answer must
// account for each of its alerts (checkPublishAnswer), and a store that never refuses
// fails the test.
func publishUntilRefused(tb testing.TB, te *testEngine, admin http.Header) publishRun {
	tb.Helper()
	var (
		mu      sync.Mutex
		answers []publishAnswer
		errs    []error
		stop    atomic.Bool
		wg      sync.WaitGroup
	)
	deadline := time.Now().Add(storeFaultBudget)
	for range storeFaultPublishers {
		wg.Go(func() {
			for !stop.Load() && time.Now().Before(deadline) {
				got, err := postPublish(te, admin)
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				} else {
					answers = append(answers, got)
				}
				if err != nil || got.refused() || len(answers) >= storeFaultCalls {
					stop.Store(true)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		tb.Fatalf("publish: %v", errors.Join(errs...))
	}

	var run publishRun
	for i, got := range answers {
		checkPublishAnswer(tb, i+1, got)
		run.calls++
		run.seqs = append(run.seqs, got.resp.Seqs...)
		run.refused += transport.MaxPublishCount - len(got.resp.Seqs)
		if got.refused() && run.first.status == 0 {
			run.first = got
		}
	}
	if run.first.status == 0 {
		tb.Fatalf("%d calls in %v stored %d alerts into an unwritable directory, none "+
			"refused", run.calls, storeFaultBudget, len(run.seqs))
	}
	return run
}

// checkFailedHealth checks that /healthz answers 503 with its status alone and that
// /api/v1/stats gives the store's failure and its cause.
func checkFailedHealth(tb testing.TB, te *testEngine, readTok, cause string) {
	tb.Helper()
	status, body := healthz(tb, te)
	if status != http.StatusServiceUnavailable ||
		strings.TrimSpace(body) != `{"status":"unhealthy"}` {
		tb.Errorf("healthz: got %d %s, want 503 {\"status\":\"unhealthy\"}", status, body)
	}

	var s struct {
		Health struct {
			Status string `json:"status"`
			Error  string `json:"error"`
		} `json:"health"`
	}
	if got := getJSON(tb, te, "/api/v1/stats", readTok, &s); got != http.StatusOK {
		tb.Fatalf("stats: got %d, want 200", got)
	}
	if s.Health.Status != "unhealthy" ||
		!strings.Contains(s.Health.Error, persistence.ErrFailed.Error()) ||
		!strings.Contains(s.Health.Error, cause) {
		tb.Errorf("stats health: got %+v, want unhealthy with %q and %q", s.Health,
			persistence.ErrFailed, cause)
	}
}

// checkLostCount checks that /api/v1/stats counts one store error and, as lost, exactly
// the alerts the publish calls were told were refused: nothing else went missing.
func checkLostCount(tb testing.TB, te *testEngine, readTok string, refused int) {
	tb.Helper()
	var s struct {
		AlertsLost  int64 `json:"alerts_lost"`
		StoreErrors int64 `json:"store_errors"`
	}
	if got := getJSON(tb, te, "/api/v1/stats", readTok, &s); got != http.StatusOK {
		tb.Fatalf("stats: got %d, want 200", got)
	}
	if s.AlertsLost != int64(refused) || s.StoreErrors != 1 {
		tb.Errorf("stats: got alerts_lost %d, store_errors %d; want %d (the refused alerts) "+
			"and 1", s.AlertsLost, s.StoreErrors, refused)
	}
}

// checkFaultLog checks that the log holds, at error level, the store's failure with its
// cause and the store actor's stop of ingestion, and none of secrets. It returns the
// store's error, which names the write that failed.
func checkFaultLog(tb testing.TB, logs, cause string, secrets []string) string {
	tb.Helper()
	var failed, stopped int
	var failure string
	for line := range strings.Lines(logs) {
		var rec struct {
			Level     string `json:"level"`
			Msg       string `json:"msg"`
			Component string `json:"component"`
			Err       string `json:"err"`
		}
		if json.Unmarshal([]byte(line), &rec) != nil || rec.Level != slog.LevelError.String() {
			continue
		}
		switch {
		case rec.Msg == "store failed" && rec.Component == "badger" &&
			strings.Contains(rec.Err, cause):
			failed++
			failure = rec.Err
		case strings.HasPrefix(rec.Msg, "store write failed") &&
			strings.Contains(rec.Err, cause):
			stopped++
		}
	}
	if failed != 1 || stopped != 1 {
		tb.Errorf("log: got %d \"store failed\" and %d \"store write failed\" errors naming "+
			"%q, want 1 of each", failed, stopped, cause)
	}
	for _, s := range secrets {
		if strings.Contains(logs, s) {
			tb.Errorf("log holds a secret or token (%.8s...)", s)
		}
	}
	return failure
}

// checkLiveSeqs checks that the client, which read from seq 0, received the records 1 to
// durable in order, once each, and nothing past durable: a seq past it is an alert that
// was broadcast although it was not persisted.
func checkLiveSeqs(tb testing.TB, seen []serverMsg, durable uint64) {
	tb.Helper()
	for i, m := range seen {
		if m.Seq > durable {
			tb.Fatalf("live record %d: got seq %d past the last durable seq %d: it was "+
				"broadcast but not persisted", i+1, m.Seq, durable)
		}
		if m.Seq != uint64(i+1) {
			tb.Fatalf("live record %d: got seq %d, want %d", i+1, m.Seq, i+1)
		}
	}
	if uint64(len(seen)) != durable {
		tb.Errorf("live records: got %d, want %d (every durable record)", len(seen), durable)
	}
}

// checkSameFrames checks that a resume after the restart gave, byte for byte, the frames
// the live client received before the failure.
func checkSameFrames(tb testing.TB, live, resumed []serverMsg) {
	tb.Helper()
	if len(resumed) != len(live) {
		tb.Errorf("resume from 0 after the restart: got %d records, want the %d seen live",
			len(resumed), len(live))
	}
	for i := range min(len(live), len(resumed)) {
		if string(live[i].Raw) != string(resumed[i].Raw) {
			tb.Fatalf("record %d: seen live as %s, stored as %s", i+1, live[i].Raw,
				resumed[i].Raw)
		}
	}
}

// recordWatch reads a client's messages in the background and keeps its records.
type recordWatch struct {
	mu      sync.Mutex
	records []serverMsg
	last    time.Time // when the last record came
	err     error     // why reading stopped
	done    chan struct{}
}

// watchRecords reads c until it fails or closes; the reader stops at cleanup.
func watchRecords(tb testing.TB, c *websocket.Conn) *recordWatch {
	tb.Helper()
	w := &recordWatch{last: time.Now(), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for range maxMessagesBeforeClose {
			m, err := tryRead(c, storeFaultBudget+waitTimeout)
			w.mu.Lock()
			if err != nil {
				w.err = err
				w.mu.Unlock()
				return
			}
			if m.isRecord() {
				w.records, w.last = append(w.records, m), time.Now()
			}
			w.mu.Unlock()
		}
	}()
	tb.Cleanup(func() {
		_ = c.Close()
		<-w.done
	})
	return w
}

// settle waits until the client holds at least want records and none came for quiet,
// and returns them. A reader that stopped fails tb.
func (w *recordWatch) settle(tb testing.TB, want uint64) []serverMsg {
	tb.Helper()
	waitFor(tb, fmt.Sprintf("the client to read %d records and then nothing for %v", want,
		quiet), func() bool {
		w.mu.Lock()
		defer w.mu.Unlock()
		if w.err != nil {
			tb.Fatalf("client: %v after %d records", w.err, len(w.records))
		}
		return uint64(len(w.records)) >= want && time.Since(w.last) >= quiet
	})
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]serverMsg(nil), w.records...)
}
