package actors_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/golang-jwt/jwt/v5"

	"github.com/whalecast/whalecast/actors"
	"github.com/whalecast/whalecast/internal/alert"
	"github.com/whalecast/whalecast/internal/auth"
	"github.com/whalecast/whalecast/internal/clock"
	"github.com/whalecast/whalecast/persistence"
)

// waitLimit bounds every wait of these tests. Actors answer within milliseconds; the margin
// is for -race on a loaded two-core runner. No test waits for a timeout to pass: timers run
// on a clock.Fake.
const waitLimit = 5 * time.Second

// testStart is the fake clock's reading when a test begins; whole seconds keep token times
// exact.
var testStart = time.Date(2026, 12, 4, 17, 0, 0, 0, time.UTC)

// testSecret signs every token of these tests; forged tokens reuse its bytes.
var testSecret = []byte("whalecast-actors-test-secret-0123456789")

// tokenTTL is the lifetime of the tokens the harness issues unless a test asks otherwise.
const tokenTTL = time.Hour

// replayRetry mirrors the session's pause while a client's queue is above the high-water
// mark; tests advance the fake clock by it to resume a replay.
const replayRetry = 20 * time.Millisecond

// waitFor polls cond until it holds or waitLimit passes.
func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("gave up after %v waiting for %s", waitLimit, what)
		}
		time.Sleep(time.Millisecond)
	}
}

// fakePeer is an in-memory actors.Peer. It records a copy of every frame it accepts and the
// first close. Frames count as queued until the test takes them, as if the test were the
// socket writer; with a capacity, Send refuses frames once that many are queued.
type fakePeer struct {
	capacity int

	mu       sync.Mutex
	frames   [][]byte
	taken    int
	refused  int
	late     int
	closed   bool
	code     int
	reason   string
	released int
	changed  chan struct{}
}

var _ actors.Peer = (*fakePeer)(nil)

// newFakePeer returns a peer whose queue holds capacity frames; 0 means unbounded.
func newFakePeer(capacity int) *fakePeer {
	return &fakePeer{capacity: capacity, changed: make(chan struct{}, 1)}
}

// signal wakes a waiter; called with mu held.
func (p *fakePeer) signal() {
	select {
	case p.changed <- struct{}{}:
	default:
	}
}

func (p *fakePeer) Send(frame []byte) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.closed:
		p.late++
		return false
	case p.capacity > 0 && len(p.frames)-p.taken >= p.capacity:
		p.refused++
		return false
	}
	p.frames = append(p.frames, bytes.Clone(frame))
	p.signal()
	return true
}

func (p *fakePeer) Close(code int, reason string) {
	p.CloseWith(nil, code, reason)
}

// CloseWith records final as the last frame, past the peer's capacity.
func (p *fakePeer) CloseWith(final []byte, code int, reason string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	if final != nil {
		p.frames = append(p.frames, bytes.Clone(final))
	}
	p.closed, p.code, p.reason = true, code, reason
	p.signal()
}

func (p *fakePeer) Released() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.released++
	p.signal()
}

func (p *fakePeer) Queued() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.frames) - p.taken
}

func (p *fakePeer) Remote() string { return "192.0.2.1:4242" }

// await waits until cond, called with the lock held, is true.
func (p *fakePeer) await(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	timer := time.NewTimer(waitLimit)
	defer timer.Stop()
	for {
		p.mu.Lock()
		ok := cond()
		p.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-p.changed:
		case <-timer.C:
			p.mu.Lock()
			defer p.mu.Unlock()
			tb.Fatalf("gave up after %v waiting for %s (frames %d, taken %d, closed %v %d %q)",
				waitLimit, what, len(p.frames), p.taken, p.closed, p.code, p.reason)
		}
	}
}

// nextRaw waits for n frames beyond those already taken and takes them. It fails if the
// connection closes first.
func (p *fakePeer) nextRaw(tb testing.TB, n int) [][]byte {
	tb.Helper()
	p.await(tb, fmt.Sprintf("%d frames", n), func() bool {
		return len(p.frames)-p.taken >= n || p.closed
	})
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.frames)-p.taken < n {
		tb.Fatalf("connection closed with %d %q after %d of %d frames: %s", p.code, p.reason,
			len(p.frames)-p.taken, n, p.frames[p.taken:])
	}
	out := p.frames[p.taken : p.taken+n]
	p.taken += n
	return out
}

// next is nextRaw with each frame decoded.
func (p *fakePeer) next(tb testing.TB, n int) []serverFrame {
	tb.Helper()
	raw := p.nextRaw(tb, n)
	out := make([]serverFrame, len(raw))
	for i, b := range raw {
		out[i] = decodeFrame(tb, b)
	}
	return out
}

// nextUntil reads frames one by one up to and including the first of type last, at most
// maxUntil of them.
func (p *fakePeer) nextUntil(tb testing.TB, last string) []serverFrame {
	tb.Helper()
	var out []serverFrame
	for range maxUntil {
		f := p.next(tb, 1)[0]
		out = append(out, f)
		if f.Type == last {
			return out
		}
	}
	tb.Fatalf("no %s frame within %d frames", last, maxUntil)
	return nil
}

// maxUntil bounds nextUntil.
const maxUntil = 1000

// takeAll takes every frame queued now, without waiting.
func (p *fakePeer) takeAll() [][]byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.frames[p.taken:]
	p.taken = len(p.frames)
	return out
}

// waitClosed waits for the close and returns its code and reason.
func (p *fakePeer) waitClosed(tb testing.TB) (int, string) {
	tb.Helper()
	p.await(tb, "the close", func() bool { return p.closed })
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.code, p.reason
}

// untaken returns the frames sent and not taken yet.
func (p *fakePeer) untaken() [][]byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([][]byte(nil), p.frames[p.taken:]...)
}

// isClosed reports whether Close was called.
// Closed implements actors.Peer.
func (p *fakePeer) Closed() bool { return p.isClosed() }

func (p *fakePeer) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

// waitReleased waits until the session has released n client frames.
func (p *fakePeer) waitReleased(tb testing.TB, n int) {
	tb.Helper()
	p.await(tb, fmt.Sprintf("%d released frames", n), func() bool { return p.released >= n })
}

// serverFrame is the union of every message the engine sends. It is decoded strictly, so a
// field the protocol does not document fails the test.
type serverFrame struct {
	Type        string          `json:"type"`
	Code        string          `json:"code"`
	Message     string          `json:"message"`
	ClientID    string          `json:"client_id"`
	Permissions []string        `json:"permissions"`
	ExpiresAt   string          `json:"expires_at"`
	Version     string          `json:"version"`
	Seq         uint64          `json:"seq"`
	MinBTC      *float64        `json:"min_btc"`
	Data        json.RawMessage `json:"data"`
	Token       string          `json:"token"`
	Detectors   []string        `json:"detectors"`
	Statuses    []string        `json:"statuses"`
}

func decodeFrame(tb testing.TB, b []byte) serverFrame {
	tb.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var f serverFrame
	if err := dec.Decode(&f); err != nil {
		tb.Fatalf("server frame %s: %v", b, err)
	}
	if dec.More() {
		tb.Fatalf("server frame %s: more than one JSON value", b)
	}
	if f.Type == "" {
		tb.Fatalf("server frame %s: no type", b)
	}
	return f
}

// alertData decodes the data object of a whale_alert frame.
func alertData(tb testing.TB, f serverFrame) alert.Alert {
	tb.Helper()
	if f.Type != "whale_alert" {
		tb.Fatalf("frame type %q, want whale_alert", f.Type)
	}
	a, err := alert.DecodeData(f.Data)
	if err != nil {
		tb.Fatalf("whale_alert seq %d: %v", f.Seq, err)
	}
	return a
}

// logBuffer collects log lines for tests that check what is never logged.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// newLogger returns a JSON logger that keeps every level in logs, or drops everything when
// logs is nil.
func newLogger(logs *logBuffer) *slog.Logger {
	if logs == nil {
		return discardLogger()
	}
	return slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// newActorSystem returns an actor system whose own logger, like the engine's, writes to
// logs (nil: nowhere); every level is kept so that tests see what a debug run would print.
func newActorSystem(tb testing.TB, logs *logBuffer) *actor.ActorSystem {
	tb.Helper()
	log := newLogger(logs)
	sys := actor.NewActorSystemWithConfig(actor.Configure(
		actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
			return log.With("component", "protoactor")
		}),
		actor.WithDeadLetterRequestLogging(false),
	))
	tb.Cleanup(sys.Shutdown)
	return sys
}

// engineConfig adjusts the engine a test builds. Its zero value is a plain engine: sessions
// with default limits, an empty memory store, the fake clock everywhere.
type engineConfig struct {
	// Session is the sessions' configuration; a nil Verifier means the engine's.
	Session actors.SessionConfig
	// Preload is how many alerts the store holds before the actors start.
	Preload int
	// Store returns what the store actor writes through, given the engine's memory store;
	// nil means the memory store itself.
	Store func(*persistence.Memory) actors.AlertStore
	// Reader wraps what sessions replay from; nil means the memory store itself.
	Reader func(actors.AlertReader) actors.AlertReader
	// SessionClock is the clock sessions use; nil means the fake clock.
	SessionClock func(*clock.Fake) clock.Clock
	// Verifier wraps the engine's verifier for sessions.
	Verifier func(*auth.Verifier) actors.TokenVerifier
	// Quiet drops the logs instead of keeping them, for long fuzzing runs.
	Quiet bool
}

// engine is the part of the actor tree that sessions talk to: the real broadcaster, store
// actor (over a memory store) and sessions supervisor, on a fake clock, with a real token
// issuer and verifier sharing the test secret.
type engine struct {
	sys      *actor.ActorSystem
	clock    *clock.Fake
	mem      *persistence.Memory
	stats    *actors.Stats
	logs     *logBuffer
	log      *slog.Logger
	issuer   *auth.Issuer
	verifier *auth.Verifier
	revoked  *auth.Revocations
	audits   *auditRecorder

	broadcaster *actor.PID
	store       *actor.PID
	sessions    *actor.PID
}

func newEngine(tb testing.TB, cfg engineConfig) *engine {
	tb.Helper()
	e := &engine{
		clock:   clock.NewFake(testStart),
		mem:     persistence.NewMemory(),
		stats:   actors.NewStats(testStart),
		logs:    &logBuffer{},
		revoked: auth.NewRevocations(),
		audits:  &auditRecorder{},
	}
	if cfg.Quiet {
		e.logs = nil
	}
	e.log = newLogger(e.logs)
	e.sys = newActorSystem(tb, e.logs)
	e.issuer, e.verifier = newTokenPair(tb, e.clock)

	for i := range cfg.Preload {
		if _, err := e.mem.Append(alert.AlertRecords([]alert.Alert{whale(i+1,
			100+float64(i))})); err != nil {
			tb.Fatalf("preload alert %d: %v", i+1, err)
		}
	}
	var store actors.AlertStore = e.mem
	if cfg.Store != nil {
		store = cfg.Store(e.mem)
	}
	var reader actors.AlertReader = e.mem
	if cfg.Reader != nil {
		reader = cfg.Reader(reader)
	}
	var sessionClock clock.Clock = e.clock
	if cfg.SessionClock != nil {
		sessionClock = cfg.SessionClock(e.clock)
	}
	if cfg.Session.Verifier == nil {
		cfg.Session.Verifier = e.verifier
		if cfg.Verifier != nil {
			cfg.Session.Verifier = cfg.Verifier(e.verifier)
		}
	}
	if cfg.Session.Version == "" {
		cfg.Session.Version = "test-version"
	}

	root := e.sys.Root
	e.broadcaster = root.Spawn(actors.NewBroadcasterProps(store, e.stats, e.log))
	e.store = root.Spawn(actors.NewStoreProps(store, e.broadcaster, e.stats, e.log))
	e.sessions = root.Spawn(actors.NewSessionsProps(&actors.SessionDeps{
		Config:      cfg.Session,
		Broadcaster: e.broadcaster,
		Alerts:      reader,
		Clock:       sessionClock,
		Stats:       e.stats,
		Logger:      e.log,
		Issuer:      e.issuer,
		Auditor:     e.audits,
		Recheck: func(c auth.Claims) error {
			if e.revoked.Revoked(c) {
				return &auth.AuthError{Reason: auth.ReasonRevoked}
			}
			return nil
		},
	}))
	tb.Cleanup(func() { e.stop(tb) })
	return e
}

// stop takes the actors down like the engine does (sessions, then store, then broadcaster)
// and checks the connection gauges came back to zero.
func (e *engine) stop(tb testing.TB) {
	tb.Helper()
	root := e.sys.Root
	if err := root.StopFuture(e.sessions).Wait(); err != nil {
		tb.Errorf("stop sessions: %v", err)
	}
	if err := root.PoisonFuture(e.store).Wait(); err != nil {
		tb.Errorf("stop store: %v", err)
	}
	if err := root.StopFuture(e.broadcaster).Wait(); err != nil {
		tb.Errorf("stop broadcaster: %v", err)
	}
	if got := e.stats.ConnsAuthenticated.Load(); got != 0 {
		tb.Errorf("after every session stopped: %d authenticated connections, want 0", got)
	}
	if got := e.stats.ConnsUnauthenticated.Load(); got != 0 {
		tb.Errorf("after every session stopped: %d unauthenticated connections, want 0", got)
	}
}

// newTokenPair returns an issuer and a verifier (no leeway) on the test secret and clk.
func newTokenPair(tb testing.TB, clk clock.Clock) (*auth.Issuer, *auth.Verifier) {
	tb.Helper()
	secret, err := auth.NewSecret(testSecret)
	if err != nil {
		tb.Fatalf("NewSecret: %v", err)
	}
	iss, err := auth.NewIssuer(secret, clk)
	if err != nil {
		tb.Fatalf("NewIssuer: %v", err)
	}
	ver, err := auth.NewVerifier(secret, clk, 0)
	if err != nil {
		tb.Fatalf("NewVerifier: %v", err)
	}
	return iss, ver
}

// token issues a token for client-1 with perms, valid for tokenTTL.
func (e *engine) token(tb testing.TB, perms ...auth.Perm) string {
	tb.Helper()
	tok, _ := e.tokenFor(tb, "client-1", tokenTTL, perms...)
	return tok
}

// tokenFor issues a token and returns its claims too.
func (e *engine) tokenFor(tb testing.TB, sub string, ttl time.Duration,
	perms ...auth.Perm) (string, auth.Claims) {
	tb.Helper()
	tok, claims, err := e.issuer.Issue(sub, perms, ttl)
	if err != nil {
		tb.Fatalf("issue token: %v", err)
	}
	return tok, claims
}

// forge signs claims with method and key, for tokens an Issuer would never make. The
// header names the key id the engine's own tokens carry, if any, so that the verifier judges
// the algorithm, signature and claims rather than refusing an unknown key.
func (e *engine) forge(tb testing.TB, method jwt.SigningMethod, key any,
	claims jwt.MapClaims) string {
	tb.Helper()
	unsigned := jwt.NewWithClaims(method, claims)
	if kid := e.keyID(tb); kid != "" {
		unsigned.Header["kid"] = kid
	}
	tok, err := unsigned.SignedString(key)
	if err != nil {
		tb.Fatalf("forge %s token: %v", method.Alg(), err)
	}
	return tok
}

// keyID returns the kid in the header of the engine's tokens, or "" when they have none.
func (e *engine) keyID(tb testing.TB) string {
	tb.Helper()
	head, _, _ := strings.Cut(e.token(tb, auth.PermRead), ".")
	raw, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		tb.Fatalf("decode a token header: %v", err)
	}
	var h struct {
		Kid string `json:"kid"`
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		tb.Fatalf("decode a token header: %v", err)
	}
	return h.Kid
}

// startSession asks the sessions supervisor for a session serving peer.
func (e *engine) startSession(tb testing.TB, peer actors.Peer) *actor.PID {
	tb.Helper()
	res, err := e.sys.Root.RequestFuture(e.sessions, &actors.StartSession{Peer: peer},
		waitLimit).Result()
	if err != nil {
		tb.Fatalf("start session: %v", err)
	}
	started, ok := res.(*actors.SessionStarted)
	if !ok {
		tb.Fatalf("start session answered %T, want *actors.SessionStarted", res)
	}
	return started.PID
}

// send hands a session one text frame from its client.
func (e *engine) send(pid *actor.PID, data string) {
	e.sys.Root.Send(pid, &actors.ClientFrame{Data: []byte(data)})
}

// authMessage returns an auth message; since < 0 leaves since out.
func authMessage(token string, since int64) string {
	if since < 0 {
		return fmt.Sprintf(`{"type":"auth","token":%q}`, token)
	}
	return fmt.Sprintf(`{"type":"auth","token":%q,"since":%d}`, token, since)
}

// connect starts a session on peer, authenticates it with perms and takes auth_success and
// welcome. It returns the welcome's seq.
func (e *engine) connect(tb testing.TB, peer *fakePeer, perms ...auth.Perm) (*actor.PID, uint64) {
	tb.Helper()
	pid := e.startSession(tb, peer)
	e.send(pid, authMessage(e.token(tb, perms...), -1))
	got := peer.next(tb, 2)
	if got[0].Type != "auth_success" || got[1].Type != "welcome" {
		tb.Fatalf("after auth got %q then %q, want auth_success then welcome",
			got[0].Type, got[1].Type)
	}
	return pid, got[1].Seq
}

// sessionCount asks the sessions supervisor how many sessions are alive.
func (e *engine) sessionCount(tb testing.TB) int {
	tb.Helper()
	res, err := e.sys.Root.RequestFuture(e.sessions, &actors.CountSessions{}, waitLimit).Result()
	if err != nil {
		tb.Fatalf("count sessions: %v", err)
	}
	return res.(int)
}

// publish sends alerts to the store actor as the detector would.
func (e *engine) publish(alerts ...alert.Alert) {
	for _, a := range alerts {
		e.sys.Root.Send(e.store, &actors.Candidate{Record: alert.Record{Alert: &a}})
	}
}

// waitPublished waits until the broadcaster has fanned out n alerts in all.
func (e *engine) waitPublished(tb testing.TB, n int64) {
	tb.Helper()
	waitFor(tb, fmt.Sprintf("%d published alerts", n), func() bool {
		return e.stats.AlertsPublished.Load() >= n
	})
}

// whale returns a large_value alert of btc bitcoins whose txid is derived from i.
func whale(i int, btc float64) alert.Alert {
	a := alert.Alert{
		TxID:      fmt.Sprintf("%064x", i),
		ValueSat:  alert.SatFromBTC(btc),
		Outputs:   2,
		FirstSeen: testStart,
		Detector:  "large_value",
	}
	a.LargestOutputSat = a.ValueSat
	return a
}

// whales returns alerts first..last of 100 BTC and more.
func whales(first, last int) []alert.Alert {
	var out []alert.Alert
	for i := first; i <= last; i++ {
		out = append(out, whale(i, 100+float64(i)))
	}
	return out
}

// seqsOf returns the seq of each whale_alert frame and fails on any other type.
func seqsOf(tb testing.TB, frames []serverFrame) []uint64 {
	tb.Helper()
	out := make([]uint64, len(frames))
	for i, f := range frames {
		if f.Type != "whale_alert" {
			tb.Fatalf("frame %d is %q, want whale_alert", i, f.Type)
		}
		out[i] = f.Seq
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

// spawnSupervised spawns props as the child of a parent that applies strategy, so a test can
// watch one supervision decision without the whole engine.
func spawnSupervised(tb testing.TB, sys *actor.ActorSystem, strategy actor.SupervisorStrategy,
	props *actor.Props) *actor.PID {
	tb.Helper()
	parent := sys.Root.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
		if p, ok := ctx.Message().(*actor.Props); ok {
			ctx.Respond(ctx.Spawn(p))
		}
	}, actor.WithSupervisor(strategy)))
	tb.Cleanup(func() { _ = sys.Root.StopFuture(parent).Wait() })
	res, err := sys.Root.RequestFuture(parent, props, waitLimit).Result()
	if err != nil {
		tb.Fatalf("spawn supervised child: %v", err)
	}
	return res.(*actor.PID)
}

// recorder stands in for the tracker and the store (it records candidates) and for a source
// (it records acknowledgements), so detector tests see exactly what the detector sends.
type recorder struct {
	mu         sync.Mutex
	candidates []alert.Alert
	acked      uint64
	acks       int
}

func spawnRecorder(tb testing.TB, sys *actor.ActorSystem) (*recorder, *actor.PID) {
	tb.Helper()
	r := &recorder{}
	pid := sys.Root.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
		r.mu.Lock()
		defer r.mu.Unlock()
		switch m := ctx.Message().(type) {
		case *actors.Candidate:
			if m.Record.Alert != nil {
				r.candidates = append(r.candidates, *m.Record.Alert)
			}
			done(ctx, m.AckTo)
		case *actors.Observed:
			// The recorder stands in for the tracker and the store: the transaction is
			// done, and its alert recorded.
			if m.Alert != nil {
				r.candidates = append(r.candidates, *m.Alert)
			}
			done(ctx, m.AckTo)
		case *actors.ChainEvent:
			done(ctx, m.AckTo)
		case *actors.Processed:
			r.acked += m.N
			r.acks++
		}
	}))
	tb.Cleanup(func() { _ = sys.Root.StopFuture(pid).Wait() })
	return r, pid
}

// done acknowledges one transaction or event to its source, as the store would.
func done(ctx actor.Context, to *actor.PID) {
	if to != nil {
		ctx.Send(to, &actors.Processed{N: 1})
	}
}

// waitAcked waits until every transaction up to ordinal n was acknowledged.
func (r *recorder) waitAcked(tb testing.TB, n uint64) {
	tb.Helper()
	waitFor(tb, fmt.Sprintf("acknowledgement of tx %d", n), func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.acked >= n
	})
}

// txids returns the txids of the recorded candidates, in arrival order.
func (r *recorder) txids() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, len(r.candidates))
	for i, c := range r.candidates {
		out[i] = c.TxID
	}
	return out
}

// discardLogger returns a logger that drops everything.
func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// equalSeqs reports whether two seq lists are equal and describes the first difference.
func equalSeqs(got, want []uint64) (bool, string) {
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			return false, fmt.Sprintf("at %d got seq %d, want %d", i, got[i], want[i])
		}
	}
	if len(got) != len(want) {
		return false, fmt.Sprintf("got %d seqs, want %d", len(got), len(want))
	}
	return true, ""
}

// mustNotContain fails if logs hold any of the secrets.
func mustNotContain(tb testing.TB, logs string, secrets ...string) {
	tb.Helper()
	for _, s := range secrets {
		if s != "" && strings.Contains(logs, s) {
			tb.Errorf("logs contain %.24q...", s)
		}
	}
}

// timeAfter returns a channel that receives once waitLimit has passed.
func timeAfter(tb testing.TB) <-chan time.Time {
	timer := time.NewTimer(waitLimit)
	tb.Cleanup(func() { timer.Stop() })
	return timer.C
}

// auditRecorder keeps the security events sessions report.
type auditRecorder struct {
	mu     sync.Mutex
	events []persistence.AuditEvent
}

// Audit implements actors.Auditor.
func (r *auditRecorder) Audit(ev persistence.AuditEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, ev)
}

// types returns the recorded event types in order.
func (r *auditRecorder) types() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, len(r.events))
	for i, ev := range r.events {
		out[i] = ev.Type
		if ev.Reason != "" {
			out[i] += ":" + ev.Reason
		}
	}
	return out
}
