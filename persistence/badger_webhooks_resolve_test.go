package persistence_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/whalecast/whalecast/persistence"
)

// TestWebhookResolveAttemptsBatch resolves outcomes of three webhooks, one of them deleted, in
// one call: each live one's outbox, dead letters and log change as one ResolveAttempt each
// would, with the log and the dead letters trimmed; the deleted one is skipped.
func TestWebhookResolveAttemptsBatch(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Millisecond)
	s := openBadger(t, persistence.BadgerOptions{Dir: t.TempDir()})
	a, b, gone := testWebhook("alice"), testWebhook("bob"), testWebhook("carol")
	for _, w := range []persistence.Webhook{a, b, gone} {
		mustPutWebhook(t, s, w, 0)
	}
	err := s.Enqueue([]persistence.WebhookEnqueue{
		{ID: a.ID, Cursor: 6, Deliveries: deliveries(now, 1, 2, 3, 4, 5, 6)},
		{ID: b.ID, Cursor: 3, Deliveries: deliveries(now, 1, 2, 3)},
		{ID: gone.ID, Cursor: 1, Deliveries: deliveries(now, 1)},
	})
	if err != nil {
		t.Fatalf("Enqueue: %v", err)
	}
	if err := s.DeleteWebhook(gone.ID); err != nil {
		t.Fatalf("DeleteWebhook: %v", err)
	}

	item := func(id string, seq uint64, outcome string) persistence.AttemptResult {
		d := persistence.Delivery{Seq: seq, Attempts: 1, Created: now, Next: now}
		switch outcome {
		case persistence.OutcomeRetry:
			d.Next, d.LastStatus, d.LastError = now.Add(time.Minute), 503, "status 503"
		case persistence.OutcomeDeadLetter:
			d.DeadAt, d.LastStatus, d.LastError = now, 410, "status 410"
		}
		return persistence.AttemptResult{ID: id, Delivery: d,
			Entry: persistence.DeliveryLogEntry{Time: now, Seq: seq, Attempt: 1,
				Outcome: outcome, Status: d.LastStatus, Error: d.LastError}}
	}
	items := []persistence.AttemptResult{
		item(a.ID, 1, persistence.OutcomeDelivered),
		item(b.ID, 1, persistence.OutcomeDeadLetter),
		item(gone.ID, 1, persistence.OutcomeDelivered),
		item(a.ID, 2, persistence.OutcomeRetry),
		item(a.ID, 3, persistence.OutcomeDeadLetter),
		item(a.ID, 4, persistence.OutcomeDeadLetter),
		item(a.ID, 5, persistence.OutcomeDeadLetter),
		item(b.ID, 2, persistence.OutcomeDelivered),
		item(a.ID, 6, persistence.OutcomeDelivered),
	}
	keep := persistence.WebhookKeep{Log: 4, Dead: 2}

	got, err := s.ResolveAttempts(items, keep)

	if err != nil {
		t.Fatalf("ResolveAttempts: %v", err)
	}
	wantN := []uint64{1, 1, 0, 2, 3, 4, 5, 2, 6}
	for i, e := range got {
		if e.N != wantN[i] {
			t.Errorf("entry %d: N %d, want %d", i, e.N, wantN[i])
		}
		if e.N != 0 && (e.Seq != items[i].Delivery.Seq || e.Outcome != items[i].Entry.Outcome) {
			t.Errorf("entry %d: %+v, want seq %d %s", i, e, items[i].Delivery.Seq,
				items[i].Entry.Outcome)
		}
	}

	tests := []struct {
		id       string
		outbox   []uint64
		dead     []uint64
		logNs    []uint64
		logSeqs  []uint64
		outcomes []string
	}{
		{id: a.ID, outbox: []uint64{2}, dead: []uint64{4, 5}, logNs: []uint64{3, 4, 5, 6},
			logSeqs: []uint64{3, 4, 5, 6}, outcomes: []string{persistence.OutcomeDeadLetter,
				persistence.OutcomeDeadLetter, persistence.OutcomeDeadLetter,
				persistence.OutcomeDelivered}},
		{id: b.ID, outbox: []uint64{3}, dead: []uint64{1}, logNs: []uint64{1, 2},
			logSeqs: []uint64{1, 2}, outcomes: []string{persistence.OutcomeDeadLetter,
				persistence.OutcomeDelivered}},
	}
	for _, tt := range tests {
		if got := outboxSeqs(t, s, tt.id); !slices.Equal(got, tt.outbox) {
			t.Errorf("%s outbox %v, want %v", tt.id, got, tt.outbox)
		}
		dead, err := s.DeadLetters(tt.id, 0, 10)
		if err != nil {
			t.Fatalf("DeadLetters: %v", err)
		}
		var deadSeqs []uint64
		for _, d := range dead {
			deadSeqs = append(deadSeqs, d.Seq)
		}
		if !slices.Equal(deadSeqs, tt.dead) {
			t.Errorf("%s dead letters %v, want %v", tt.id, deadSeqs, tt.dead)
		}
		log, err := s.DeliveryLog(tt.id, 0, 10)
		if err != nil {
			t.Fatalf("DeliveryLog: %v", err)
		}
		var ns, seqs []uint64
		var outcomes []string
		for _, e := range log {
			ns, seqs, outcomes = append(ns, e.N), append(seqs, e.Seq), append(outcomes, e.Outcome)
		}
		if !slices.Equal(ns, tt.logNs) || !slices.Equal(seqs, tt.logSeqs) ||
			!slices.Equal(outcomes, tt.outcomes) {
			t.Errorf("%s log N %v seqs %v outcomes %v, want %v %v %v", tt.id, ns, seqs,
				outcomes, tt.logNs, tt.logSeqs, tt.outcomes)
		}
	}
	out, err := s.Outbox(a.ID)
	if err != nil || len(out) != 1 || out[0].LastStatus != 503 || out[0].Attempts != 1 {
		t.Errorf("retried delivery: %+v, %v; want attempt 1 status 503", out, err)
	}
}

// TestWebhookResolveAttemptsRefused: a bad outcome refuses the whole call and writes nothing;
// an empty call writes nothing; the single form reports a deleted webhook as ErrNotFound.
func TestWebhookResolveAttemptsRefused(t *testing.T) {
	now := time.Now().UTC()
	s := openBadger(t, persistence.BadgerOptions{Dir: t.TempDir()})
	w := testWebhook("alice")
	mustPutWebhook(t, s, w, 0)
	if err := s.Enqueue([]persistence.WebhookEnqueue{{ID: w.ID, Cursor: 2,
		Deliveries: deliveries(now, 1, 2)}}); err != nil {
		t.Fatalf("Enqueue: %v", err)
	}
	items := []persistence.AttemptResult{
		{ID: w.ID, Delivery: persistence.Delivery{Seq: 1},
			Entry: persistence.DeliveryLogEntry{Seq: 1, Outcome: persistence.OutcomeDelivered}},
		{ID: w.ID, Delivery: persistence.Delivery{Seq: 2},
			Entry: persistence.DeliveryLogEntry{Seq: 2, Outcome: "lost"}},
	}

	_, err := s.ResolveAttempts(items, persistence.WebhookKeep{})

	if !errors.Is(err, persistence.ErrInvalidRecord) {
		t.Errorf("bad outcome: got %v, want ErrInvalidRecord", err)
	}
	if got := outboxSeqs(t, s, w.ID); !slices.Equal(got, []uint64{1, 2}) {
		t.Errorf("outbox after a refused call %v, want [1 2]", got)
	}
	if got, err := s.ResolveAttempts(nil, persistence.WebhookKeep{}); got != nil || err != nil {
		t.Errorf("empty call: %v, %v", got, err)
	}
	if err := s.Health(); err != nil {
		t.Errorf("store failed by a refused call: %v", err)
	}
	_, err = s.ResolveAttempt(persistence.NewWebhookID(), persistence.Delivery{Seq: 1},
		persistence.DeliveryLogEntry{Seq: 1, Outcome: persistence.OutcomeDelivered},
		persistence.WebhookKeep{})
	if !errors.Is(err, persistence.ErrNotFound) {
		t.Errorf("deleted webhook: got %v, want ErrNotFound", err)
	}
}

// TestWebhookResolveAttemptsSplitsWhenTooBig resolves a large batch on the smallest memtable,
// whose transactions hold far fewer writes: it is written in several transactions, each outcome
// whole, and the log numbers stay dense.
func TestWebhookResolveAttemptsSplitsWhenTooBig(t *testing.T) {
	now := time.Now().UTC()
	s := openBadger(t, persistence.BadgerOptions{Dir: t.TempDir(),
		MemTableSize: persistence.MinMemTableSize})
	w := testWebhook("alice")
	mustPutWebhook(t, s, w, 0)
	const n = 3000
	seqs := make([]uint64, n)
	items := make([]persistence.AttemptResult, n)
	for i := range seqs {
		seqs[i] = uint64(i + 1)
		d := persistence.Delivery{Seq: seqs[i], Attempts: 1, Created: now,
			Next: now.Add(time.Hour), LastError: "status 500, a long enough error text to " +
				"make the transaction grow quickly past what one small memtable holds"}
		items[i] = persistence.AttemptResult{ID: w.ID, Delivery: d,
			Entry: persistence.DeliveryLogEntry{Seq: seqs[i], Attempt: 1,
				Outcome: persistence.OutcomeRetry, Error: d.LastError}}
	}
	for i := 0; i < n; i += 500 { // one Enqueue of all would not fit either
		if err := s.Enqueue([]persistence.WebhookEnqueue{{ID: w.ID, Cursor: uint64(i + 500),
			Deliveries: deliveries(now, seqs[i:i+500]...)}}); err != nil {
			t.Fatalf("Enqueue: %v", err)
		}
	}

	got, err := s.ResolveAttempts(items, persistence.WebhookKeep{Log: n})

	if err != nil {
		t.Fatalf("ResolveAttempts: %v", err)
	}
	for i, e := range got {
		if e.N != uint64(i+1) {
			t.Fatalf("entry %d: N %d, want %d", i, e.N, i+1)
		}
	}
	log, err := s.DeliveryLog(w.ID, 0, n+1)
	if err != nil || len(log) != n {
		t.Fatalf("log: %d entries, %v; want %d", len(log), err, n)
	}
}
