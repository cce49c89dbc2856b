package system_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/whalecast/whalecast/internal/auth"
	"github.com/whalecast/whalecast/persistence"
	"github.com/whalecast/whalecast/system"
	"github.com/whalecast/whalecast/transport"
)

// httpAnswer is what one REST call got.
type httpAnswer struct {
	status int
	header http.Header
	body   []byte
	err    struct {
		Error  string `json:"error"`
		Reason string `json:"reason"`
	}
}

// doHTTP sends method path to te with headers and, when body is not nil, body as JSON.
func doHTTP(tb testing.TB, te *testEngine, method, path string, headers http.Header,
	body any) httpAnswer {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			tb.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, te.httpURL()+path, rd)
	if err != nil {
		tb.Fatalf("request: %v", err)
	}
	req.Header = headers.Clone()
	if req.Header == nil {
		req.Header = http.Header{}
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		tb.Fatalf("%s %s: read: %v", method, path, err)
	}
	a := httpAnswer{status: resp.StatusCode, header: resp.Header, body: data}
	if resp.StatusCode >= 400 {
		_ = json.Unmarshal(data, &a.err)
	}
	return a
}

func authHeader(tok string) http.Header {
	return http.Header{"Authorization": {"Bearer " + tok}}
}

// dialUpgrade tries a WebSocket upgrade with header; it returns the connection (nil when
// refused) and the HTTP status and body the engine answered.
func dialUpgrade(tb testing.TB, url string, header http.Header) (*websocket.Conn, int,
	string) {
	tb.Helper()
	d := websocket.Dialer{HandshakeTimeout: waitTimeout}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	c, resp, err := d.DialContext(ctx, url, header)
	if resp == nil {
		tb.Fatalf("dial %s: no answer: %v", url, err)
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	_ = resp.Body.Close()
	if c != nil {
		tb.Cleanup(func() { _ = c.Close() })
	}
	return c, resp.StatusCode, string(body)
}

// waitAudit waits until the audit log holds an event that match accepts, and returns it.
func waitAudit(tb testing.TB, te *testEngine, what string,
	match func(persistence.AuditEvent) bool) persistence.AuditEvent {
	tb.Helper()
	var found persistence.AuditEvent
	waitFor(tb, "audit event "+what, func() bool {
		events, err := te.Security().RangeAudit(0, 10_000)
		if err != nil {
			tb.Fatalf("RangeAudit: %v", err)
		}
		for _, ev := range events {
			if match(ev) {
				found = ev
				return true
			}
		}
		return false
	})
	return found
}

func TestUpgradeWithBearer(t *testing.T) {
	te := startEngine(t, replayConfig(t))
	te.waitLastSeq(t, lastSeq277647)
	good, claims, err := issuer(t, testSecret, nil).Issue("header-client",
		[]auth.Perm{auth.PermRead}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	forged, _, err := issuer(t, strings.Repeat("f", 40), nil).Issue("forger",
		[]auth.Perm{auth.PermRead}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	apiKeyHeader := http.Header{"X-Api-Key": {"wck_" + strings.Repeat("A", 43)}}

	tests := []struct {
		name       string
		query      string
		header     http.Header
		wantStatus int
		wantReason string // reason of a 401
		// since is the query's since (0: none); the records after it are replayed.
		since uint64
	}{
		{name: "bearer header", header: authHeader(good), wantStatus: 101},
		{name: "bearer header with since", query: "?since=1", header: authHeader(good),
			wantStatus: 101, since: 1},
		{name: "forged token", header: authHeader(forged), wantStatus: 401,
			wantReason: "bad_signature"},
		{name: "alg none", header: authHeader(noneToken(t)), wantStatus: 401,
			wantReason: "bad_algorithm"},
		{name: "not bearer", header: http.Header{"Authorization": {"Basic eDp5"}},
			wantStatus: 401, wantReason: "malformed"},
		{name: "token in the query", query: "?token=" + good, wantStatus: 400},
		{name: "jwt in the query with a header", query: "?jwt=" + good,
			header: authHeader(good), wantStatus: 400},
		{name: "access_token in the query", query: "?access_token=x", wantStatus: 400},
		{name: "since not a number", query: "?since=1%20OR%201=1", header: authHeader(good),
			wantStatus: 400},
		{name: "negative since", query: "?since=-1", header: authHeader(good), wantStatus: 400},
		{name: "since without the header", query: "?since=0", wantStatus: 400},
		{name: "unknown parameter", query: "?debug=1", wantStatus: 400},
		{name: "api key on the websocket", header: apiKeyHeader, wantStatus: 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, status, body := dialUpgrade(t, te.wsURL()+tt.query, tt.header)
			if status != tt.wantStatus {
				t.Fatalf("status: got %d (%s), want %d", status, body, tt.wantStatus)
			}
			if strings.Contains(body, good) {
				t.Errorf("answer %q holds the token", body)
			}
			if tt.wantReason != "" && !strings.Contains(body, `"reason":"`+tt.wantReason+`"`) {
				t.Errorf("answer: got %s, want reason %s", body, tt.wantReason)
			}
			if c == nil {
				return
			}
			// No auth message: the session starts authenticated.
			if m := read(t, c); m.Type != "auth_success" || m.ClientID != "header-client" {
				t.Fatalf("first message: got %+v, want auth_success for header-client", m)
			}
			// The welcome's seq may trail the store by a record still being published;
			// that record then comes live. Without since, the records after the welcome's
			// seq come; with it, those after since, replayed or live.
			welcome := read(t, c)
			if welcome.Type != "welcome" || welcome.Seq > lastSeq277647 {
				t.Fatalf("second message: got %+v, want welcome with a seq up to %d",
					welcome, lastSeq277647)
			}
			from := welcome.Seq
			if tt.since > 0 {
				from = tt.since
			}
			check277647(t, readRecords(t, c, int(lastSeq277647-from)), from)
			send(t, c, `{"type":"ping"}`)
			if m := read(t, c); m.Type != "pong" {
				t.Errorf("answer to ping: got %s (seq %d), want pong", m.Type, m.Seq)
			}
		})
	}

	ev := waitAudit(t, te, "auth_success of the header token",
		func(ev persistence.AuditEvent) bool {
			return ev.Type == persistence.AuditAuthSuccess && ev.TokenID == claims.ID
		})
	if ev.Remote != "127.0.0.1" || ev.Client != "header-client" {
		t.Errorf("auth_success: got remote %q client %q, want 127.0.0.1 header-client",
			ev.Remote, ev.Client)
	}
	waitAudit(t, te, "token_in_url", func(ev persistence.AuditEvent) bool {
		return ev.Type == persistence.AuditAuthFailure && ev.Reason == "token_in_url" &&
			ev.Remote == "127.0.0.1"
	})
}

func TestUpgradeGuards(t *testing.T) {
	good := token(t, "guarded", auth.PermRead)
	bad := http.Header{"Authorization": {"Bearer not-a-token"}}
	tests := []struct {
		name string
		edit func(cfg *systemConfig)
		run  func(t *testing.T, te *testEngine)
	}{
		{
			name: "brute force bans the IP, whatever X-Forwarded-For says",
			edit: func(c *systemConfig) { c.Guard.BanAfter, c.Guard.BanFor = 3, time.Hour },
			run: func(t *testing.T, te *testEngine) {
				for i, spoof := range []string{"203.0.113.1", "198.51.100.2"} {
					h := bad.Clone()
					h.Set("X-Forwarded-For", spoof)
					if _, st, _ := dialUpgrade(t, te.wsURL(), h); st != 401 {
						t.Fatalf("failure %d: status got %d, want 401", i+1, st)
					}
				}
				// The third failure comes through the first message, spoofed too.
				c, st, _ := dialUpgrade(t, te.wsURL(),
					http.Header{"X-Forwarded-For": {"192.0.2.99"}})
				if st != 101 {
					t.Fatalf("third attempt: status got %d, want 101", st)
				}
				send(t, c, authMsg("not-a-token", -1))
				if code, _ := closeCode(t, c); code != 4003 {
					t.Fatalf("third failure: close code %d, want 4003", code)
				}
				waitAudit(t, te, "ip_banned", func(ev persistence.AuditEvent) bool {
					return ev.Type == persistence.AuditIPBanned && ev.Remote == "127.0.0.1"
				})

				_, st, body := dialUpgrade(t, te.wsURL(), authHeader(good))
				if st != 429 || !strings.Contains(body, `"banned"`) {
					t.Errorf("upgrade while banned: got %d %s, want 429 banned", st, body)
				}
				a := doHTTP(t, te, http.MethodGet, "/api/v1/alerts", authHeader(good), nil)
				if a.status != 429 || a.err.Error != "banned" ||
					a.header.Get("Retry-After") == "" {
					t.Errorf("REST while banned: got %d %q Retry-After %q, want 429 banned",
						a.status, a.err.Error, a.header.Get("Retry-After"))
				}
				events, err := te.Security().RangeAudit(0, 1000)
				if err != nil {
					t.Fatal(err)
				}
				for _, ev := range events {
					if ev.Type == persistence.AuditAuthFailure && ev.Remote != "127.0.0.1" {
						t.Errorf("auth_failure remote: got %q, want the socket's 127.0.0.1",
							ev.Remote)
					}
				}
			},
		},
		{
			name: "behind a trusted proxy the forwarded client is banned, not the proxy",
			edit: func(c *systemConfig) {
				c.TrustedProxies = "127.0.0.1"
				c.Guard.BanAfter, c.Guard.BanFor = 2, time.Hour
			},
			run: func(t *testing.T, te *testEngine) {
				forwarded := func(h http.Header, client string) http.Header {
					h = h.Clone()
					if h == nil {
						h = http.Header{}
					}
					// The left entry is the client's own claim and is ignored.
					h.Set("X-Forwarded-For", "10.9.9.9, "+client)
					return h
				}
				for range 2 {
					if _, st, _ := dialUpgrade(t, te.wsURL(),
						forwarded(bad, "203.0.113.7")); st != 401 {
						t.Fatalf("failure: status got %d, want 401", st)
					}
				}
				waitAudit(t, te, "ip_banned of the forwarded client",
					func(ev persistence.AuditEvent) bool {
						return ev.Type == persistence.AuditIPBanned &&
							ev.Remote == "203.0.113.7"
					})
				if _, st, _ := dialUpgrade(t, te.wsURL(),
					forwarded(authHeader(good), "203.0.113.7")); st != 429 {
					t.Errorf("banned client through the proxy: got %d, want 429", st)
				}
				c, st, _ := dialUpgrade(t, te.wsURL(), forwarded(authHeader(good),
					"198.51.100.8"))
				if st != 101 {
					t.Fatalf("another client through the proxy: got %d, want 101", st)
				}
				if m := read(t, c); m.Type != "auth_success" {
					t.Fatalf("another client: got %q, want auth_success", m.Type)
				}
				waitAudit(t, te, "auth_success with the forwarded address",
					func(ev persistence.AuditEvent) bool {
						return ev.Type == persistence.AuditAuthSuccess &&
							ev.Remote == "198.51.100.8"
					})
			},
		},
		{
			name: "connections per IP are capped",
			edit: func(c *systemConfig) { c.Guard.MaxConnsPerIP = 2 },
			run: func(t *testing.T, te *testEngine) {
				first := dial(t, te.wsURL())
				dial(t, te.wsURL())
				_, st, body := dialUpgrade(t, te.wsURL(), nil)
				if st != 503 || !strings.Contains(body, "too_many_connections") {
					t.Fatalf("third connection: got %d %s, want 503", st, body)
				}
				_ = first.Close()
				waitFor(t, "a slot to free", func() bool {
					c, st, _ := dialUpgrade(t, te.wsURL(), nil)
					if c != nil {
						_ = c.Close()
					}
					return st == 101
				})
			},
		},
		{
			name: "connection attempts per second are capped",
			edit: func(c *systemConfig) { c.Guard.AttemptsPerIP = 3 },
			run: func(t *testing.T, te *testEngine) {
				refused := 0
				for range 12 {
					c, st, body := dialUpgrade(t, te.wsURL(), nil)
					if c != nil {
						_ = c.Close()
					}
					if st == 429 && strings.Contains(body, "rate_limited") {
						refused++
					}
				}
				if refused < 3 {
					t.Errorf("refused attempts: got %d of 12, want most", refused)
				}
			},
		},
		{
			name: "origins",
			edit: func(c *systemConfig) {
				c.AllowedOrigins = []string{"https://dashboard.example"}
			},
			run: func(t *testing.T, te *testEngine) {
				for _, o := range []struct {
					origin string
					want   int
				}{
					{"https://evil.example", 403},
					{"null", 403},
					{"https://dashboard.example", 101},
					{"http://" + te.addr, 101},
					{"", 101},
				} {
					h := http.Header{}
					if o.origin != "" {
						h.Set("Origin", o.origin)
					}
					c, st, _ := dialUpgrade(t, te.wsURL(), h)
					if c != nil {
						_ = c.Close()
					}
					if st != o.want {
						t.Errorf("Origin %q: status got %d, want %d", o.origin, st, o.want)
					}
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := replayConfig(t)
			tt.edit(&cfg)
			tt.run(t, startEngine(t, cfg))
		})
	}
}

func TestRESTAccessEndToEnd(t *testing.T) {
	te := startEngine(t, replayConfig(t))
	te.waitLastSeq(t, lastSeq277647)
	admin := token(t, "root", auth.PermAdmin)
	readWrite := token(t, "plain", auth.PermRead, auth.PermWrite)

	for _, route := range []struct{ method, path string }{
		{http.MethodGet, "/api/v1/admin/audit"},
		{http.MethodGet, "/api/v1/admin/keys"},
		{http.MethodGet, "/api/v1/admin/apikeys"},
		{http.MethodGet, "/api/v1/admin/revocations"},
		{http.MethodDelete, "/api/v1/admin/apikeys/abc"},
	} {
		a := doHTTP(t, te, route.method, route.path, authHeader(readWrite), nil)
		if a.status != 403 {
			t.Errorf("%s %s with read,write: got %d, want 403", route.method, route.path,
				a.status)
		}
	}

	created := doHTTP(t, te, http.MethodPost, "/api/v1/admin/apikeys", authHeader(admin),
		transport.APIKeyRequest{Client: "bot", Perms: []string{"read"}})
	var key transport.NewAPIKeyResponse
	if created.status != 201 || json.Unmarshal(created.body, &key) != nil {
		t.Fatalf("create api key: got %d %s, want 201", created.status, created.body)
	}
	keyHeader := http.Header{"X-Api-Key": {key.Key}}
	for i := range 3 {
		a := doHTTP(t, te, http.MethodGet, "/api/v1/alerts?limit=1", keyHeader, nil)
		if a.status != 200 || a.header.Get("RateLimit-Limit") != "100" {
			t.Fatalf("use %d: got %d limit %q, want 200 and RateLimit-Limit 100", i+1,
				a.status, a.header.Get("RateLimit-Limit"))
		}
	}
	if a := doHTTP(t, te, http.MethodDelete, "/api/v1/admin/apikeys/"+key.ID,
		authHeader(admin), nil); a.status != 204 {
		t.Fatalf("revoke api key: got %d %s, want 204", a.status, a.body)
	}
	if a := doHTTP(t, te, http.MethodGet, "/api/v1/alerts", keyHeader, nil); a.status != 401 ||
		a.err.Reason != "revoked" {
		t.Errorf("use after revoke: got %d %q, want 401 revoked", a.status, a.err.Reason)
	}
	if a := doHTTP(t, te, http.MethodDelete, "/api/v1/admin/apikeys/0000000000000000",
		authHeader(admin), nil); a.status != 404 {
		t.Errorf("revoke unknown api key: got %d, want 404", a.status)
	}

	if a := doHTTP(t, te, http.MethodPost, "/api/v1/admin/revocations", authHeader(admin),
		transport.RevokeRequest{JTI: "feedfacefeedface"}); a.status != 201 {
		t.Fatalf("revoke a jti: got %d %s, want 201", a.status, a.body)
	}

	// Every change shows in the audit log, read through the admin route.
	want := map[string]func(transport.AuditEntry) bool{
		"token_revoked": func(e transport.AuditEntry) bool {
			return e.TokenID == "feedfacefeedface" && e.Client == "root"
		},
		"apikey_created": func(e transport.AuditEntry) bool {
			return e.KeyID == key.ID && e.Client == "root"
		},
		"apikey_revoked": func(e transport.AuditEntry) bool {
			return e.KeyID == key.ID && e.Client == "root"
		},
		"auth_success": func(e transport.AuditEntry) bool {
			return e.KeyID == key.ID && e.Client == "bot" && e.Remote == "127.0.0.1"
		},
		"auth_failure": func(e transport.AuditEntry) bool {
			return e.KeyID == key.ID && e.Reason == "revoked" && e.Remote == "127.0.0.1"
		},
	}
	waitFor(t, "the audit log to show the api key's life", func() bool {
		var page transport.AuditPage
		a := doHTTP(t, te, http.MethodGet, "/api/v1/admin/audit?since=0&limit=1000",
			authHeader(admin), nil)
		if a.status != 200 || json.Unmarshal(a.body, &page) != nil {
			t.Fatalf("audit: got %d %s", a.status, a.body)
		}
		for _, e := range page.Events {
			if match, ok := want[e.Type]; ok && match(e) {
				delete(want, e.Type)
			}
			if strings.Contains(e.Detail+e.KeyID+e.Client, key.Key) {
				t.Fatalf("audit event %+v holds the api key", e)
			}
		}
		return len(want) == 0
	})
}

func TestRESTRateLimitEndToEnd(t *testing.T) {
	cfg := replayConfig(t)
	cfg.RateLimit, cfg.RateWindow = 3, time.Hour
	te := startEngine(t, cfg)
	tok := token(t, "limited", auth.PermRead)
	for i, wantRemaining := range []string{"2", "1", "0"} {
		a := doHTTP(t, te, http.MethodGet, "/api/v1/stats", authHeader(tok), nil)
		if a.status != 200 || a.header.Get("RateLimit-Remaining") != wantRemaining ||
			a.header.Get("RateLimit-Limit") != "3" || a.header.Get("RateLimit-Reset") == "" {
			t.Fatalf("call %d: got %d, RateLimit %q/%q reset %q; want 200, %s of 3", i+1,
				a.status, a.header.Get("RateLimit-Remaining"), a.header.Get("RateLimit-Limit"),
				a.header.Get("RateLimit-Reset"), wantRemaining)
		}
	}
	a := doHTTP(t, te, http.MethodGet, "/api/v1/stats", authHeader(tok), nil)
	retry := a.header.Get("Retry-After")
	if a.status != 429 || a.err.Error != "rate_limited" || retry == "" || retry == "0" {
		t.Errorf("fourth call: got %d %q Retry-After %q, want 429 rate_limited with a delay",
			a.status, a.err.Error, retry)
	}
	other := token(t, "other", auth.PermRead)
	a = doHTTP(t, te, http.MethodGet, "/api/v1/stats", authHeader(other), nil)
	if a.status != 200 {
		t.Errorf("another client: got %d, want 200 (its own bucket)", a.status)
	}
}

func TestRevocationClosesLiveSessions(t *testing.T) {
	tests := []struct {
		name    string
		request func(claims auth.Claims) transport.RevokeRequest
	}{
		{"by jti", func(c auth.Claims) transport.RevokeRequest {
			return transport.RevokeRequest{JTI: c.ID, ExpiresAt: c.ExpiresAt}
		}},
		{"by client", func(c auth.Claims) transport.RevokeRequest {
			return transport.RevokeRequest{Client: c.Subject}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			te := startEngine(t, replayConfig(t))
			admin := token(t, "root", auth.PermAdmin)
			tok, claims, err := issuer(t, testSecret, nil).Issue("victim",
				[]auth.Perm{auth.PermRead}, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			c := dial(t, te.wsURL())
			authenticate(t, c, tok, -1)
			if a := doHTTP(t, te, http.MethodGet, "/api/v1/stats", authHeader(tok),
				nil); a.status != 200 {
				t.Fatalf("REST before revocation: got %d, want 200", a.status)
			}

			a := doHTTP(t, te, http.MethodPost, "/api/v1/admin/revocations", authHeader(admin),
				tt.request(claims))
			if a.status != 201 {
				t.Fatalf("revoke: got %d %s, want 201", a.status, a.body)
			}
			revoked := time.Now()
			code, reason := closeCode(t, c)
			if took := time.Since(revoked); took > time.Second {
				t.Errorf("session closed %v after the revocation, want within 1s", took)
			}
			if code != 4003 || !strings.Contains(reason, "revoked") {
				t.Errorf("close: got %d %q, want 4003 token revoked", code, reason)
			}

			again := dial(t, te.wsURL())
			send(t, again, authMsg(tok, -1))
			if code, reason := closeCode(t, again); code != 4003 ||
				reason != "authentication failed: revoked" {
				t.Errorf("auth again: got %d %q, want 4003 authentication failed: revoked",
					code, reason)
			}
			if _, st, body := dialUpgrade(t, te.wsURL(), authHeader(tok)); st != 401 ||
				!strings.Contains(body, `"reason":"revoked"`) {
				t.Errorf("upgrade with the revoked token: got %d %s, want 401 revoked", st,
					body)
			}
			if a := doHTTP(t, te, http.MethodGet, "/api/v1/stats", authHeader(tok),
				nil); a.status != 401 || a.err.Reason != "revoked" {
				t.Errorf("REST with the revoked token: got %d %q, want 401 revoked", a.status,
					a.err.Reason)
			}
			wantType := persistence.AuditTokenRevoked
			if tt.name == "by client" {
				wantType = persistence.AuditClientRevoked
			}
			waitAudit(t, te, wantType, func(ev persistence.AuditEvent) bool {
				return ev.Type == wantType && (ev.Client == "root" ||
					strings.Contains(ev.Detail, "root"))
			})
		})
	}
}

// systemConfig shortens the edit functions' signatures.
type systemConfig = system.Config
