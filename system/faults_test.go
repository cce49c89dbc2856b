package system_test

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/whalecast/whalecast/actors"
	"github.com/whalecast/whalecast/internal/auth"
	"github.com/whalecast/whalecast/internal/clock"
	"github.com/whalecast/whalecast/system"
	"github.com/whalecast/whalecast/system/systemtest"
	"github.com/whalecast/whalecast/transport"
)

// startHooked opens an engine with cfg and the test hooks h (export_test.go), logging to
// logs, and serves it like startEngine.
func startHooked(tb testing.TB, cfg system.Config, h system.Hooks,
	logs *syncBuffer) *testEngine {
	tb.Helper()
	eng, err := system.Open(cfg, system.NewLogger(logs, slog.LevelInfo), clock.Real{})
	if err != nil {
		tb.Fatalf("open engine: %v", err)
	}
	eng.SetHooks(h)
	e := systemtest.Run(tb, eng)
	return &testEngine{Engine: e, cfg: cfg, addr: e.Addr}
}

// publishAlerts publishes n test alerts through the admin route and returns their seqs.
func publishAlerts(tb testing.TB, te *testEngine, admin http.Header, n int) []uint64 {
	tb.Helper()
	got := doHTTP(tb, te, http.MethodPost, "/api/v1/admin/publish", admin,
		transport.PublishRequest{Count: n})
	var resp transport.PublishResponse
	if err := json.Unmarshal(got.body, &resp); got.status != 201 || err != nil ||
		len(resp.Seqs) != n {
		tb.Fatalf("publish %d: got %d %s, want 201 with %d seqs", n, got.status, got.body, n)
	}
	return resp.Seqs
}

// seqsOf returns the seqs of msgs.
func seqsOf(msgs []serverMsg) []uint64 {
	out := make([]uint64, len(msgs))
	for i, m := range msgs {
		out[i] = m.Seq
	}
	return out
}

// seqRange returns first..last.
func seqRange(first, last uint64) []uint64 {
	var out []uint64
	for s := first; s <= last; s++ {
		out = append(out, s)
	}
	return out
}

// failureLog is one "actor failed" line of the engine's log.
type failureLog struct {
	Actor     string `json:"actor"`
	Directive string `json:"directive"`
	Reason    string `json:"reason"`
}

// failures returns the "actor failed" lines of logs, by kind of actor: detector,
// broadcaster, session or the actor's id.
func failures(tb testing.TB, logs string) map[string][]failureLog {
	tb.Helper()
	out := map[string][]failureLog{}
	for line := range strings.Lines(logs) {
		var rec struct {
			Msg string `json:"msg"`
			failureLog
		}
		if json.Unmarshal([]byte(line), &rec) != nil || rec.Msg != "actor failed" {
			continue
		}
		kind := rec.Actor
		switch {
		case strings.HasSuffix(kind, "/detector"):
			kind = "detector"
		case strings.HasSuffix(kind, "/broadcaster"):
			kind = "broadcaster"
		case strings.Contains(kind, "/sessions/"):
			kind = "session"
		}
		out[kind] = append(out[kind], rec.failureLog)
	}
	return out
}

// stats returns the engine's counters from GET /api/v1/stats.
func stats(tb testing.TB, te *testEngine) actors.Snapshot {
	tb.Helper()
	var s actors.Snapshot
	if got := getJSON(tb, te, "/api/v1/stats", token(tb, "ops", auth.PermRead), &s); got != 200 {
		tb.Fatalf("stats: got %d, want 200", got)
	}
	return s
}

// TestInjectedPanicsLoseNothing runs an engine whose detector, broadcaster and one client's
// session panic on chosen messages, through the test hooks, and checks what each fault
// costs and what it must not cost:
//   - the detector panics on three small transactions of block 277647: it is restarted
//     each time, acknowledges the transaction it failed on (so the source does not stall)
//     and stores every whale and update of the block;
//   - the broadcaster panics on the batch of published alerts that holds seq 7: it is
//     restarted with its subscribers and reads that batch back from the store, so a live
//     client misses nothing and gets nothing twice;
//   - one client's session panics on its ping: that client alone is closed with 1011 and
//     resumes where it stopped; the other client goes on;
//   - a client resuming from 0 then receives every stored record, dense and unchanged; the
//     four restarts and five failures are counted in /api/v1/stats and each is logged with
//     its panic; /healthz stays 200.
func TestInjectedPanicsLoseNothing(t *testing.T) {
	const detectorPanics = 3
	whales := map[string]bool{}
	for _, w := range wantWhales {
		whales[w] = true
	}
	var (
		smallSeen atomic.Int64
		dropSeq   atomic.Uint64 // the seq whose batch the broadcaster panics on; 0: none
		dropped   atomic.Bool
		// droppedSeqs are the seqs of the batch the broadcaster panicked on.
		droppedSeqs atomic.Pointer[[]uint64]
		victimHit   atomic.Bool
	)
	hooks := system.Hooks{
		DetectorPanic: func(txid string) bool {
			return !whales[txid] && smallSeen.Add(1) <= detectorPanics
		},
		BroadcasterPanic: func(msg any) bool {
			p, ok := msg.(*actors.Published)
			if !ok || dropSeq.Load() == 0 || !slices.ContainsFunc(p.Entries,
				func(e actors.Entry) bool { return e.Stored.Seq == dropSeq.Load() }) ||
				!dropped.CompareAndSwap(false, true) {
				return false
			}
			var seqs []uint64
			for _, e := range p.Entries {
				seqs = append(seqs, e.Stored.Seq)
			}
			droppedSeqs.Store(&seqs)
			return true
		},
		SessionPanic: func(client string) bool {
			return client == "victim" && victimHit.CompareAndSwap(false, true)
		},
	}
	logs := &syncBuffer{}
	te := startHooked(t, replayConfig(t), hooks, logs)

	// The detector's faults: every record of the block is stored all the same.
	if last := te.waitIdle(t, txsIn277647, 1); last != lastSeq277647 {
		t.Fatalf("last seq after the replay: got %d, want %d", last, lastSeq277647)
	}
	watcher := dial(t, te.wsURL())
	authenticate(t, watcher, token(t, "watcher", auth.PermRead), 0)
	check277647(t, readRecords(t, watcher, len(block277647)), 0)
	victimTok := token(t, "victim", auth.PermRead)
	victim := dial(t, te.wsURL())
	authenticate(t, victim, victimTok, 0)
	check277647(t, readRecords(t, victim, len(block277647)), 0)

	// The broadcaster's fault: the batch holding seq 7 (the store commits in groups: 7
	// alone, or with 8 and 9) never reaches the failed broadcaster; its next incarnation
	// reads it from the store.
	admin := authHeader(token(t, "ops", auth.PermAdmin))
	dropSeq.Store(lastSeq277647 + 1)
	published := append(publishAlerts(t, te, admin, 3), publishAlerts(t, te, admin, 3)...)
	if droppedSeqs.Load() == nil {
		t.Fatal("the broadcaster never panicked")
	}
	live := published
	if got := seqsOf(readRecords(t, watcher, len(live))); !slices.Equal(got, live) {
		t.Fatalf("live after the broadcaster's panic on %v: got seqs %v, want %v",
			*droppedSeqs.Load(), got, live)
	}
	resumed := dial(t, te.wsURL())
	authenticate(t, resumed, token(t, "watcher", auth.PermRead), int64(lastSeq277647))
	if got := seqsOf(readRecords(t, resumed, 6)); !slices.Equal(got,
		seqRange(lastSeq277647+1, lastSeq277647+6)) {
		t.Errorf("resume from %d: got seqs %v, want 7 to 12", lastSeq277647, got)
	}
	_ = resumed.Close()
	readRecords(t, victim, len(live))

	// The session's fault: the victim alone is closed with 1011.
	send(t, victim, `{"type":"ping"}`)
	if code, reason := closeCode(t, victim); code != actors.CloseInternalError {
		t.Errorf("victim's close: got %d %q, want %d", code, reason, actors.CloseInternalError)
	}
	more := publishAlerts(t, te, admin, 2)
	if got := seqsOf(readRecords(t, watcher, 2)); !slices.Equal(got, more) {
		t.Errorf("the other client after the victim's panic: got seqs %v, want %v", got, more)
	}
	back := dial(t, te.wsURL())
	authenticate(t, back, victimTok, int64(live[len(live)-1]))
	if got := seqsOf(readRecords(t, back, 2)); !slices.Equal(got, more) {
		t.Errorf("victim resuming from %d: got seqs %v, want %v", live[len(live)-1], got, more)
	}

	// Nothing stored was lost or changed.
	stored := storedRecords(t, te)
	whole := dial(t, te.wsURL())
	authenticate(t, whole, token(t, "auditor", auth.PermRead), 0)
	checkFrames(t, readRecords(t, whole, len(stored)), stored)
	expectNothing(t, whole, quiet)

	s := stats(t, te)
	if s.ActorRestarts != detectorPanics+1 || s.ActorFailures != detectorPanics+2 {
		t.Errorf("stats: actor_restarts %d, actor_failures %d; want %d and %d",
			s.ActorRestarts, s.ActorFailures, detectorPanics+1, detectorPanics+2)
	}
	got := failures(t, logs.String())
	for kind, want := range map[string]struct {
		n         int
		directive string
	}{"detector": {detectorPanics, "RestartDirective"}, "broadcaster": {1, "RestartDirective"},
		"session": {1, "StopDirective"}} {
		if len(got[kind]) != want.n {
			t.Errorf("%s failures logged: got %d, want %d", kind, len(got[kind]), want.n)
		}
		for _, f := range got[kind] {
			if f.Directive != want.directive || !strings.Contains(f.Reason, "injected fault") {
				t.Errorf("%s failure logged as %+v, want %s and the panic value", kind, f,
					want.directive)
			}
		}
	}
	if len(got) != 3 {
		t.Errorf("failures logged: got %v, want only the detector, broadcaster and session",
			got)
	}
	if status, body := healthz(t, te); status != 200 {
		t.Errorf("healthz: got %d %s, want 200", status, body)
	}
}

// healthz returns the status and body of GET /healthz.
func healthz(tb testing.TB, te *testEngine) (int, string) {
	tb.Helper()
	got := doHTTP(tb, te, http.MethodGet, "/healthz", nil, nil)
	return got.status, string(got.body)
}

// TestRestartStormStops makes a child of the root fail on every message: after
// actors.MaxRestarts restarts it must be stopped, not restarted for ever, and the engine
// must report itself unhealthy (/healthz 503) and keep serving what it stored.
func TestRestartStormStops(t *testing.T) {
	tests := []struct {
		name  string
		hooks system.Hooks
		// fail makes the faulty actor fail once more.
		fail func(tb testing.TB, te *testEngine, admin http.Header)
	}{
		{
			name:  "detector",
			hooks: system.Hooks{DetectorPanic: func(string) bool { return true }},
			// The replay feeds it transactions until it is stopped.
			fail: func(testing.TB, *testEngine, http.Header) {},
		},
		{
			name: "broadcaster",
			hooks: system.Hooks{BroadcasterPanic: func(msg any) bool {
				_, ok := msg.(*actors.Published)
				return ok
			}},
			fail: func(tb testing.TB, te *testEngine, admin http.Header) {
				publishAlerts(tb, te, admin, 1)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs := &syncBuffer{}
			te := startHooked(t, replayConfig(t), tt.hooks, logs)
			admin := authHeader(token(t, "ops", auth.PermAdmin))
			deadline := time.Now().Add(waitTimeout)
			for te.Health() == nil {
				if time.Now().After(deadline) {
					t.Fatalf("still healthy after %v, with %d restarts", waitTimeout,
						te.Stats().ActorRestarts.Load())
				}
				tt.fail(t, te, admin)
				time.Sleep(pollEvery)
			}

			status, body := healthz(t, te)
			if status != 503 || !strings.Contains(body, `"unhealthy"`) {
				t.Errorf("healthz: got %d %s, want 503", status, body)
			}
			if err := te.Health(); !strings.Contains(err.Error(), tt.name) {
				t.Errorf("health: got %q, want it to name the %s", err, tt.name)
			}
			// Stopped for good: more messages are not handled, so no further restart.
			for range 3 {
				tt.fail(t, te, admin)
			}
			time.Sleep(quiet)
			s := stats(t, te)
			if s.ActorRestarts != actors.MaxRestarts || s.ActorFailures != actors.MaxRestarts+1 {
				t.Errorf("stats: actor_restarts %d, actor_failures %d; want %d and %d",
					s.ActorRestarts, s.ActorFailures, actors.MaxRestarts, actors.MaxRestarts+1)
			}
			got := failures(t, logs.String())[tt.name]
			if len(got) != actors.MaxRestarts+1 ||
				got[len(got)-1].Directive != "StopDirective" {
				t.Errorf("%s failures logged: got %d (%+v), want %d, the last one stopping it",
					tt.name, len(got), got, actors.MaxRestarts+1)
			}
			if !strings.Contains(logs.String(), `"engine degraded"`) {
				t.Errorf("no \"engine degraded\" line in the log")
			}

			// What was stored is still served.
			var page alertsPage
			want := te.Store().LastSeq()
			if got := getJSON(t, te, "/api/v1/alerts?since=0&limit=1000",
				token(t, "reader", auth.PermRead), &page); got != 200 ||
				uint64(len(page.Alerts)) != want {
				t.Errorf("alerts: got %d with %d rows, want 200 with %d", got,
					len(page.Alerts), want)
			}
		})
	}
}
