package persistence_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/whalecast/whalecast/persistence"
)

// testWebhook returns a valid webhook owned by owner.
func testWebhook(owner string) persistence.Webhook {
	return persistence.Webhook{ID: persistence.NewWebhookID(), Owner: owner,
		URL:    "https://hooks.example/in?token=abc",
		Secret: persistence.NewWebhookSecret(), MinSat: 5, Detectors: []string{"large_value"},
		Created: time.Now().UTC().Truncate(time.Second)}
}

func mustPutWebhook(t testing.TB, s *persistence.Badger, w persistence.Webhook,
	cursor uint64) {
	t.Helper()
	if err := s.PutWebhook(w, cursor); err != nil {
		t.Fatalf("PutWebhook: %v", err)
	}
}

func outboxSeqs(t testing.TB, s *persistence.Badger, id string) []uint64 {
	t.Helper()
	out, err := s.Outbox(id)
	if err != nil {
		t.Fatalf("Outbox(%s): %v", id, err)
	}
	seqs := make([]uint64, len(out))
	for i, d := range out {
		seqs[i] = d.Seq
	}
	return seqs
}

func deliveries(now time.Time, seqs ...uint64) []persistence.Delivery {
	out := make([]persistence.Delivery, len(seqs))
	for i, seq := range seqs {
		out[i] = persistence.Delivery{Seq: seq, Created: now, Next: now}
	}
	return out
}

// TestWebhookOutboxSurvivesRestart writes a webhook, its cursor and outbox, resolves some
// deliveries, closes Badger and opens it again: everything is there as it was.
func TestWebhookOutboxSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	now := time.Now().UTC().Truncate(time.Millisecond)
	s := openBadger(t, persistence.BadgerOptions{Dir: dir})
	w := testWebhook("alice")
	mustPutWebhook(t, s, w, 7)

	err := s.Enqueue([]persistence.WebhookEnqueue{
		{ID: w.ID, Cursor: 12, Deliveries: deliveries(now, 8, 10, 12)},
		{ID: persistence.NewWebhookID(), Cursor: 99, Deliveries: deliveries(now, 9)},
	})
	if err != nil {
		t.Fatalf("Enqueue: %v", err)
	}
	retry := persistence.Delivery{Seq: 10, Attempts: 1, Created: now,
		Next: now.Add(time.Minute), LastStatus: 500, LastError: "status 500"}
	resolve := []struct {
		d       persistence.Delivery
		outcome string
	}{
		{persistence.Delivery{Seq: 8, Attempts: 1, Created: now}, persistence.OutcomeDelivered},
		{retry, persistence.OutcomeRetry},
	}
	for _, r := range resolve {
		_, err := s.ResolveAttempt(w.ID, r.d, persistence.DeliveryLogEntry{Seq: r.d.Seq,
			Attempt: 1, Outcome: r.outcome}, persistence.WebhookKeep{})
		if err != nil {
			t.Fatalf("ResolveAttempt(%d, %s): %v", r.d.Seq, r.outcome, err)
		}
	}
	closeStore(t, s)

	s = openBadger(t, persistence.BadgerOptions{Dir: dir})
	got, err := s.Webhook(w.ID)
	if err != nil {
		t.Fatalf("Webhook after reopen: %v", err)
	}
	if got.URL != w.URL || string(got.Secret.Reveal()) != string(w.Secret.Reveal()) ||
		got.MinSat != 5 || !slices.Equal(got.Detectors, w.Detectors) || got.Statuses != nil ||
		!got.Created.Equal(w.Created) || got.Owner != "alice" {
		t.Errorf("webhook after reopen: got %+v, want %+v", got, w)
	}
	if c, err := s.WebhookCursor(w.ID); err != nil || c != 12 {
		t.Errorf("cursor after reopen: got %d, %v; want 12", c, err)
	}
	if seqs := outboxSeqs(t, s, w.ID); !slices.Equal(seqs, []uint64{10, 12}) {
		t.Errorf("outbox after reopen: got %v, want [10 12]", seqs)
	}
	out, _ := s.Outbox(w.ID)
	if out[0].Attempts != 1 || !out[0].Next.Equal(retry.Next) || out[0].LastStatus != 500 {
		t.Errorf("retried delivery after reopen: got %+v, want %+v", out[0], retry)
	}
	log, err := s.DeliveryLog(w.ID, 0, 10)
	if err != nil || len(log) != 2 || log[0].Outcome != persistence.OutcomeDelivered ||
		log[1].Outcome != persistence.OutcomeRetry || log[1].N != 2 {
		t.Errorf("log after reopen: got %+v, %v; want delivered then retry", log, err)
	}
	if hooks, err := s.Webhooks(); err != nil || len(hooks) != 1 {
		t.Errorf("Webhooks: got %d, %v; want 1 (the unknown id was skipped)", len(hooks), err)
	}
}

func TestWebhookDeadLettersAndReplay(t *testing.T) {
	s := openBadger(t, persistence.BadgerOptions{})
	now := time.Now().UTC()
	w := testWebhook("bob")
	mustPutWebhook(t, s, w, 0)
	if err := s.Enqueue([]persistence.WebhookEnqueue{{ID: w.ID, Cursor: 5,
		Deliveries: deliveries(now, 1, 2, 3, 4, 5)}}); err != nil {
		t.Fatal(err)
	}
	keep := persistence.WebhookKeep{Log: 3, Dead: 3}
	for seq := uint64(1); seq <= 5; seq++ {
		d := persistence.Delivery{Seq: seq, Attempts: 4, Created: now, DeadAt: now,
			LastError: strings.Repeat("x", 1000)}
		if _, err := s.ResolveAttempt(w.ID, d, persistence.DeliveryLogEntry{Seq: seq,
			Attempt: 4, Outcome: persistence.OutcomeDeadLetter}, keep); err != nil {
			t.Fatal(err)
		}
	}

	dead, err := s.DeadLetters(w.ID, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if got := seqsOf(dead); !slices.Equal(got, []uint64{3, 4, 5}) {
		t.Errorf("dead letters: got %v, want the 3 highest [3 4 5]", got)
	}
	if len(dead[0].LastError) != persistence.MaxWebhookError {
		t.Errorf("stored error: %d bytes, want clipped to %d", len(dead[0].LastError),
			persistence.MaxWebhookError)
	}
	if n := outboxSeqs(t, s, w.ID); len(n) != 0 {
		t.Errorf("outbox: got %v, want empty", n)
	}
	log, _ := s.DeliveryLog(w.ID, 0, 100)
	if len(log) != 3 || log[0].N != 3 || log[2].N != 5 {
		t.Errorf("log: got %+v, want entries 3 to 5 (3 kept)", log)
	}

	moved, err := s.ReplayDeadLetters(w.ID, []uint64{5, 9, 5}, 10, now, keep)
	if err != nil || !slices.Equal(seqsOf(moved), []uint64{5}) {
		t.Fatalf("replay [5 9 5]: got %v, %v; want [5]", seqsOf(moved), err)
	}
	moved, err = s.ReplayDeadLetters(w.ID, nil, 1, now, keep)
	if err != nil || !slices.Equal(seqsOf(moved), []uint64{3}) {
		t.Fatalf("replay lowest 1: got %v, %v; want [3]", seqsOf(moved), err)
	}
	if got := outboxSeqs(t, s, w.ID); !slices.Equal(got, []uint64{3, 5}) {
		t.Errorf("outbox after replays: got %v, want [3 5]", got)
	}
	out, _ := s.Outbox(w.ID)
	if out[0].Attempts != 0 || out[0].LastError != "" || !out[0].Next.Equal(now) {
		t.Errorf("replayed delivery: got %+v, want fresh and due now", out[0])
	}
	if o, d, err := s.WebhookCounts(w.ID); o != 2 || d != 1 || err != nil {
		t.Errorf("counts: got %d outbox, %d dead, %v; want 2, 1", o, d, err)
	}
}

func TestWebhookDelete(t *testing.T) {
	s := openBadger(t, persistence.BadgerOptions{})
	now := time.Now()
	w, other := testWebhook("carol"), testWebhook("dave")
	mustPutWebhook(t, s, w, 0)
	mustPutWebhook(t, s, other, 0)
	if err := s.Enqueue([]persistence.WebhookEnqueue{
		{ID: w.ID, Cursor: 3, Deliveries: deliveries(now, 1, 2, 3)},
		{ID: other.ID, Cursor: 3, Deliveries: deliveries(now, 2)},
	}); err != nil {
		t.Fatal(err)
	}
	d := persistence.Delivery{Seq: 1, Attempts: 1, Created: now, DeadAt: now}
	if _, err := s.ResolveAttempt(w.ID, d, persistence.DeliveryLogEntry{Seq: 1,
		Outcome: persistence.OutcomeDeadLetter}, persistence.WebhookKeep{}); err != nil {
		t.Fatal(err)
	}

	if err := s.DeleteWebhook(w.ID); err != nil {
		t.Fatalf("DeleteWebhook: %v", err)
	}
	if err := s.DeleteWebhook(w.ID); !errors.Is(err, persistence.ErrNotFound) {
		t.Errorf("second delete: got %v, want ErrNotFound", err)
	}
	if _, err := s.Webhook(w.ID); !errors.Is(err, persistence.ErrNotFound) {
		t.Errorf("Webhook after delete: got %v, want ErrNotFound", err)
	}
	_, err := s.ResolveAttempt(w.ID, d, persistence.DeliveryLogEntry{Seq: 2,
		Outcome: persistence.OutcomeDelivered}, persistence.WebhookKeep{})
	if !errors.Is(err, persistence.ErrNotFound) {
		t.Errorf("resolve after delete: got %v, want ErrNotFound", err)
	}
	if err := s.Enqueue([]persistence.WebhookEnqueue{{ID: w.ID, Cursor: 9,
		Deliveries: deliveries(now, 9)}}); err != nil {
		t.Errorf("enqueue for a deleted webhook: got %v, want it skipped", err)
	}
	if _, err := s.Outbox(w.ID); !errors.Is(err, persistence.ErrNotFound) {
		t.Errorf("outbox after delete: got %v, want ErrNotFound", err)
	}
	if got := outboxSeqs(t, s, other.ID); !slices.Equal(got, []uint64{2}) {
		t.Errorf("other webhook's outbox: got %v, want [2]", got)
	}
	if err := s.Health(); err != nil {
		t.Errorf("health: %v", err)
	}
}

// TestWebhookSuspend suspends a webhook made by an API key: the suspension keeps its first
// time and reason, keeps the outbox, and survives a restart with the creating credential.
func TestWebhookSuspend(t *testing.T) {
	dir := t.TempDir()
	s := openBadger(t, persistence.BadgerOptions{Dir: dir})
	now := time.Now().UTC().Truncate(time.Millisecond)
	w := testWebhook("gina")
	w.APIKeyID = "0123456789abcdef"
	mustPutWebhook(t, s, w, 0)
	if err := s.Enqueue([]persistence.WebhookEnqueue{{ID: w.ID, Cursor: 2,
		Deliveries: deliveries(now, 1, 2)}}); err != nil {
		t.Fatal(err)
	}

	if err := s.SuspendWebhook(w.ID, now, "the API key that created it was revoked"); err != nil {
		t.Fatalf("SuspendWebhook: %v", err)
	}
	if err := s.SuspendWebhook(w.ID, now.Add(time.Hour), "later"); err != nil {
		t.Fatalf("SuspendWebhook again: %v", err)
	}
	tests := []struct {
		name string
		id   string
		at   time.Time
		want error
	}{
		{"unknown", persistence.NewWebhookID(), now, persistence.ErrNotFound},
		{"malformed id", "wh_nope", now, persistence.ErrNotFound},
		{"no time", w.ID, time.Time{}, persistence.ErrInvalidRecord},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := s.SuspendWebhook(tt.id, tt.at, "x"); !errors.Is(err, tt.want) {
				t.Errorf("SuspendWebhook: got %v, want %v", err, tt.want)
			}
		})
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openBadger(t, persistence.BadgerOptions{Dir: dir})
	got, err := s.Webhook(w.ID)
	if err != nil {
		t.Fatalf("Webhook: %v", err)
	}
	if !got.Suspended.Equal(now) || got.SuspendReason != "the API key that created it "+
		"was revoked" || got.APIKeyID != w.APIKeyID || got.TokenID != "" {
		t.Errorf("after restart: got suspended %v %q, key %q, token %q; want %v, the first "+
			"reason and the key", got.Suspended, got.SuspendReason, got.APIKeyID, got.TokenID,
			now)
	}
	if seqs := outboxSeqs(t, s, w.ID); !slices.Equal(seqs, []uint64{1, 2}) {
		t.Errorf("outbox: got %v, want [1 2] kept", seqs)
	}
}

func TestWebhookRefused(t *testing.T) {
	s := openBadger(t, persistence.BadgerOptions{})
	w := testWebhook("erin")
	mustPutWebhook(t, s, w, 0)
	tests := []struct {
		name string
		edit func(*persistence.Webhook)
		want error
	}{
		{"same id", func(*persistence.Webhook) {}, persistence.ErrExists},
		{"bad id", func(w *persistence.Webhook) { w.ID = "wh_XYZ" },
			persistence.ErrInvalidRecord},
		{"ftp URL", func(w *persistence.Webhook) {
			w.ID, w.URL = persistence.NewWebhookID(), "ftp://x/y"
		}, persistence.ErrInvalidRecord},
		{"userinfo", func(w *persistence.Webhook) {
			w.ID, w.URL = persistence.NewWebhookID(), "https://u:p@x/y"
		}, persistence.ErrInvalidRecord},
		{"short secret", func(w *persistence.Webhook) {
			w.ID, w.Secret = persistence.NewWebhookID(), []byte("short")
		}, persistence.ErrInvalidRecord},
		{"no owner", func(w *persistence.Webhook) {
			w.ID, w.Owner = persistence.NewWebhookID(), ""
		}, persistence.ErrInvalidRecord},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bad := w
			tt.edit(&bad)
			if err := s.PutWebhook(bad, 0); !errors.Is(err, tt.want) {
				t.Errorf("PutWebhook: got %v, want %v", err, tt.want)
			}
		})
	}
	if err := s.Health(); err != nil {
		t.Errorf("health after refusals: %v", err)
	}
}

// TestWebhookNeverPrintsSecret formats a webhook every way a log line could.
func TestWebhookNeverPrintsSecret(t *testing.T) {
	w := testWebhook("frank")
	w.Secret = persistence.WebhookSecret("s3cr3t-s3cr3t-s3cr3t-s3cr3t-s3cr3t")
	for _, out := range []string{fmt.Sprint(w), fmt.Sprintf("%+v", w), fmt.Sprintf("%#v", w),
		fmt.Sprintf("%v", struct{ W persistence.Webhook }{w}), w.LogValue().String(),
		fmt.Sprint(w.Secret)} {
		if strings.Contains(out, "s3cr3t") || strings.Contains(out, "token=abc") ||
			strings.Contains(out, "/in") {
			t.Errorf("formatted webhook %q shows the secret or the URL's path or query", out)
		}
	}
}

func seqsOf(ds []persistence.Delivery) []uint64 {
	out := make([]uint64, len(ds))
	for i, d := range ds {
		out[i] = d.Seq
	}
	return out
}
