package actors

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/whalecast/whalecast/internal/alert"
	"github.com/whalecast/whalecast/internal/clock"
	"github.com/whalecast/whalecast/internal/notify"
	"github.com/whalecast/whalecast/persistence"
)

// gatedStore is a webhook store whose ResolveAttempts waits for a gate on its first call
// and records every call's items; any other call panics.
type gatedStore struct {
	persistence.WebhookStore
	gate    chan struct{}
	gone    string // a webhook id that is skipped as deleted
	mu      sync.Mutex
	calls   [][]persistence.AttemptResult
	entered chan struct{}
}

func (s *gatedStore) ResolveAttempts(items []persistence.AttemptResult,
	_ persistence.WebhookKeep) ([]persistence.DeliveryLogEntry, error) {
	s.mu.Lock()
	first := len(s.calls) == 0
	s.calls = append(s.calls, slices.Clone(items))
	s.mu.Unlock()
	if first {
		close(s.entered)
		<-s.gate
	}
	out := make([]persistence.DeliveryLogEntry, len(items))
	for i, it := range items {
		if it.ID != s.gone {
			out[i] = it.Entry
			out[i].N = it.Delivery.Seq
		}
	}
	return out, nil
}

// TestWebhookResolverGroupsWhatFinishesDuringAWrite: outcomes that queue while the first write
// runs go together in the second, in the order they queued, bounded by the batch size; each
// caller gets its own entry, or ErrNotFound for a deleted webhook.
func TestWebhookResolverGroupsWhatFinishesDuringAWrite(t *testing.T) {
	store := &gatedStore{gate: make(chan struct{}), gone: "wh_gone",
		entered: make(chan struct{})}
	r := newResolver(store, persistence.WebhookKeep{}, 4)
	item := func(id string, seq uint64) persistence.AttemptResult {
		return persistence.AttemptResult{ID: id, Delivery: persistence.Delivery{Seq: seq},
			Entry: persistence.DeliveryLogEntry{Seq: seq,
				Outcome: persistence.OutcomeDelivered}}
	}
	type result struct {
		n   uint64
		err error
	}
	results := make([]chan result, 7)
	call := func(i int, it persistence.AttemptResult) {
		results[i] = make(chan result, 1)
		go func() {
			e, err := r.resolve(it)
			results[i] <- result{e.N, err}
		}()
	}

	call(0, item("wh_a", 1))
	<-store.entered
	for i := 1; i < 7; i++ { // queue in a known order while the first write waits
		id := "wh_a"
		if i == 3 {
			id = "wh_gone"
		}
		call(i, item(id, uint64(i+1)))
		deadline := time.Now().Add(5 * time.Second)
		for {
			r.mu.Lock()
			queued := len(r.queue)
			r.mu.Unlock()
			if queued == i {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("call %d never queued", i)
			}
			time.Sleep(time.Millisecond)
		}
	}
	close(store.gate)

	for i, ch := range results {
		select {
		case got := <-ch:
			wantErr := i == 3
			if wantErr != errors.Is(got.err, persistence.ErrNotFound) ||
				(!wantErr && (got.err != nil || got.n != uint64(i+1))) {
				t.Errorf("call %d: N %d, err %v", i, got.n, got.err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("call %d never returned", i)
		}
	}
	var sizes []int
	var seqs []uint64
	for _, c := range store.calls {
		sizes = append(sizes, len(c))
		for _, it := range c {
			seqs = append(seqs, it.Delivery.Seq)
		}
	}
	if !slices.Equal(sizes, []int{1, 4, 2}) || !slices.Equal(seqs, []uint64{1, 2, 3, 4, 5, 6, 7}) {
		t.Errorf("writes of sizes %v, seqs %v; want [1 4 2], seqs 1..7 in order", sizes, seqs)
	}
	if r.writing || len(r.queue) != 0 {
		t.Errorf("resolver left writing %v with %d queued", r.writing, len(r.queue))
	}
}

// countingStore counts the outcome writes (transactions, each one fsync) and the outcomes.
type countingStore struct {
	persistence.WebhookStore
	txns, outcomes atomic.Int64
}

func (s *countingStore) ResolveAttempts(items []persistence.AttemptResult,
	keep persistence.WebhookKeep) ([]persistence.DeliveryLogEntry, error) {
	s.txns.Add(1)
	s.outcomes.Add(int64(len(items)))
	return s.WebhookStore.ResolveAttempts(items, keep)
}

func (s *countingStore) ResolveAttempt(id string, d persistence.Delivery,
	e persistence.DeliveryLogEntry, keep persistence.WebhookKeep) (
	persistence.DeliveryLogEntry, error) {
	s.txns.Add(1)
	s.outcomes.Add(1)
	return s.WebhookStore.ResolveAttempt(id, d, e, keep)
}

// fixedRecords serves a record for every seq up to last.
type fixedRecords struct{ last uint64 }

func (f fixedRecords) Range(after uint64, limit int) ([]alert.Stored, error) {
	var out []alert.Stored
	for seq := after + 1; seq <= f.last && len(out) < limit; seq++ {
		out = append(out, alert.Stored{Seq: seq, Kind: alert.KindAlert,
			Data: []byte(`{"n":` + fmt.Sprint(seq) + `}`)})
	}
	return out, nil
}

func (f fixedRecords) LastSeq() uint64 { return f.last }

// drainWebhooks loads hooks webhooks with perHook pending deliveries each to a receiver on
// 127.0.0.1 that answers 204 at once, runs the webhook actor until every outbox is empty
// and returns the outcome writes made, and how long the drain took.
func drainWebhooks(t *testing.T, hooks, perHook int) (txns, outcomes int64,
	took time.Duration) {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	db, err := persistence.OpenBadger(persistence.BadgerOptions{Dir: t.TempDir()})
	if err != nil {
		t.Fatalf("OpenBadger: %v", err)
	}
	defer db.Close()

	now := time.Now().UTC()
	records := fixedRecords{last: uint64(perHook)}
	ids := make([]string, hooks)
	for i := range ids {
		w := persistence.Webhook{ID: persistence.NewWebhookID(), Owner: fmt.Sprint("o", i),
			URL: srv.URL + "/in", Secret: persistence.NewWebhookSecret(), Created: now}
		if err := db.PutWebhook(w, records.last); err != nil {
			t.Fatalf("PutWebhook: %v", err)
		}
		ds := make([]persistence.Delivery, perHook)
		for j := range ds {
			ds[j] = persistence.Delivery{Seq: uint64(j + 1), Created: now, Next: now}
		}
		err := db.Enqueue([]persistence.WebhookEnqueue{{ID: w.ID, Cursor: records.last,
			Deliveries: ds}})
		if err != nil {
			t.Fatalf("Enqueue: %v", err)
		}
		ids[i] = w.ID
	}
	guard, err := notify.NewGuard(notify.GuardConfig{
		Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	if err != nil {
		t.Fatalf("NewGuard: %v", err)
	}
	store := &countingStore{WebhookStore: db}
	props, err := NewWebhookProps(WebhookDeps{Store: store, Records: records,
		Clock: clock.Real{}, Config: WebhookConfig{Guard: guard}})
	if err != nil {
		t.Fatalf("NewWebhookProps: %v", err)
	}

	start := time.Now()
	sys := actor.NewActorSystem()
	pid := sys.Root.Spawn(props)
	defer func() { _ = sys.Root.StopFuture(pid).Wait() }()
	for deadline := start.Add(60 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if store.outcomes.Load() >= int64(hooks*perHook) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d outcomes written in 60 s", store.outcomes.Load(),
				hooks*perHook)
		}
	}
	took = time.Since(start)
	for _, id := range ids {
		out, dead, err := db.WebhookCounts(id)
		log, lerr := db.DeliveryLog(id, 0, perHook+1)
		if err != nil || lerr != nil || out != 0 || dead != 0 || len(log) != perHook {
			t.Fatalf("webhook %s: outbox %d, dead %d, log %d (%v, %v); want 0, 0, %d", id,
				out, dead, len(log), err, lerr, perHook)
		}
		for i, e := range log {
			if e.N != uint64(i+1) || e.Outcome != persistence.OutcomeDelivered {
				t.Fatalf("webhook %s log entry %d: %+v", id, i, e)
			}
		}
	}
	return store.txns.Load(), store.outcomes.Load(), took
}

// TestWebhookOutcomesGroupCommitted drains 10 webhooks' outboxes into a fast receiver and
// counts the outcome transactions (one fsync each): grouped, far fewer than deliveries; with
// groups of one (the former behaviour), one per delivery.
func TestWebhookOutcomesGroupCommitted(t *testing.T) {
	const hooks, perHook = 10, 100
	saved := maxResolveBatch
	defer func() { maxResolveBatch = saved }()

	maxResolveBatch = 1
	singleTxns, singleOutcomes, singleTook := drainWebhooks(t, hooks, perHook)
	maxResolveBatch = saved
	txns, outcomes, took := drainWebhooks(t, hooks, perHook)

	t.Logf("%d deliveries: one per group: %d transactions (fsyncs) in %v; grouped: %d "+
		"transactions in %v (%.1f outcomes each)", outcomes, singleTxns, singleTook, txns,
		took, float64(outcomes)/float64(txns))
	if singleTxns != singleOutcomes || outcomes != hooks*perHook {
		t.Errorf("groups of one: %d transactions for %d outcomes; grouped: %d outcomes",
			singleTxns, singleOutcomes, outcomes)
	}
	if txns*2 > outcomes {
		t.Errorf("%d transactions for %d outcomes: want at most half as many", txns, outcomes)
	}
}
