package system_test

// Helpers of the attack suite (attack_test.go): the engines it attacks, a client per case
// on a loopback address of its own, token forgery, WebSocket and HTTP probes, the audit log
// read through the admin route, and the record of every secret the suite handles so that
// the engines' logs can be searched for them.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"github.com/whalecast/whalecast/system/systemtest"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/whalecast/whalecast/internal/auth"
	"github.com/whalecast/whalecast/internal/btcdtest"
	"github.com/whalecast/whalecast/system"
	"github.com/whalecast/whalecast/transport"
)

// Settings of the attacked engines. The secret is the main engine's WEBSOCKET_SECRET_KEY;
// every other key of the suite is generated when it starts.
const (
	attackSecret   = "whalecast-attack-suite-secret-do-not-reuse-7f3c1e"
	attackIssuer   = "whalecast-attack-issuer"
	attackAudience = "whalecast-attack-engine"
	partnerKID     = "partner"

	// mainAuthTimeout is the main engine's --auth-timeout: short, so that the silence case
	// is quick, and still far above what an attacking client needs to send its message.
	mainAuthTimeout = 2 * time.Second
	// mainSimRate is the main engine's simulated transactions per second; about 4% are
	// whales, so alerts reach the legitimate client several times a second.
	mainSimRate = 120
	// limitsRate is the limits engine's RATE_LIMIT_REQUESTS per RATE_LIMIT_WINDOW.
	limitsRate       = 5
	limitsRateWindow = time.Hour
	// banAfter and banFor are the ban engines' --ban-after and --ban-for.
	banAfter = 3
	banFor   = time.Hour
)

// Bounds of the suite's waits. Each bounds something that normally takes milliseconds.
const (
	atkWait      = 15 * time.Second
	atkPoll      = 10 * time.Millisecond
	atkMaxFrames = 100_000
	// deliveryMargin is how long after the legitimate client got an alert the attacker's
	// connection is still watched: the broadcaster hands one alert to every receiver at once.
	deliveryMargin = 300 * time.Millisecond
)

// ---- secrets and logs ----

// secretSet records every token, API key and key material the suite uses.
type secretSet struct {
	mu   sync.Mutex
	list []string
}

// minSecretLen keeps short strings ("x", "a.b.c") out of the search: they are not secrets
// and would match innocent log text.
const minSecretLen = 16

func (s *secretSet) add(values ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range values {
		if len(v) < minSecretLen {
			continue
		}
		s.list = append(s.list, v)
		// A JWT's signature identifies it even when a log line keeps only part of it.
		if parts := strings.Split(v, "."); len(parts) == 3 && len(parts[2]) >= minSecretLen {
			s.list = append(s.list, parts[2])
		}
	}
}

func (s *secretSet) all() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.list)
}

// findIn returns the first recorded secret that text contains, or "".
func (s *secretSet) findIn(text []byte) string {
	for _, v := range s.all() {
		if bytes.Contains(text, []byte(v)) {
			return v
		}
	}
	return ""
}

// logSink collects the JSON log lines of every engine of the suite, at debug level.
type logSink struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logSink) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logSink) bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bytes.Clone(l.buf.Bytes())
}

// redact replaces every recorded secret in line, so that a failure message can quote the
// line without spreading the secret further.
func redact(line string, secrets []string) string {
	for _, s := range secrets {
		line = strings.ReplaceAll(line, s, "[SECRET]")
	}
	return line
}

// ---- client addresses ----

// ipPool hands each case a loopback address of its own (127.0.0.10 and up), so that audit
// events, bans and per-IP caps are attributed to exactly one case. Where the system does not
// route 127.0.0.0/8 to loopback, every case shares 127.0.0.1 and the suite says so.
type ipPool struct {
	mu    sync.Mutex
	next  int
	alias bool
}

func newIPPool(t *testing.T) *ipPool {
	t.Helper()
	p := &ipPool{next: 10}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen for the alias probe: %v", err)
	}
	defer ln.Close()
	accepted := make(chan struct{})
	go func() {
		defer close(accepted)
		if c, err := ln.Accept(); err == nil {
			_ = c.Close()
		}
	}()
	d := net.Dialer{Timeout: time.Second, LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}
	if c, err := d.Dial("tcp", ln.Addr().String()); err == nil {
		_ = c.Close()
		p.alias = true
	} else {
		t.Logf("127.0.0.2 is not usable (%v): every case connects from 127.0.0.1, audit "+
			"events are matched without their address", err)
		_ = ln.Close()
	}
	<-accepted
	return p
}

func (p *ipPool) take(t *testing.T) netip.Addr {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.alias {
		return netip.AddrFrom4([4]byte{127, 0, 0, 1})
	}
	if p.next > 250 {
		t.Fatalf("out of loopback addresses")
	}
	a := netip.AddrFrom4([4]byte{127, 0, 0, byte(p.next)})
	p.next++
	return a
}

// atkClient is one attacker (or legitimate client): HTTP and WebSocket from one address,
// never through a proxy.
type atkClient struct {
	ip     netip.Addr
	http   *http.Client
	dialer *net.Dialer
}

func newAtkClient(t *testing.T, ip netip.Addr) *atkClient {
	t.Helper()
	d := &net.Dialer{Timeout: atkWait, LocalAddr: &net.TCPAddr{IP: ip.AsSlice()}}
	tr := &http.Transport{Proxy: nil, DialContext: d.DialContext, MaxIdleConnsPerHost: 4}
	t.Cleanup(tr.CloseIdleConnections)
	return &atkClient{ip: ip, http: &http.Client{Transport: tr, Timeout: atkWait}, dialer: d}
}

func (c *atkClient) wsDialer(writeBuffer int) *websocket.Dialer {
	return &websocket.Dialer{
		NetDialContext:   c.dialer.DialContext,
		HandshakeTimeout: atkWait,
		WriteBufferSize:  writeBuffer,
	}
}

// ---- engines ----

// atkEngine is one engine under attack, with an audit reader of its own.
type atkEngine struct {
	*testEngine
	name  string
	audit *auditReader
	// legit is the legitimate reader of the main engine; nil elsewhere.
	legit *legitClient
}

// startAtkEngine starts an engine like startEngine does, logging at debug level into sink.
func startAtkEngine(t *testing.T, name string, cfg system.Config, sink *logSink) *atkEngine {
	t.Helper()
	log := system.NewLogger(sink, slog.LevelDebug).With("engine", name)
	e := systemtest.Start(t, cfg, log)
	te := &testEngine{Engine: e, cfg: cfg, addr: e.Addr}
	return &atkEngine{testEngine: te, name: name}
}

// atkConfig is the base of every engine of the suite: loopback port 0, a fresh data
// directory, the suite's secret, and guards loose enough that only the cases aimed at them
// trip them.
func atkConfig(t *testing.T) system.Config {
	t.Helper()
	cfg := system.DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.Secret = attackSecret
	cfg.Source = "replay:" + btcdtest.Block277647(t)
	cfg.Rate = 0
	cfg.Guard = transport.GuardConfig{
		MaxConns:      20_000,
		MaxConnsPerIP: 1_000,
		AttemptsPerIP: 1_000,
		BanAfter:      1 << 30,
		BanWindow:     time.Minute,
		BanFor:        time.Minute,
	}
	return cfg
}

// ---- the environment ----

// attackEnv is everything the cases share.
type attackEnv struct {
	secrets *secretSet
	logs    *logSink
	ips     *ipPool

	main, limits, ban, xff *atkEngine

	// envIssuer signs with the main engine's WEBSOCKET_SECRET_KEY (kid env) and writes the
	// iss and aud the main engine requires.
	envIssuer *auth.Issuer
	// ring is the main engine's keys.json, opened by the suite as `engine keys` would; the
	// engine picks its edits up within a second.
	ring *auth.Ring
	// fileIssuer signs with the signing key of ring.
	fileIssuer *auth.Issuer
	// partnerPriv is the outside issuer's Ed25519 key; its public half is imported in ring
	// under partnerKID, in partnerPEM form.
	partnerPriv ed25519.PrivateKey
	partnerPub  ed25519.PublicKey
	partnerPEM  []byte
}

func newAttackEnv(t *testing.T) *attackEnv {
	t.Helper()
	env := &attackEnv{secrets: &secretSet{}, logs: &logSink{}}
	// Registered first, so it runs last: after every engine has shut down and logged its
	// last line.
	t.Cleanup(func() { env.checkLogs(t) })
	env.ips = newIPPool(t)
	env.secrets.add(attackSecret, hex.EncodeToString([]byte(attackSecret)),
		base64.StdEncoding.EncodeToString([]byte(attackSecret)))

	memRing, _, err := auth.LoadRing("", attackSecret)
	if err != nil {
		t.Fatalf("memory ring: %v", err)
	}
	env.envIssuer, err = auth.NewRingIssuer(memRing, nil, auth.IssuerOptions{
		Issuer: attackIssuer, Audience: attackAudience})
	if err != nil {
		t.Fatalf("env issuer: %v", err)
	}

	env.partnerPub, env.partnerPriv, err = ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatalf("ed25519 key: %v", err)
	}
	der, err := x509.MarshalPKIXPublicKey(env.partnerPub)
	if err != nil {
		t.Fatalf("marshal public key: %v", err)
	}
	env.partnerPEM = pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	env.secrets.add(hex.EncodeToString(env.partnerPriv.Seed()),
		base64.StdEncoding.EncodeToString(env.partnerPriv.Seed()))

	mainCfg := atkConfig(t)
	mainCfg.Source, mainCfg.Rate, mainCfg.Seed = "sim", mainSimRate, 277647
	mainCfg.AuthTimeout = mainAuthTimeout
	mainCfg.RateLimit, mainCfg.RateWindow = 100_000, time.Minute
	mainCfg.TokenIssuer, mainCfg.TokenAudience = attackIssuer, attackAudience
	// The key ring exists before the engine starts: one HS256 key made here, and the
	// partner's public key. The engine adds its WEBSOCKET_SECRET_KEY on top.
	env.ring, _, err = auth.LoadRing(mainCfg.DataDir, "")
	if err != nil {
		t.Fatalf("create the key ring: %v", err)
	}
	if err := env.ring.ImportPublic(partnerKID, env.partnerPEM); err != nil {
		t.Fatalf("import the partner key: %v", err)
	}
	env.fileIssuer, err = auth.NewRingIssuer(env.ring, nil, auth.IssuerOptions{
		Issuer: attackIssuer, Audience: attackAudience})
	if err != nil {
		t.Fatalf("file issuer: %v", err)
	}
	env.recordRingSecrets(t, mainCfg.DataDir)

	limitsCfg := atkConfig(t)
	limitsCfg.RateLimit, limitsCfg.RateWindow = limitsRate, limitsRateWindow

	banConfig := func() system.Config {
		cfg := atkConfig(t)
		cfg.Guard.BanAfter, cfg.Guard.BanWindow, cfg.Guard.BanFor = banAfter, time.Minute,
			banFor
		return cfg
	}

	env.main = startAtkEngine(t, "main", mainCfg, env.logs)
	env.limits = startAtkEngine(t, "limits", limitsCfg, env.logs)
	env.ban = startAtkEngine(t, "ban", banConfig(), env.logs)
	env.xff = startAtkEngine(t, "xff", banConfig(), env.logs)
	for _, e := range []*atkEngine{env.main, env.limits, env.ban, env.xff} {
		e.audit = env.newAuditReader(t, e)
	}
	env.main.legit = env.startLegit(t, env.main)
	return env
}

// recordRingSecrets adds the HS256 secrets of keys.json to the secrets searched for.
func (env *attackEnv) recordRingSecrets(t *testing.T, dir string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, auth.KeyRingFileName))
	if err != nil {
		t.Fatalf("read keys.json: %v", err)
	}
	var f struct {
		Keys []struct {
			Secret string `json:"secret"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatalf("decode keys.json: %v", err)
	}
	for _, k := range f.Keys {
		env.secrets.add(k.Secret)
		if raw, err := hex.DecodeString(k.Secret); err == nil {
			env.secrets.add(string(raw), base64.RawURLEncoding.EncodeToString(raw))
		}
	}
}

// engine returns the engine a case runs on.
func (env *attackEnv) engine(name string) *atkEngine {
	switch name {
	case "", "main":
		return env.main
	case "limits":
		return env.limits
	case "ban":
		return env.ban
	case "xff":
		return env.xff
	}
	panic("no engine " + name)
}

// checkLogs fails t if any engine log line holds a recorded secret.
func (env *attackEnv) checkLogs(t *testing.T) {
	t.Helper()
	logs := env.logs.bytes()
	secrets := env.secrets.all()
	if len(logs) == 0 {
		t.Errorf("the engines logged nothing: the log check checked nothing")
	}
	sc := bufio.NewScanner(bytes.NewReader(logs))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	bad := 0
	for sc.Scan() {
		if s := env.secrets.findIn(sc.Bytes()); s != "" {
			bad++
			if bad <= 5 {
				t.Errorf("an engine log line holds a secret of the suite: %s",
					redact(sc.Text(), secrets))
			}
		}
	}
	if bad > 5 {
		t.Errorf("... and %d more log lines with secrets", bad-5)
	}
	t.Logf("log check: %d bytes of engine logs searched for %d secrets", len(logs),
		len(secrets))
}

// ---- tokens ----

var b64 = base64.RawURLEncoding

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("random: %v", err)
	}
	return hex.EncodeToString(b)
}

func jsonSegment(t *testing.T, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal %T: %v", v, err)
	}
	return b64.EncodeToString(data)
}

// hs256 signs header.claims with HMAC-SHA256 under key, whatever header claims.
func hs256(t *testing.T, key []byte, header, claims map[string]any) string {
	t.Helper()
	input := jsonSegment(t, header) + "." + jsonSegment(t, claims)
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(input))
	return input + "." + b64.EncodeToString(mac.Sum(nil))
}

// eddsa signs header.claims with Ed25519 under priv, whatever header claims.
func eddsa(t *testing.T, priv ed25519.PrivateKey, header, claims map[string]any) string {
	t.Helper()
	input := jsonSegment(t, header) + "." + jsonSegment(t, claims)
	return input + "." + b64.EncodeToString(ed25519.Sign(priv, []byte(input)))
}

// envHeader is the header of the main engine's own tokens.
func envHeader() map[string]any {
	return map[string]any{"alg": "HS256", "typ": "JWT", "kid": auth.EnvKeyID}
}

// claimsFor returns claims the main engine accepts now: sub, read, an hour to live, the
// engine's iss and aud, and a fresh jti.
func claimsFor(t *testing.T, sub string, perms ...string) map[string]any {
	t.Helper()
	if len(perms) == 0 {
		perms = []string{"read"}
	}
	now := time.Now().Unix()
	return map[string]any{
		"sub": sub, "perms": perms, "iat": now, "exp": now + 3600,
		"jti": randomHex(t, 16), "iss": attackIssuer, "aud": []string{attackAudience},
	}
}

// withClaim returns a copy of m with key set to v, or without key when v is nil.
func withClaim(m map[string]any, key string, v any) map[string]any {
	out := make(map[string]any, len(m)+1)
	for k, val := range m {
		if k != key {
			out[k] = val
		}
	}
	if v != nil {
		out[key] = v
	}
	return out
}

// ---- WebSocket probes ----

// atkFrame is any message the engine sends.
type atkFrame struct {
	Type        string   `json:"type"`
	Code        string   `json:"code"`
	Message     string   `json:"message"`
	Seq         uint64   `json:"seq"`
	ClientID    string   `json:"client_id"`
	Permissions []string `json:"permissions"`
	ExpiresAt   string   `json:"expires_at"`
	Token       string   `json:"token"`
	MinBTC      *float64 `json:"min_btc"`
}

// label names a frame for comparisons: its type, and for errors its code.
func (f atkFrame) label() string {
	if f.Type == "error" {
		return "error:" + f.Code
	}
	return f.Type
}

func labels(frames []atkFrame) []string {
	out := make([]string, len(frames))
	for i, f := range frames {
		out[i] = f.label()
	}
	return out
}

// wsSession reads one connection in a goroutine of its own until it ends: every stored
// record it delivers (whale_alert or alert_update) is counted with its arrival time, every
// other frame kept in order.
type wsSession struct {
	c *websocket.Conn

	mu        sync.Mutex
	frames    []atkFrame
	alerts    []time.Time
	closed    bool
	closeCode int
	closeText string
	endErr    error
	closedAt  time.Time
	done      chan struct{}
}

func watchWS(t *testing.T, c *websocket.Conn) *wsSession {
	t.Helper()
	s := &wsSession{c: c, done: make(chan struct{})}
	t.Cleanup(func() {
		_ = c.Close()
		<-s.done
	})
	go s.read()
	return s
}

func (s *wsSession) read() {
	defer close(s.done)
	_ = s.c.SetReadDeadline(time.Now().Add(2 * atkWait))
	for range atkMaxFrames {
		_, data, err := s.c.ReadMessage()
		s.mu.Lock()
		if err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				s.closeCode, s.closeText = ce.Code, ce.Text
			} else {
				s.endErr = err
			}
			s.closed, s.closedAt = true, time.Now()
			s.mu.Unlock()
			return
		}
		var f atkFrame
		if jerr := json.Unmarshal(data, &f); jerr != nil {
			f = atkFrame{Type: "undecodable"}
		}
		if f.Type == "whale_alert" || f.Type == "alert_update" {
			s.alerts = append(s.alerts, time.Now())
		} else {
			s.frames = append(s.frames, f)
		}
		s.mu.Unlock()
	}
	s.mu.Lock()
	s.endErr = errors.New("too many frames")
	s.closed = true
	s.mu.Unlock()
}

// send writes one text frame; an error is returned, not fatal, since a connection the
// engine closes may refuse later writes.
func (s *wsSession) send(msg string) error {
	return s.sendType(websocket.TextMessage, []byte(msg))
}

func (s *wsSession) sendType(typ int, data []byte) error {
	_ = s.c.SetWriteDeadline(time.Now().Add(atkWait))
	return s.c.WriteMessage(typ, data)
}

// waitFrames waits until n frames other than records came, or the connection ended.
func (s *wsSession) waitFrames(t *testing.T, n int) []atkFrame {
	t.Helper()
	deadline := time.Now().Add(atkWait)
	for {
		s.mu.Lock()
		got, closed := slices.Clone(s.frames), s.closed
		s.mu.Unlock()
		if len(got) >= n || closed {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %d frames, got %q", atkWait, n, labels(got))
		}
		time.Sleep(atkPoll)
	}
}

// waitClosed waits until the connection ended.
func (s *wsSession) waitClosed(t *testing.T) {
	t.Helper()
	select {
	case <-s.done:
	case <-time.After(atkWait):
		t.Fatalf("the engine did not close the connection within %v (frames %q)", atkWait,
			labels(s.snapshot().frames))
	}
}

// wsState is what a session saw.
type wsState struct {
	frames    []atkFrame
	alerts    int
	closed    bool
	closeCode int
	closeText string
	endErr    error
	closedAt  time.Time
}

func (s *wsSession) snapshot() wsState {
	s.mu.Lock()
	defer s.mu.Unlock()
	return wsState{frames: slices.Clone(s.frames), alerts: len(s.alerts), closed: s.closed,
		closeCode: s.closeCode, closeText: s.closeText, endErr: s.endErr,
		closedAt: s.closedAt}
}

// ---- the legitimate client ----

// legitClient is a reader of the main engine, authenticated for the whole suite, that proves
// alerts were flowing while an attacker got none.
type legitClient struct {
	s *wsSession
}

func (env *attackEnv) startLegit(t *testing.T, e *atkEngine) *legitClient {
	t.Helper()
	cl := newAtkClient(t, env.ips.take(t))
	tok, _ := env.mint(t, "legit-reader", time.Hour, auth.PermRead)
	c, resp, err := cl.wsDialer(0).Dial(e.wsURL(), nil)
	if err != nil {
		t.Fatalf("legitimate client: dial: %v", err)
	}
	_ = resp.Body.Close()
	s := watchWS(t, c)
	if err := s.send(authMsg(tok, -1)); err != nil {
		t.Fatalf("legitimate client: send auth: %v", err)
	}
	if got := labels(s.waitFrames(t, 2)); !slices.Equal(got, []string{"auth_success", "welcome"}) {
		t.Fatalf("legitimate client: got %q, want auth_success and welcome", got)
	}
	l := &legitClient{s: s}
	l.waitAlertAfter(t, time.Now())
	return l
}

// alertAfter returns the arrival of the first alert at or after t0.
func (l *legitClient) alertAfter(t0 time.Time) (time.Time, bool) {
	l.s.mu.Lock()
	defer l.s.mu.Unlock()
	for _, at := range l.s.alerts {
		if !at.Before(t0) {
			return at, true
		}
	}
	return time.Time{}, false
}

// waitAlertAfter waits until the legitimate client received an alert at or after t0.
func (l *legitClient) waitAlertAfter(t *testing.T, t0 time.Time) time.Time {
	t.Helper()
	deadline := time.Now().Add(atkWait)
	for {
		if at, ok := l.alertAfter(t0); ok {
			return at
		}
		if st := l.s.snapshot(); st.closed {
			t.Fatalf("the legitimate client was disconnected: %d %q %v", st.closeCode,
				st.closeText, st.endErr)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the legitimate client got no alert within %v: alerts are not flowing",
				atkWait)
		}
		time.Sleep(atkPoll)
	}
}

// ---- the audit log, through GET /api/v1/admin/audit ----

// auditReader pages through an engine's audit log with an admin token and keeps every
// event it saw.
type auditReader struct {
	e     *atkEngine
	cl    *atkClient
	admin string
	// direct reads the store instead of the route, when every client shares 127.0.0.1 and a
	// ban case would lock the reader out.
	direct bool

	mu     sync.Mutex
	cursor uint64
	events []transport.AuditEntry
}

func (env *attackEnv) newAuditReader(t *testing.T, e *atkEngine) *auditReader {
	t.Helper()
	tok, _ := env.mint(t, "auditor-"+e.name, 24*time.Hour, auth.PermAdmin)
	return &auditReader{e: e, cl: newAtkClient(t, env.ips.take(t)), admin: tok,
		direct: !env.ips.alias}
}

// fetch reads every event after the cursor.
func (a *auditReader) fetch(t *testing.T) {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	for range 1000 {
		var page transport.AuditPage
		if a.direct {
			evs, err := a.e.Security().RangeAudit(a.cursor, 1000)
			if err != nil {
				t.Fatalf("read the audit log: %v", err)
			}
			for _, ev := range evs {
				page.Events = append(page.Events, transport.AuditEntry{Seq: ev.Seq,
					Time: ev.Time, Type: ev.Type, Client: ev.Client, Remote: ev.Remote,
					Reason: ev.Reason, KeyID: ev.KeyID, TokenID: ev.TokenID,
					Detail: ev.Detail})
			}
		} else {
			r := doRequest(t, a.cl, a.e, http.MethodGet,
				fmt.Sprintf("/api/v1/admin/audit?since=%d&limit=1000", a.cursor),
				http.Header{"Authorization": {"Bearer " + a.admin}}, nil, "")
			if r.status != http.StatusOK {
				t.Fatalf("GET /api/v1/admin/audit on %s: %d %s", a.e.name, r.status, r.body)
			}
			if err := json.Unmarshal(r.body, &page); err != nil {
				t.Fatalf("decode the audit page: %v", err)
			}
		}
		for _, ev := range page.Events {
			a.events = append(a.events, ev)
			a.cursor = ev.Seq
		}
		if len(page.Events) < 1000 {
			return
		}
	}
}

// wait waits until an event that match accepts is in the log, and returns it.
func (a *auditReader) wait(t *testing.T, what string,
	match func(transport.AuditEntry) bool) transport.AuditEntry {
	t.Helper()
	deadline := time.Now().Add(atkWait)
	for {
		a.fetch(t)
		if ev, ok := a.find(match); ok {
			return ev
		}
		if time.Now().After(deadline) {
			t.Fatalf("no audit event %s on engine %s within %v", what, a.e.name, atkWait)
		}
		time.Sleep(4 * atkPoll)
	}
}

func (a *auditReader) find(match func(transport.AuditEntry) bool) (transport.AuditEntry, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, ev := range a.events {
		if match(ev) {
			return ev, true
		}
	}
	return transport.AuditEntry{}, false
}

func (a *auditReader) all(t *testing.T) []transport.AuditEntry {
	t.Helper()
	a.fetch(t)
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.events)
}

// ---- HTTP probes ----

// httpResult is an HTTP answer with its JSON error decoded.
type httpResult struct {
	status  int
	header  http.Header
	body    []byte
	errCode string
	reason  string
}

// doRequest sends method path to e from cl with headers, a body (JSON-encoded unless it is
// []byte) and, when host is not empty, that Host header.
func doRequest(t *testing.T, cl *atkClient, e *atkEngine, method, path string, h http.Header,
	body any, host string) httpResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), atkWait)
	defer cancel()
	var rd io.Reader
	if body != nil {
		data, ok := body.([]byte)
		if !ok {
			var err error
			if data, err = json.Marshal(body); err != nil {
				t.Fatalf("marshal body: %v", err)
			}
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, e.httpURL()+path, rd)
	if err != nil {
		t.Fatalf("request: %v", err)
	}
	if h != nil {
		req.Header = h.Clone()
	}
	if body != nil && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if host != "" {
		req.Host = host
	}
	resp, err := cl.http.Do(req)
	if err != nil {
		// The path only: a case's query may hold a token.
		route, _, _ := strings.Cut(path, "?")
		t.Fatalf("%s %s: %v", method, route, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		t.Fatalf("%s: read body: %v", method, err)
	}
	r := httpResult{status: resp.StatusCode, header: resp.Header, body: data}
	if resp.StatusCode >= 400 {
		var e struct {
			Error  string `json:"error"`
			Reason string `json:"reason"`
		}
		if json.Unmarshal(data, &e) == nil {
			r.errCode, r.reason = e.Error, e.Reason
		}
	}
	return r
}

// upgradeWS tries a WebSocket upgrade of e from cl. It returns the watched session when the
// engine switched protocols, and the HTTP answer either way.
func upgradeWS(t *testing.T, cl *atkClient, e *atkEngine, query string, h http.Header,
	writeBuffer int) (*wsSession, httpResult) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), atkWait)
	defer cancel()
	c, resp, err := cl.wsDialer(writeBuffer).DialContext(ctx, e.wsURL()+query, h)
	if resp == nil {
		t.Fatalf("upgrade: no HTTP answer: %v", err)
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	_ = resp.Body.Close()
	r := httpResult{status: resp.StatusCode, header: resp.Header, body: body}
	if resp.StatusCode >= 400 {
		var eb struct {
			Error  string `json:"error"`
			Reason string `json:"reason"`
		}
		if json.Unmarshal(body, &eb) == nil {
			r.errCode, r.reason = eb.Error, eb.Reason
		}
	}
	if c == nil {
		return nil, r
	}
	return watchWS(t, c), r
}

func bearer(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }

// mint issues a token of the main engine's env key with its iss and aud.
func (env *attackEnv) mint(t *testing.T, sub string, ttl time.Duration,
	perms ...auth.Perm) (string, auth.Claims) {
	t.Helper()
	tok, claims, err := env.envIssuer.Issue(sub, perms, ttl)
	if err != nil {
		t.Fatalf("issue a token for %s: %v", sub, err)
	}
	env.secrets.add(tok)
	return tok, claims
}

// rawConn opens a plain TCP connection from cl to e, closed when the test ends.
func rawConn(t *testing.T, cl *atkClient, e *atkEngine) net.Conn {
	t.Helper()
	c, err := cl.dialer.Dial("tcp", e.addr)
	if err != nil {
		t.Fatalf("dial %s: %v", e.addr, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// statusOf parses the status code of a raw HTTP answer; 0 when there is none.
func statusOf(answer []byte) int {
	line, _, _ := bytes.Cut(answer, []byte("\r\n"))
	fields := strings.Fields(string(line))
	if len(fields) < 2 || !strings.HasPrefix(fields[0], "HTTP/") {
		return 0
	}
	n, _ := strconv.Atoi(fields[1])
	return n
}
