package system_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/gorilla/websocket"

	"github.com/whalecast/whalecast/internal/accuracy"
	"github.com/whalecast/whalecast/internal/auth"
	"github.com/whalecast/whalecast/internal/chaintest"
	"github.com/whalecast/whalecast/internal/notify"
	"github.com/whalecast/whalecast/internal/notify/notifytest"
	"github.com/whalecast/whalecast/system"
)

// operatorSecret signs the operator webhook in these tests.
const operatorSecret = "operator-webhook-secret-0123456789abcdef"

// operatorRate paces the replay of TestOperatorAlerts, in items a second: its ~230 items
// take over two seconds, ample time for the sessions to authenticate before the first
// alert settles (the test checks that they did).
const operatorRate = 100

// Subjects of the operator's mail, as the monitor writes them.
const (
	subjectDegraded  = "Whalecast: alert accuracy below threshold"
	subjectRecovered = "Whalecast: alert accuracy recovered"
)

// operatorSettle is --settle-blocks in these tests, the default.
const operatorSettle = 6

// operatorChain writes a replay in which accuracy falls to 0 and recovers, and returns it
// with the records it stores. Block 277647 alerts its three whales and confirms them; a
// rival block on the same parent mines a double spend of each (none a whale itself), so
// they are reorged, then conflicted, and settle conflicted operatorSettle blocks later. A
// block then mines a fresh variant of each whale: they are alerted, confirmed and settle
// confirmed.
func operatorChain(tb testing.TB) (string, []wantRecord) {
	tb.Helper()
	const k = operatorSettle
	block, _, h := chaintest.Block277647(tb)
	whales := whalesOf(tb, block)
	want := slices277647()

	spends := make([]*wire.MsgTx, len(whales))
	variants := make([]*wire.MsgTx, len(whales))
	for i, w := range whales {
		spends[i] = chaintest.Spender(w, byte(i+1))
		spends[i].TxOut[0].Value = 100_000_000 // 1 BTC: no alert of its own
		variants[i] = chaintest.Variant(w, 0xa0+byte(i))
	}
	rival, tip := chaintest.BlockOn(block.Header.PrevBlock, h, 1, spends...)
	blocks, tip := emptyBlocks([]*wire.MsgBlock{block, rival}, tip, h+1, k)
	for _, r := range []struct {
		seq              uint64
		status, previous string
		final            bool
	}{
		{7, "reorged", "confirmed", false},
		{10, "conflicted", "reorged", false},
		{13, "conflicted", "conflicted", true},
	} {
		for i := range whales {
			want = append(want, update(r.seq+uint64(i), i, r.status, r.previous, h, 0, r.final))
		}
	}

	vh := h + 1 + k
	fresh, tip := chaintest.BlockOn(tip, vh, 0, variants...)
	blocks, _ = emptyBlocks(append(blocks, fresh), tip, vh+1, k-1)
	want = append(want, variantRecords(variants, 16, vh, k)...)
	return writeReplay(tb, blocks...), want
}

// variantRecords returns the records of the variants, alerted from seq first on, mined at
// height and settled k blocks later.
func variantRecords(variants []*wire.MsgTx, first uint64, height, k int64) []wantRecord {
	var want []wantRecord
	n := uint64(len(variants))
	for step, r := range []struct {
		typ, status, previous string
		height, confirmations int64
		final                 bool
	}{
		{"whale_alert", "mempool", "", 0, 0, false},
		{"alert_update", "confirmed", "mempool", height, 1, false},
		{"alert_update", "confirmed", "confirmed", height, k, true},
	} {
		for i, v := range variants {
			rec := wantRecord{typ: r.typ, seq: first + uint64(step)*n + uint64(i),
				txid: v.TxHash().String(), valueSat: block277647[i].valueSat,
				status: r.status, previous: r.previous, height: r.height,
				confirmations: r.confirmations, final: r.final}
			if r.typ == "alert_update" {
				rec.alertSeq = first + uint64(i)
			}
			want = append(want, rec)
		}
	}
	return want
}

// whalesOf returns the whales of block 277647 in block order.
func whalesOf(tb testing.TB, block *wire.MsgBlock) []*wire.MsgTx {
	tb.Helper()
	var out []*wire.MsgTx
	for _, tx := range block.Transactions {
		if slices.Contains(wantWhales, tx.TxHash().String()) {
			out = append(out, tx)
		}
	}
	if len(out) != len(wantWhales) {
		tb.Fatalf("block 277647 holds %d of the %d whales", len(out), len(wantWhales))
	}
	return out
}

// emptyBlocks appends n empty blocks on tip, the first at height, and returns the new tip.
func emptyBlocks(blocks []*wire.MsgBlock, tip chainhash.Hash, height, n int64) (
	[]*wire.MsgBlock, chainhash.Hash) {
	for i := range n {
		var b *wire.MsgBlock
		b, tip = chaintest.BlockOn(tip, height+i, 0)
		blocks = append(blocks, b)
	}
	return blocks, tip
}

// writeSecretFile writes secret to a file of mode perm in a temporary directory.
func writeSecretFile(tb testing.TB, secret string, perm os.FileMode) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "secret")
	if err := os.WriteFile(path, []byte(secret+"\n"), perm); err != nil {
		tb.Fatal(err)
	}
	if err := os.Chmod(path, perm); err != nil { // past the umask
		tb.Fatal(err)
	}
	return path
}

// hookRequest is what a hookReceiver saw of one POST.
type hookRequest struct {
	method    string
	header    http.Header
	body      []byte
	verifyErr error // of notify.Verify with operatorSecret, at arrival
	status    int   // the answer
}

// hookReceiver is an operator webhook on 127.0.0.1. It answers with statuses in turn (the
// last one repeats); the first request waits for release when hold is set.
type hookReceiver struct {
	srv      *httptest.Server
	statuses []int
	hold     bool
	release  chan struct{}
	once     sync.Once

	mu       sync.Mutex
	requests []hookRequest
}

// newHookReceiver starts a receiver; it is released and closed when the test ends.
func newHookReceiver(tb testing.TB, hold bool, statuses ...int) *hookReceiver {
	tb.Helper()
	r := &hookReceiver{statuses: statuses, hold: hold, release: make(chan struct{})}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	tb.Cleanup(r.srv.Close)
	tb.Cleanup(r.releaseFirst) // runs first: the held request ends before Close waits
	return r
}

func (r *hookReceiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	err := notify.Verify([]byte(operatorSecret), req.Header.Get(notify.SignatureHeader), body,
		time.Now(), notify.DefaultTolerance)

	r.mu.Lock()
	n := len(r.requests)
	status := r.statuses[min(n, len(r.statuses)-1)]
	r.requests = append(r.requests, hookRequest{method: req.Method,
		header: req.Header.Clone(), body: body, verifyErr: err, status: status})
	r.mu.Unlock()

	if n == 0 && r.hold {
		select {
		case <-r.release:
		case <-req.Context().Done():
		case <-time.After(waitTimeout):
		}
	}
	w.WriteHeader(status)
}

// releaseFirst lets the held first request be answered.
func (r *hookReceiver) releaseFirst() { r.once.Do(func() { close(r.release) }) }

// got returns a copy of the requests received so far.
func (r *hookReceiver) got() []hookRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.requests)
}

// operatorConfig returns a replay configuration for chain with an accuracy window of 3, a
// threshold of 0.7 and a webhook to hook; mailer, when not nil, receives the mail too.
func operatorConfig(tb testing.TB, chain string, hook *hookReceiver,
	mailer *notifytest.Server) system.Config {
	tb.Helper()
	cfg := replayConfig(tb)
	cfg.Source = "replay:" + chain
	cfg.SettleBlocks = operatorSettle
	cfg.Operator.AccuracyWindow = 3
	cfg.Operator.AccuracyThreshold = 0.7
	cfg.Operator.Webhook = hook.srv.URL + "/hooks/whalecast"
	cfg.Operator.WebhookSecretFile = writeSecretFile(tb, operatorSecret, 0o600)
	if mailer != nil {
		cfg.Operator.SMTPAddr = mailer.Addr()
		cfg.Operator.SMTPFrom = "Whalecast <whalecast@example.com>"
		cfg.Operator.SMTPTo = []string{"oncall@example.com", "Second Line <second@example.org>"}
		cfg.Operator.SMTPTLS = notify.TLSNone
	}
	return cfg
}

// operatorFrame is an operator_alert message: the frame admin sessions receive and the body
// the webhook posts.
type operatorFrame struct {
	Type     string            `json:"type"`
	Kind     string            `json:"kind"`
	Message  string            `json:"message"`
	Accuracy accuracy.Snapshot `json:"accuracy"`
	At       time.Time         `json:"at"`
	raw      []byte
}

func decodeOperatorAlert(tb testing.TB, raw []byte) operatorFrame {
	tb.Helper()
	var f operatorFrame
	if err := json.Unmarshal(raw, &f); err != nil {
		tb.Fatalf("decode operator_alert %s: %v", raw, err)
	}
	f.raw = raw
	return f
}

// accuracyView is what the tests compare of an accuracy snapshot.
type accuracyView struct {
	window, minSamples, samples, confirmed, conflicted, episodes int
	accuracy                                                     float64
	degraded                                                     bool
}

func viewOf(s accuracy.Snapshot) accuracyView {
	v := accuracyView{window: s.Window, minSamples: s.MinSamples, samples: s.Samples,
		confirmed: s.Confirmed, conflicted: s.Conflicted, episodes: s.Episodes,
		accuracy: -1, degraded: s.Degraded}
	if s.Accuracy != nil {
		v.accuracy = *s.Accuracy
	}
	return v
}

// The accuracy each operator alert reports: 3 conflicted of 3, then 3 confirmed of 3.
var (
	wantDegraded = accuracyView{window: 3, minSamples: 3, samples: 3, conflicted: 3,
		episodes: 1, accuracy: 0, degraded: true}
	wantRecovered = accuracyView{window: 3, minSamples: 3, samples: 3, confirmed: 3,
		episodes: 1, accuracy: 1}
)

// checkOperatorAlerts checks that frames are accuracy_degraded then accuracy_recovered,
// with the accuracy of each.
func checkOperatorAlerts(tb testing.TB, who string, frames []operatorFrame) {
	tb.Helper()
	want := []struct {
		kind string
		acc  accuracyView
	}{{"accuracy_degraded", wantDegraded}, {"accuracy_recovered", wantRecovered}}
	if len(frames) != len(want) {
		tb.Fatalf("%s: got %d operator alerts, want %d", who, len(frames), len(want))
	}
	for i, f := range frames {
		if f.Type != "operator_alert" || f.Kind != want[i].kind ||
			viewOf(f.Accuracy) != want[i].acc || f.Accuracy.Threshold != 0.7 ||
			f.At.IsZero() || !strings.Contains(f.Message, "over the last 3 settled alerts") {
			tb.Errorf("%s: operator alert %d: got %s %s %+v at %v %q, want %s %+v", who, i+1,
				f.Type, f.Kind, viewOf(f.Accuracy), f.At, f.Message, want[i].kind,
				want[i].acc)
		}
	}
}

// readAdmin reads an admin session's stream until it holds n records and two operator
// alerts, failing on any other message.
func readAdmin(tb testing.TB, c *websocket.Conn, n int) ([]serverMsg, []operatorFrame) {
	tb.Helper()
	var records []serverMsg
	var frames []operatorFrame
	for range n + 2 {
		m := read(tb, c)
		switch {
		case m.isRecord():
			records = append(records, m)
		case m.Type == "operator_alert":
			frames = append(frames, decodeOperatorAlert(tb, m.Raw))
		default:
			tb.Fatalf("admin session: got a %s message, want records and operator alerts",
				m.Type)
		}
	}
	return records, frames
}

// TestOperatorAlerts replays a chain whose accuracy falls to 0 and recovers, over real
// sockets, and checks each way the operator hears of it: an admin session, the webhook and
// mail each get exactly accuracy_degraded then accuracy_recovered; a read-only session gets
// its records and nothing else; /api/v1/stats shows the episode over.
func TestOperatorAlerts(t *testing.T) {
	chain, want := operatorChain(t)
	hook := newHookReceiver(t, false, http.StatusOK)
	mailer := notifytest.Start(t, notifytest.Options{})
	cfg := operatorConfig(t, chain, hook, mailer)
	cfg.Rate = operatorRate
	te := startEngine(t, cfg)

	admin := dial(t, te.wsURL())
	authenticate(t, admin, token(t, "ops", auth.PermRead, auth.PermAdmin), 0)
	readTok := token(t, "watcher", auth.PermRead)
	reader := dial(t, te.wsURL())
	authenticate(t, reader, readTok, 0)
	if n := te.Stats().AlertsSettled.Load(); n != 0 {
		t.Fatalf("%d alerts settled before the sessions were ready: lower operatorRate", n)
	}

	records, frames := readAdmin(t, admin, len(want))
	checkRecords(t, records, want)
	checkOperatorAlerts(t, "admin session", frames)

	// The notices reached every session before the admin's last one was sent: a pong after
	// the reader's records shows that the reader was sent none.
	checkRecords(t, readRecords(t, reader, len(want)), want)
	send(t, reader, `{"type":"ping"}`)
	if m := read(t, reader); m.Type != "pong" {
		t.Fatalf("read-only session: got a %s message after its records, want pong", m.Type)
	}

	waitFor(t, "two webhook posts", func() bool { return len(hook.got()) >= 2 })
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if _, err := mailer.Wait(ctx, 2); err != nil {
		t.Fatal(err)
	}
	checkAccuracyStats(t, te, readTok)

	// Closed here, the sessions end at once: the shutdown need not wait for close frames.
	_ = admin.Close()
	_ = reader.Close()
	te.shutdown(t) // delivers what is still queued: the counts below are final
	checkHooks(t, hook.got(), frames)
	checkMails(t, mailer.Received(), frames)
}

// checkAccuracyStats checks that /api/v1/stats shows one episode, over, and the six
// settled alerts.
func checkAccuracyStats(tb testing.TB, te *testEngine, tok string) {
	tb.Helper()
	var stats struct {
		Lifecycle struct {
			Settled  int64              `json:"settled"`
			Accuracy *accuracy.Snapshot `json:"accuracy"`
		} `json:"lifecycle"`
	}
	if code := getJSON(tb, te, "/api/v1/stats", tok, &stats); code != http.StatusOK {
		tb.Fatalf("GET /api/v1/stats: got %d, want 200", code)
	}
	lc := stats.Lifecycle
	if lc.Accuracy == nil || viewOf(*lc.Accuracy) != wantRecovered || lc.Settled != 6 ||
		lc.Accuracy.DegradedSince != nil {
		tb.Errorf("stats: settled %d, accuracy %+v; want 6 settled, %+v", lc.Settled,
			lc.Accuracy, wantRecovered)
	}
}

// checkHooks checks that the webhook got exactly one signed POST per admin frame, with the
// same body, and a different idempotency key each.
func checkHooks(tb testing.TB, got []hookRequest, frames []operatorFrame) {
	tb.Helper()
	if len(got) != len(frames) {
		tb.Fatalf("webhook: got %d requests, want %d", len(got), len(frames))
	}
	keys := map[string]bool{}
	for i, r := range got {
		key := r.header.Get("Idempotency-Key")
		if r.method != http.MethodPost || r.verifyErr != nil || key == "" || keys[key] ||
			r.header.Get("Content-Type") != "application/json" {
			tb.Errorf("webhook request %d: %s, signature %v, key %q (seen %v), type %q; "+
				"want a signed JSON POST with a new key", i+1, r.method, r.verifyErr, key,
				keys[key], r.header.Get("Content-Type"))
		}
		keys[key] = true
		if !bytes.Equal(r.body, frames[i].raw) {
			tb.Errorf("webhook request %d: body %s, want the admin frame %s", i+1, r.body,
				frames[i].raw)
		}
	}
}

// checkMails checks that the mail server got exactly one message per admin frame, to both
// recipients, with the subject of its kind and the frame's message as text.
func checkMails(tb testing.TB, got []notifytest.Mail, frames []operatorFrame) {
	tb.Helper()
	subjects := []string{subjectDegraded, subjectRecovered}
	if len(got) != len(subjects) {
		tb.Fatalf("mail: got %d messages, want %d", len(got), len(subjects))
	}
	wantTo := []string{"oncall@example.com", "second@example.org"}
	for i, m := range got {
		if m.From != "whalecast@example.com" || !slices.Equal(m.To, wantTo) {
			tb.Errorf("mail %d: envelope from %q to %q, want whalecast@example.com to %q",
				i+1, m.From, m.To, wantTo)
		}
		msg, err := mail.ReadMessage(strings.NewReader(m.Data))
		if err != nil {
			tb.Fatalf("mail %d: %v\n%s", i+1, err, m.Data)
		}
		body, _ := io.ReadAll(msg.Body)
		to := msg.Header.Get("To")
		if s := msg.Header.Get("Subject"); s != subjects[i] ||
			!strings.Contains(to, "<oncall@example.com>") ||
			!strings.Contains(to, "<second@example.org>") ||
			strings.TrimSpace(string(body)) != frames[i].Message {
			tb.Errorf("mail %d: subject %q to %q body %q, want %q to both, body %q", i+1, s,
				to, body, subjects[i], frames[i].Message)
		}
	}
}

// TestOperatorWebhookRetry holds the webhook's first request while the engine replays the
// whole chain, then answers it 500: the engine went on regardless, and the notification is
// retried under the same idempotency key and delivered, before the next one.
func TestOperatorWebhookRetry(t *testing.T) {
	chain, want := operatorChain(t)
	hook := newHookReceiver(t, true, http.StatusInternalServerError, http.StatusOK)
	te := startEngine(t, operatorConfig(t, chain, hook, nil))
	defer hook.releaseFirst() // on failure, before the engine's shutdown waits for it

	waitFor(t, "the first webhook request", func() bool { return len(hook.got()) >= 1 })
	te.waitLastSeq(t, uint64(len(want)))
	waitFor(t, "recovery", func() bool {
		s := te.Stats().Accuracy.Load()
		return s != nil && s.Episodes == 1 && !s.Degraded
	})
	if got := hook.got(); len(got) != 1 {
		t.Fatalf("webhook: %d requests while the first is held, want 1", len(got))
	}
	hook.releaseFirst()

	waitFor(t, "three webhook requests", func() bool { return len(hook.got()) >= 3 })
	te.shutdown(t)
	got := hook.got()
	wantKinds := []string{"accuracy_degraded", "accuracy_degraded", "accuracy_recovered"}
	wantStatus := []int{500, 200, 200}
	if len(got) != len(wantKinds) {
		t.Fatalf("webhook: got %d requests, want %d", len(got), len(wantKinds))
	}
	keys := make([]string, len(got))
	for i, r := range got {
		keys[i] = r.header.Get("Idempotency-Key")
		f := decodeOperatorAlert(t, r.body)
		if f.Kind != wantKinds[i] || r.status != wantStatus[i] || r.verifyErr != nil {
			t.Errorf("request %d: %s answered %d, signature %v; want %s answered %d, signed",
				i+1, f.Kind, r.status, r.verifyErr, wantKinds[i], wantStatus[i])
		}
	}
	if keys[0] == "" || keys[1] != keys[0] || keys[2] == keys[0] {
		t.Errorf("idempotency keys %q: want the retry's the same, the next one new", keys)
	}
	if !bytes.Equal(got[0].body, got[1].body) {
		t.Errorf("the retry posted %s, want the same body %s", got[1].body, got[0].body)
	}
}
