package system_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/whalecast/whalecast/internal/auth"
	"github.com/whalecast/whalecast/internal/notify"
	"github.com/whalecast/whalecast/system"
	"github.com/whalecast/whalecast/transport"
)

// customerRequest is what a test receiver saw of one POST.
type customerRequest struct {
	header http.Header
	body   []byte
	at     time.Time
}

// customerReceiver is a webhook receiver on 127.0.0.1. answer decides the response to the n-th
// request (from 1); it records every request.
type customerReceiver struct {
	srv    *httptest.Server
	answer func(n int, w http.ResponseWriter, r *http.Request)

	mu   sync.Mutex
	reqs []customerRequest
	hits atomic.Int32
}

func newCustomerReceiver(tb testing.TB, answer func(n int, w http.ResponseWriter,
	r *http.Request)) *customerReceiver {
	tb.Helper()
	h := &customerReceiver{answer: answer}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		h.mu.Lock()
		h.reqs = append(h.reqs, customerRequest{header: r.Header.Clone(), body: body,
			at: time.Now()})
		h.mu.Unlock()
		h.answer(int(h.hits.Add(1)), w, r)
	}))
	tb.Cleanup(h.srv.Close)
	return h
}

// answerWith answers every request with code.
func answerWith(code int) func(int, http.ResponseWriter, *http.Request) {
	return func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(code) }
}

func (h *customerReceiver) requests() []customerRequest {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.reqs)
}

// webhookConfig returns a replay engine's configuration whose webhooks may reach
// 127.0.0.1 and retry within milliseconds, giving up after maxAge.
func webhookConfig(tb testing.TB, maxAge time.Duration) system.Config {
	cfg := replayConfig(tb)
	cfg.Webhooks = system.WebhooksConfig{AllowCIDRs: []string{"127.0.0.1/32"},
		Timeout: 300 * time.Millisecond, MinBackoff: 20 * time.Millisecond,
		MaxBackoff: 100 * time.Millisecond, MaxAge: maxAge}
	cfg.RateLimit = 100_000 // the tests poll the delivery logs
	return cfg
}

// createWebhook creates a webhook to url for the holder of tok that only test alerts pass
// (min_btc is the whole supply), and returns the answer.
func createWebhook(tb testing.TB, te *testEngine, tok, url string) transport.NewWebhookResponse {
	tb.Helper()
	got := doHTTP(tb, te, http.MethodPost, "/api/v1/webhooks", authHeader(tok),
		map[string]any{"url": url, "min_btc": 21_000_000})
	if got.status != http.StatusCreated {
		tb.Fatalf("create webhook: got %d (%s), want 201", got.status, got.body)
	}
	var resp transport.NewWebhookResponse
	if err := json.Unmarshal(got.body, &resp); err != nil {
		tb.Fatal(err)
	}
	return resp
}

// publishOne publishes one test alert through the admin route and returns its seq.
func publishOne(tb testing.TB, te *testEngine) uint64 {
	tb.Helper()
	got := doHTTP(tb, te, http.MethodPost, "/api/v1/admin/publish",
		authHeader(token(tb, "ops", auth.PermAdmin)), transport.PublishRequest{Count: 1,
			ValueBTC: 1})
	var resp transport.PublishResponse
	if got.status != 201 || json.Unmarshal(got.body, &resp) != nil || resp.Published != 1 {
		tb.Fatalf("publish: got %d (%s), want 201 with one seq", got.status, got.body)
	}
	return resp.Seqs[0]
}

// deliveryLog reads a webhook's whole delivery log through REST.
func deliveryLog(tb testing.TB, te *testEngine, tok, id string) []transport.DeliveryLogEntry {
	tb.Helper()
	var page transport.DeliveryLogPage
	path := "/api/v1/webhooks/" + id + "/deliveries?limit=1000"
	if got := getJSON(tb, te, path, tok, &page); got != http.StatusOK {
		tb.Fatalf("GET %s: got %d, want 200", path, got)
	}
	return page.Deliveries
}

// waitOutcome waits until the webhook's log holds an entry for seq with outcome, and
// returns the log.
func waitOutcome(tb testing.TB, te *testEngine, tok, id string, seq uint64,
	outcome string) []transport.DeliveryLogEntry {
	tb.Helper()
	var log []transport.DeliveryLogEntry
	waitFor(tb, "webhook "+id+" "+outcome+" of seq "+strconv.FormatUint(seq, 10), func() bool {
		log = deliveryLog(tb, te, tok, id)
		return slices.ContainsFunc(log, func(e transport.DeliveryLogEntry) bool {
			return e.Seq == seq && e.Outcome == outcome
		})
	})
	return log
}

// outcomes lists the outcomes of a log's entries for seq.
func outcomes(log []transport.DeliveryLogEntry, seq uint64) []string {
	var out []string
	for _, e := range log {
		if e.Seq == seq {
			out = append(out, e.Outcome)
		}
	}
	return out
}

// checkSigned checks that req carries seq's record signed with secret.
func checkSigned(tb testing.TB, req customerRequest, secret string, seq uint64) {
	tb.Helper()
	err := notify.Verify([]byte(secret), req.header.Get(notify.SignatureHeader), req.body,
		time.Now(), notify.DefaultTolerance)
	if err != nil {
		tb.Errorf("signature: %v", err)
	}
	if got := req.header.Get("Idempotency-Key"); got != strconv.FormatUint(seq, 10) {
		tb.Errorf("Idempotency-Key: got %q, want %d", got, seq)
	}
	if got := req.header.Get("Content-Type"); got != "application/json" {
		tb.Errorf("Content-Type: got %q", got)
	}
	var msg struct {
		Type string `json:"type"`
		Seq  uint64 `json:"seq"`
		Data struct {
			Test bool `json:"test"`
		} `json:"data"`
	}
	if err := json.Unmarshal(req.body, &msg); err != nil || msg.Type != "whale_alert" ||
		msg.Seq != seq || !msg.Data.Test {
		tb.Errorf("body %s: want the whale_alert of seq %d", req.body, seq)
	}
}

// TestWebhooksEndToEnd creates webhooks through REST on a real engine, publishes an alert,
// and follows it to receivers that answer at once, fail then recover, time out, redirect
// to a private address, or fail until the delivery is dead-lettered and then replayed.
func TestWebhooksEndToEnd(t *testing.T) {
	te := startEngine(t, webhookConfig(t, 1500*time.Millisecond))
	te.waitLastSeq(t, lastSeq277647)
	alice := token(t, "alice", auth.PermWrite)

	var recovered atomic.Bool
	receivers := map[string]*customerReceiver{
		"ok": newCustomerReceiver(t, answerWith(http.StatusNoContent)),
		"flaky": newCustomerReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(map[bool]int{true: 500, false: 200}[n <= 2])
		}),
		"slow": newCustomerReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
			if n == 1 {
				select {
				case <-r.Context().Done():
				case <-time.After(2 * time.Second):
				}
			}
			w.WriteHeader(200)
		}),
		"redirect": newCustomerReceiver(t, func(_ int, w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "http://10.0.0.1/steal", http.StatusFound)
		}),
		"dead": newCustomerReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(map[bool]int{true: 200, false: 500}[recovered.Load()])
		}),
	}
	hooks := map[string]transport.NewWebhookResponse{}
	for name, r := range receivers {
		hooks[name] = createWebhook(t, te, alice, r.srv.URL+"/hook/"+name+"?key=k1")
	}
	seq := publishOne(t, te)

	t.Run("delivered signed", func(t *testing.T) {
		log := waitOutcome(t, te, alice, hooks["ok"].ID, seq, "delivered")
		reqs := receivers["ok"].requests()
		if len(reqs) != 1 || len(log) != 1 {
			t.Fatalf("got %d requests and log %+v, want one delivery", len(reqs), log)
		}
		checkSigned(t, reqs[0], hooks["ok"].Secret, seq)
	})
	t.Run("500 then recovers", func(t *testing.T) {
		log := waitOutcome(t, te, alice, hooks["flaky"].ID, seq, "delivered")
		want := []string{"retry", "retry", "delivered"}
		if got := outcomes(log, seq); !slices.Equal(got, want) {
			t.Errorf("log: got %v, want %v", got, want)
		}
		if log[0].Status != 500 || log[0].Attempt != 1 || log[2].Attempt != 3 ||
			log[0].Error != "http 500" {
			t.Errorf("log: got %+v, want status 500 (\"http 500\") on attempt 1 and "+
				"success on 3", log)
		}
		for _, req := range receivers["flaky"].requests() {
			checkSigned(t, req, hooks["flaky"].Secret, seq)
		}
	})
	t.Run("timeout then delivered", func(t *testing.T) {
		log := waitOutcome(t, te, alice, hooks["slow"].ID, seq, "delivered")
		if got := outcomes(log, seq); !slices.Equal(got, []string{"retry", "delivered"}) ||
			log[0].Error != "timed out" || log[0].DurationMS < 250 {
			t.Errorf("log: got %+v, want a timed out attempt, then delivered", log)
		}
	})
	t.Run("redirect not followed", func(t *testing.T) {
		log := waitOutcome(t, te, alice, hooks["redirect"].ID, seq, "dead_letter")
		if len(log) != 1 || log[0].Status != http.StatusFound ||
			log[0].Error != "redirect not followed (http 302)" {
			t.Errorf("log: got %+v, want one dead letter for a 302", log)
		}
		if n := receivers["redirect"].hits.Load(); n != 1 {
			t.Errorf("receiver hit %d times, want 1", n)
		}
	})
	t.Run("dead letter after max age, then replayed", func(t *testing.T) {
		id := hooks["dead"].ID
		log := waitOutcome(t, te, alice, id, seq, "dead_letter")
		got := outcomes(log, seq)
		if len(got) < 3 || got[len(got)-1] != "dead_letter" {
			t.Errorf("log: got %v, want retries then a dead letter", got)
		}
		var dead transport.DeadLetterPage
		if code := getJSON(t, te, "/api/v1/webhooks/"+id+"/dead-letters", alice,
			&dead); code != 200 || len(dead.DeadLetters) != 1 ||
			dead.DeadLetters[0].Seq != seq || dead.DeadLetters[0].LastStatus != 500 {
			t.Fatalf("dead letters: got %d %+v, want seq %d with status 500", code, dead, seq)
		}
		first := dead.DeadLetters[0]
		if age := first.DeadAt.Sub(first.Created); age < 1500*time.Millisecond {
			t.Errorf("dead after %v, want at least the max age 1.5s", age)
		}

		recovered.Store(true)
		ans := doHTTP(t, te, http.MethodPost, "/api/v1/webhooks/"+id+"/dead-letters/replay",
			authHeader(alice), nil)
		var replay transport.ReplayResponse
		if ans.status != 200 || json.Unmarshal(ans.body, &replay) != nil ||
			!slices.Equal(replay.Seqs, []uint64{seq}) {
			t.Fatalf("replay: got %d %s, want seq %d replayed", ans.status, ans.body, seq)
		}
		log = waitOutcome(t, te, alice, id, seq, "delivered")
		got = outcomes(log, seq)
		if got[len(got)-2] != "replayed" {
			t.Errorf("log: got %v, want replayed then delivered", got)
		}
		reqs := receivers["dead"].requests()
		checkSigned(t, reqs[len(reqs)-1], hooks["dead"].Secret, seq)
		var info transport.WebhookInfo
		getJSON(t, te, "/api/v1/webhooks/"+id, alice, &info)
		if info.Pending == nil || *info.Pending != 0 || *info.DeadLetters != 0 {
			t.Errorf("webhook after replay: got %+v, want nothing pending or dead", info)
		}
	})
}

// TestWebhookPendingSurvivesRestart stops the engine while a delivery waits for a receiver
// that is down, and checks that the next engine on the same data delivers it.
func TestWebhookPendingSurvivesRestart(t *testing.T) {
	cfg := webhookConfig(t, time.Minute)
	cfg.Webhooks.MinBackoff, cfg.Webhooks.MaxBackoff = 50*time.Millisecond, 200*time.Millisecond
	te := startEngine(t, cfg)
	te.waitLastSeq(t, lastSeq277647)
	bob := token(t, "bob", auth.PermWrite)
	var up atomic.Bool
	rcv := newCustomerReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(map[bool]int{true: 200, false: 503}[up.Load()])
	})
	hook := createWebhook(t, te, bob, rcv.srv.URL)
	seq := publishOne(t, te)
	waitOutcome(t, te, bob, hook.ID, seq, "retry")
	te.shutdown(t)

	up.Store(true)
	before := rcv.hits.Load()
	te = startEngine(t, cfg)
	log := waitOutcome(t, te, bob, hook.ID, seq, "delivered")
	if got := outcomes(log, seq); got[0] != "retry" || got[len(got)-1] != "delivered" {
		t.Errorf("log: got %v, want retries, then delivered after the restart", got)
	}
	reqs := rcv.requests()
	if int32(len(reqs)) <= before {
		t.Fatalf("receiver got %d requests, want more than the %d before the restart",
			len(reqs), before)
	}
	checkSigned(t, reqs[len(reqs)-1], hook.Secret, seq)
}

// TestWebhookRoutesRefuse checks validation, SSRF refusals at creation and scoping.
func TestWebhookRoutesRefuse(t *testing.T) {
	te := startEngine(t, webhookConfig(t, time.Minute))
	te.waitLastSeq(t, lastSeq277647)
	alice, carol := token(t, "alice", auth.PermWrite), token(t, "carol", auth.PermWrite)
	admin := token(t, "ops", auth.PermAdmin)
	rcv := newCustomerReceiver(t, answerWith(200))
	hook := createWebhook(t, te, alice, rcv.srv.URL+"/in?token=secret-in-query")

	tests := []struct {
		name string
		body any
		want int
	}{
		{"metadata address", map[string]any{"url": "http://169.254.169.254/latest",
			"min_btc": 1}, 400},
		{"private address", map[string]any{"url": "http://10.0.0.1/x", "min_btc": 1}, 400},
		{"mapped loopback", map[string]any{"url": "http://[::ffff:127.0.0.2]/x",
			"min_btc": 1}, 400},
		{"ftp scheme", map[string]any{"url": "ftp://hooks.example/x", "min_btc": 1}, 400},
		{"userinfo", map[string]any{"url": "https://u:p@hooks.example/x", "min_btc": 1},
			400},
		{"no min_btc", map[string]any{"url": "https://hooks.example/x"}, 400},
		{"unknown detector", map[string]any{"url": "https://hooks.example/x", "min_btc": 1,
			"detectors": []string{"nope"}}, 400},
		{"repeated status", map[string]any{"url": "https://hooks.example/x", "min_btc": 1,
			"statuses": []string{"mempool", "mempool"}}, 400},
		{"unknown field", map[string]any{"url": "https://hooks.example/x", "min_btc": 1,
			"secret": "mine"}, 400},
		{"case variant", map[string]any{"URL": "https://hooks.example/x", "min_btc": 1}, 400},
		{"null field", map[string]any{"url": "https://hooks.example/x", "min_btc": nil}, 400},
		{"long url", map[string]any{"url": "https://hooks.example/" + strings.Repeat("a",
			3000), "min_btc": 1}, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := doHTTP(t, te, http.MethodPost, "/api/v1/webhooks", authHeader(alice),
				tt.body)
			if got.status != tt.want {
				t.Errorf("got %d (%s), want %d", got.status, got.body, tt.want)
			}
		})
	}

	if got := doHTTP(t, te, http.MethodPost, "/api/v1/webhooks",
		authHeader(token(t, "reader", auth.PermRead)), map[string]any{
			"url": "https://hooks.example/x", "min_btc": 1}); got.status != 403 {
		t.Errorf("read-only token: got %d, want 403", got.status)
	}
	path := "/api/v1/webhooks/" + hook.ID
	for _, p := range []string{path, path + "/deliveries", path + "/dead-letters"} {
		if code := getJSON(t, te, p, carol, nil); code != 404 {
			t.Errorf("GET %s by another client: got %d, want 404", p, code)
		}
	}
	if got := doHTTP(t, te, http.MethodDelete, path, authHeader(carol), nil); got.status != 404 {
		t.Errorf("DELETE by another client: got %d, want 404", got.status)
	}

	var list transport.WebhookList
	getJSON(t, te, "/api/v1/webhooks", carol, &list)
	if len(list.Webhooks) != 0 {
		t.Errorf("carol's list: got %+v, want none", list.Webhooks)
	}
	getJSON(t, te, "/api/v1/webhooks", admin, &list)
	if len(list.Webhooks) != 1 || list.Webhooks[0].ID != hook.ID {
		t.Fatalf("admin's list: got %+v, want alice's webhook", list.Webhooks)
	}
	status, _, body := getRaw(t, te, path, alice)
	if status != 200 || strings.Contains(string(body), "secret-in-query") ||
		strings.Contains(string(body), "/in") || strings.Contains(string(body),
		hook.Secret) || !strings.Contains(string(body), "/[redacted]?[redacted]") {
		t.Errorf("GET webhook: got %d %s, want the URL's path and query redacted and no "+
			"secret", status, body)
	}
	if strings.Contains(hook.URL, "/in") || strings.Contains(hook.URL, "secret-in-query") {
		t.Errorf("create answered URL %q, want its path and query redacted", hook.URL)
	}

	if got := doHTTP(t, te, http.MethodDelete, path, authHeader(alice), nil); got.status != 204 {
		t.Errorf("DELETE by its owner: got %d (%s), want 204", got.status, got.body)
	}
	if code := getJSON(t, te, path, alice, nil); code != 404 {
		t.Errorf("GET after delete: got %d, want 404", code)
	}
}

// getRaw sends GET path with tok and returns the answer.
func getRaw(tb testing.TB, te *testEngine, path, tok string) (int, http.Header, []byte) {
	tb.Helper()
	got := doHTTP(tb, te, http.MethodGet, path, authHeader(tok), nil)
	return got.status, got.header, got.body
}

// TestWebhookOutboxBound holds a webhook's cursor while its outbox is full: with room for
// one delivery and a receiver that is down, three alerts leave one delivery pending and two
// records waiting in the log; once the receiver is back, all three arrive.
func TestWebhookOutboxBound(t *testing.T) {
	cfg := webhookConfig(t, time.Minute)
	cfg.Webhooks.MaxPending = 1
	te := startEngine(t, cfg)
	te.waitLastSeq(t, lastSeq277647)
	dave := token(t, "dave", auth.PermWrite)
	var up atomic.Bool
	rcv := newCustomerReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(map[bool]int{true: 200, false: 503}[up.Load()])
	})
	hook := createWebhook(t, te, dave, rcv.srv.URL)

	got := doHTTP(t, te, http.MethodPost, "/api/v1/admin/publish",
		authHeader(token(t, "ops", auth.PermAdmin)), transport.PublishRequest{Count: 3})
	var pub transport.PublishResponse
	if got.status != 201 || json.Unmarshal(got.body, &pub) != nil || pub.Published != 3 {
		t.Fatalf("publish: got %d (%s), want 3 alerts", got.status, got.body)
	}
	waitOutcome(t, te, dave, hook.ID, pub.Seqs[0], "retry")
	var info transport.WebhookInfo
	getJSON(t, te, "/api/v1/webhooks/"+hook.ID, dave, &info)
	if info.Pending == nil || *info.Pending != 1 {
		t.Errorf("pending while down: got %+v, want 1", info.Pending)
	}

	up.Store(true)
	for _, seq := range pub.Seqs {
		waitOutcome(t, te, dave, hook.ID, seq, "delivered")
	}
	keys := map[string]bool{}
	for _, req := range rcv.requests() {
		keys[req.header.Get("Idempotency-Key")] = true
	}
	for _, seq := range pub.Seqs {
		if !keys[strconv.FormatUint(seq, 10)] {
			t.Errorf("receiver never got seq %d", seq)
		}
	}
}
