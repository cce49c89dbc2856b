package transport

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/whalecast/whalecast/actors"
	"github.com/whalecast/whalecast/internal/alert"
	"github.com/whalecast/whalecast/internal/auth"
	"github.com/whalecast/whalecast/internal/clock"
	"github.com/whalecast/whalecast/persistence"
)

// testSecret signs the tokens of these tests: 40 bytes.
const testSecret = "whalecast-transport-tests-secret-0123456"

// waitTimeout bounds every HTTP call of these tests.
const waitTimeout = 15 * time.Second

// recordingAuditor stores events in the memory store at once (the engine's audit actor does
// it in batches) and feeds auth failures to the guard, as system's access hub does.
type recordingAuditor struct {
	store *persistence.Memory
	guard *Guard

	mu     sync.Mutex
	events []persistence.AuditEvent
}

func (a *recordingAuditor) Audit(ev persistence.AuditEvent) {
	a.mu.Lock()
	a.events = append(a.events, ev)
	a.mu.Unlock()
	_, _ = a.store.AppendAudit([]persistence.AuditEvent{persistence.RedactAuditEvent(ev)})
	if ev.Type == persistence.AuditAuthFailure && a.guard != nil {
		if ip, err := netip.ParseAddr(ev.Remote); err == nil {
			a.guard.AuthFailed(ip)
		}
	}
}

func (a *recordingAuditor) all() []persistence.AuditEvent {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]persistence.AuditEvent(nil), a.events...)
}

// fakeRevoker stores revocations as system's access hub does, without sessions.
type fakeRevoker struct {
	store *persistence.Memory
	clock clock.Clock
}

func (f *fakeRevoker) Revoke(kind, value string, until time.Time, by string) (
	persistence.Revocation, error) {
	now := f.clock.Now().UTC()
	if until.IsZero() {
		until = now.Add(auth.DefaultMaxLifetime)
	}
	r := persistence.Revocation{Kind: kind, Value: value, At: now, Until: until}
	return r, f.store.PutRevocation(r)
}

// fixture is a REST server over a real socket on 127.0.0.1, with a memory store, a fake
// clock and a recording auditor. Its WebSocket route is not usable: there is no actor
// system behind it.
type fixture struct {
	url    string
	clock  *clock.Fake
	store  *persistence.Memory
	guard  *Guard
	audit  *recordingAuditor
	issuer *auth.Issuer
}

// newFixture serves a transport.Server; edit may change its Config first.
func newFixture(tb testing.TB, edit func(*Config)) *fixture {
	tb.Helper()
	f, cfg := fixtureConfig(tb, edit)
	srv, err := NewServer(cfg)
	if err != nil {
		tb.Fatalf("NewServer: %v", err)
	}
	ts := httptest.NewServer(srv.Handler())
	tb.Cleanup(ts.Close)
	f.url = ts.URL
	return f
}

// fixtureConfig returns a fixture without its server, and the Config to serve it with:
// a memory store holding two alerts, a fake clock, and a recording auditor feeding the
// guard. edit may change the Config first.
func fixtureConfig(tb testing.TB, edit func(*Config)) (*fixture, Config) {
	tb.Helper()
	clk := clock.NewFake(time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC))
	secret, err := auth.NewSecret([]byte(testSecret))
	if err != nil {
		tb.Fatal(err)
	}
	verifier, err := auth.NewVerifier(secret, clk, 0)
	if err != nil {
		tb.Fatal(err)
	}
	issuer, err := auth.NewIssuer(secret, clk)
	if err != nil {
		tb.Fatal(err)
	}
	mem := persistence.NewMemory()
	seeded := alert.AlertRecords([]alert.Alert{{TxID: "aa"}, {TxID: "bb"}})
	if _, err := mem.Append(seeded); err != nil {
		tb.Fatal(err)
	}
	guard := NewGuard(GuardConfig{BanAfter: 1000}, clk)
	rec := &recordingAuditor{store: mem, guard: guard}
	cfg := Config{
		// REST routes never use the actor system; non-nil values satisfy NewServer.
		Root:     &actor.RootContext{},
		Sessions: &actor.PID{},
		Verifier: verifier,
		Alerts:   mem,
		LastSeq:  mem.LastSeq,
		Stats:    actors.NewStats(clk.Now()),
		Health:   func() error { return nil },
		Clock:    clk,
		Logger:   slog.New(slog.DiscardHandler),
		Version:  "test",
		Security: mem,
		Guard:    guard,
		Auditor:  rec,
		Revoker:  &fakeRevoker{store: mem, clock: clk},
		Keys:     staticKeys{{KID: "k1", Alg: auth.AlgHS256, State: auth.KeySigning}},
	}
	if edit != nil {
		edit(&cfg)
	}
	rec.guard = cfg.Guard
	return &fixture{clock: clk, store: mem, guard: cfg.Guard, audit: rec, issuer: issuer}, cfg
}

type staticKeys []auth.KeyInfo

func (k staticKeys) List() []auth.KeyInfo { return k }

// token issues a token valid for an hour on the fixture's clock.
func (f *fixture) token(tb testing.TB, client string, perms ...auth.Perm) string {
	tb.Helper()
	tok, _, err := f.issuer.Issue(client, perms, time.Hour)
	if err != nil {
		tb.Fatalf("issue: %v", err)
	}
	return tok
}

// apiKey stores a new API key for client and returns it.
func (f *fixture) apiKey(tb testing.TB, client string, perms ...string) (key, id string) {
	tb.Helper()
	k, id := persistence.NewAPIKey()
	err := f.store.PutAPIKey(persistence.APIKey{ID: id, Client: client, Perms: perms,
		Created: f.clock.Now()}, k.Hash())
	if err != nil {
		tb.Fatalf("PutAPIKey: %v", err)
	}
	return k.Reveal(), id
}

// response is what one call got.
type response struct {
	status int
	header http.Header
	body   []byte
	err    apiError
}

// call sends a request with the given headers (a "Body" entry is the body) and returns the
// answer, decoding a JSON error body.
func call(tb testing.TB, method, url string, headers map[string]string) response {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	var body io.Reader
	if b, ok := headers["Body"]; ok {
		body = strings.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		tb.Fatalf("request: %v", err)
	}
	for k, v := range headers {
		if k != "Body" {
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		tb.Fatalf("read body: %v", err)
	}
	r := response{status: resp.StatusCode, header: resp.Header, body: data}
	if resp.StatusCode >= 400 {
		if err := json.Unmarshal(data, &r.err); err != nil {
			tb.Fatalf("error body %q is not JSON: %v", data, err)
		}
	}
	return r
}

func bearer(tok string) map[string]string {
	return map[string]string{"Authorization": "Bearer " + tok}
}

// jsonBody returns headers that send v as a JSON body with tok.
func jsonBody(tb testing.TB, tok string, v any) map[string]string {
	tb.Helper()
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(v); err != nil {
		tb.Fatal(err)
	}
	return map[string]string{"Authorization": "Bearer " + tok,
		"Content-Type": "application/json", "Body": buf.String()}
}
