package transport

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/whalecast/whalecast/internal/auth"
	"github.com/whalecast/whalecast/persistence"
)

func TestAPIAuthentication(t *testing.T) {
	f := newFixture(t, nil)
	read := f.token(t, "reader", auth.PermRead)
	writeOnly := f.token(t, "writer", auth.PermWrite)
	key, keyID := f.apiKey(t, "keyed", "read")
	revoked, revokedID := f.apiKey(t, "gone", "read")
	if err := f.store.RevokeAPIKey(revokedID); err != nil {
		t.Fatal(err)
	}
	unknown, _ := persistence.NewAPIKey()
	forged := read[:len(read)-4] + "AAAA"

	tests := []struct {
		name       string
		path       string
		headers    map[string]string
		want       int
		wantCode   string
		wantReason string
	}{
		{"bearer token with read", "/api/v1/alerts", bearer(read), 200, "", ""},
		{"scheme in lower case", "/api/v1/alerts",
			map[string]string{"Authorization": "bearer " + read}, 200, "", ""},
		{"api key with read", "/api/v1/stats", map[string]string{"X-API-Key": key}, 200, "", ""},
		{"no credential", "/api/v1/alerts", nil, 401, "unauthorized", "missing_credentials"},
		{"tampered signature", "/api/v1/alerts", bearer(forged), 401, "unauthorized",
			"bad_signature"},
		{"not a jwt", "/api/v1/alerts", bearer("hello"), 401, "unauthorized", "malformed"},
		{"basic scheme", "/api/v1/alerts",
			map[string]string{"Authorization": "Basic YWxpY2U6cHc="}, 401, "unauthorized",
			"malformed"},
		{"token and api key both", "/api/v1/alerts",
			map[string]string{"Authorization": "Bearer " + read, "X-API-Key": key}, 401,
			"unauthorized", "malformed"},
		{"malformed api key", "/api/v1/alerts", map[string]string{"X-API-Key": "wck_short"},
			401, "unauthorized", "malformed"},
		{"unknown api key", "/api/v1/alerts",
			map[string]string{"X-API-Key": unknown.Reveal()}, 401, "unauthorized",
			"unknown_api_key"},
		{"revoked api key", "/api/v1/alerts", map[string]string{"X-API-Key": revoked}, 401,
			"unauthorized", "revoked"},
		{"write-only token", "/api/v1/alerts", bearer(writeOnly), 403, "forbidden", ""},
		{"token in the URL", "/api/v1/alerts?token=" + read, nil, 400, "bad_request", ""},
		{"access_token in the URL", "/api/v1/stats?access_token=x", bearer(read), 400,
			"bad_request", ""},
		{"jwt-shaped value in the URL", "/api/v1/alerts?since=" + read, bearer(read), 400,
			"bad_request", ""},
		{"unknown route needs a credential", "/api/v1/nothing", nil, 401, "unauthorized",
			"missing_credentials"},
		{"unknown route with a credential", "/api/v1/nothing", bearer(read), 404,
			"not_found", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(f.audit.all())
			got := call(t, http.MethodGet, f.url+tt.path, tt.headers)
			if got.status != tt.want {
				t.Fatalf("status: got %d (%s), want %d", got.status, got.body, tt.want)
			}
			if got.err.Error != tt.wantCode || got.err.Reason != tt.wantReason {
				t.Errorf("error: got %q reason %q, want %q reason %q", got.err.Error,
					got.err.Reason, tt.wantCode, tt.wantReason)
			}
			for _, ev := range f.audit.all()[before:] {
				for _, secret := range []string{read, key, revoked, forged, "wck_"} {
					if strings.Contains(ev.Detail+ev.Reason+ev.Client+ev.KeyID, secret) {
						t.Errorf("audit event %+v holds a credential", ev)
					}
				}
			}
		})
	}

	failures := map[string]int{}
	for _, ev := range f.audit.all() {
		if ev.Type == persistence.AuditAuthFailure {
			failures[ev.Reason]++
			if ev.Remote != "127.0.0.1" {
				t.Errorf("auth failure remote: got %q, want 127.0.0.1", ev.Remote)
			}
		}
	}
	for reason, want := range map[string]int{"missing_credentials": 2, "malformed": 4,
		"bad_signature": 1, "unknown_api_key": 1, "revoked": 1, "token_in_url": 3} {
		if failures[reason] != want {
			t.Errorf("auth_failure %s events: got %d, want %d", reason, failures[reason], want)
		}
	}
	var keyedSuccess bool
	for _, ev := range f.audit.all() {
		keyedSuccess = keyedSuccess || ev.Type == persistence.AuditAuthSuccess &&
			ev.KeyID == keyID && ev.Client == "keyed"
	}
	if !keyedSuccess {
		t.Error("no auth_success event for the API key")
	}
}

func TestAPIQueryValidation(t *testing.T) {
	f := newFixture(t, nil)
	tok := f.token(t, "reader", auth.PermRead)
	tests := []struct {
		name  string
		query string
		want  int
	}{
		{"none", "", 200},
		{"since and limit", "?since=0&limit=2", 200},
		{"leading zeros", "?since=007", 200},
		{"largest since", "?since=18446744073709551615", 200},
		{"negative since", "?since=-1", 400},
		{"plus sign", "?since=%2B1", 400},
		{"exponent", "?since=1e3", 400},
		{"hex", "?since=0x10", 400},
		{"since overflows", "?since=18446744073709551616", 400},
		{"empty since", "?since=", 400},
		{"since twice", "?since=1&since=2", 400},
		{"unknown parameter", "?sort=desc", 400},
		{"limit 0", "?limit=0", 400},
		{"limit 1001", "?limit=1001", 400},
		{"limit with space", "?limit=%201", 400},
		{"sql injection", "?since=1%20OR%201%3D1", 400},
		{"sql comment", "?since=1';DROP%20TABLE%20alerts;--", 400},
		{"json injection", "?limit=%7B%22%24gt%22%3A0%7D", 400},
		{"semicolon separator", "?since=1;limit=2", 400},
		{"bad escape", "?since=%zz", 400},
		{"null byte", "?since=1%00", 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := call(t, http.MethodGet, f.url+"/api/v1/alerts"+tt.query, bearer(tok))
			if got.status != tt.want {
				t.Fatalf("status: got %d (%s), want %d", got.status, got.body, tt.want)
			}
			if tt.want == 400 && got.err.Error != "bad_request" {
				t.Errorf("error code: got %q, want bad_request", got.err.Error)
			}
		})
	}
}

func TestAPIRateLimit(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.RateLimit, c.RateWindow = 3, 30*time.Second })
	alice := f.token(t, "alice", auth.PermRead)
	alice2 := f.token(t, "alice", auth.PermRead)
	bob := f.token(t, "bob", auth.PermWrite)
	key, _ := f.apiKey(t, "alice", "read")

	steps := []struct {
		name          string
		headers       map[string]string
		advance       time.Duration
		want          int
		wantRemaining string
		wantReset     string
		wantRetry     string
	}{
		{"first call", bearer(alice), 0, 200, "2", "10", ""},
		{"second call", bearer(alice), 0, 200, "1", "20", ""},
		{"another token of the same client shares the bucket", bearer(alice2), 0, 200, "0",
			"30", ""},
		{"empty bucket", bearer(alice), 0, 429, "0", "30", "10"},
		{"an api key has its own bucket", map[string]string{"X-API-Key": key}, 0, 200, "2",
			"10", ""},
		{"refused for permission still counts", bearer(bob), 0, 403, "2", "10", ""},
		{"one token back after 10 s", bearer(alice), 10 * time.Second, 200, "0", "30", ""},
		{"full after the window", bearer(alice), time.Minute, 200, "2", "10", ""},
	}
	for _, st := range steps {
		f.clock.Advance(st.advance)
		got := call(t, http.MethodGet, f.url+"/api/v1/stats", st.headers)
		if got.status != st.want {
			t.Fatalf("%s: status got %d (%s), want %d", st.name, got.status, got.body, st.want)
		}
		h := got.header
		if h.Get("RateLimit-Limit") != "3" || h.Get("RateLimit-Remaining") != st.wantRemaining ||
			h.Get("RateLimit-Reset") != st.wantReset {
			t.Errorf("%s: RateLimit headers got limit %q remaining %q reset %q, want 3 %s %s",
				st.name, h.Get("RateLimit-Limit"), h.Get("RateLimit-Remaining"),
				h.Get("RateLimit-Reset"), st.wantRemaining, st.wantReset)
		}
		if h.Get("Retry-After") != st.wantRetry {
			t.Errorf("%s: Retry-After got %q, want %q", st.name, h.Get("Retry-After"),
				st.wantRetry)
		}
		if st.want == 429 && got.err.Error != "rate_limited" {
			t.Errorf("%s: error got %q, want rate_limited", st.name, got.err.Error)
		}
	}
}

func TestAPIBannedIP(t *testing.T) {
	f := newFixture(t, func(c *Config) {
		c.Guard = NewGuard(GuardConfig{BanAfter: 3, BanWindow: time.Minute,
			BanFor: 5 * time.Minute}, c.Clock)
	})
	good := f.token(t, "reader", auth.PermRead)
	for i := range 3 {
		got := call(t, http.MethodGet, f.url+"/api/v1/alerts", bearer("bad"))
		if got.status != 401 {
			t.Fatalf("failure %d: status got %d, want 401", i+1, got.status)
		}
	}
	got := call(t, http.MethodGet, f.url+"/api/v1/alerts", bearer(good))
	if got.status != 429 || got.err.Error != "banned" || got.header.Get("Retry-After") != "300" {
		t.Fatalf("after 3 failures: got %d %q Retry-After %q, want 429 banned 300", got.status,
			got.err.Error, got.header.Get("Retry-After"))
	}
	f.clock.Advance(5 * time.Minute)
	if got := call(t, http.MethodGet, f.url+"/api/v1/alerts", bearer(good)); got.status != 200 {
		t.Errorf("after the ban: status got %d, want 200", got.status)
	}
}

func TestAPINoAuth(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.NoAuth = true })
	tests := []struct {
		name    string
		path    string
		headers map[string]string
		want    int
	}{
		{"no credential reads", "/api/v1/alerts", nil, 200},
		{"no credential is no admin", "/api/v1/admin/keys", nil, 403},
		{"a bad credential is still refused", "/api/v1/alerts", bearer("bad"), 401},
		{"an admin token works", "/api/v1/admin/keys",
			bearer(f.token(t, "root", auth.PermAdmin)), 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := call(t, http.MethodGet, f.url+tt.path, tt.headers); got.status != tt.want {
				t.Errorf("status: got %d (%s), want %d", got.status, got.body, tt.want)
			}
		})
	}
}

func TestCeilSeconds(t *testing.T) {
	for _, tt := range []struct {
		in   time.Duration
		want int64
	}{{0, 0}, {-time.Second, 0}, {time.Nanosecond, 1}, {time.Second, 1},
		{1500 * time.Millisecond, 2}} {
		if got := ceilSeconds(tt.in); got != tt.want {
			t.Errorf("ceilSeconds(%v) = %d, want %d", tt.in, got, tt.want)
		}
	}
}
