package transport

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/whalecast/whalecast/internal/clock"
)

func TestURLCredential(t *testing.T) {
	tests := []struct {
		name  string
		query string
		want  bool
	}{
		{"empty", "", false},
		{"since only", "since=5", false},
		{"token", "token=abc", true},
		{"access_token", "since=1&access_token=abc", true},
		{"jwt in upper case", "JWT=abc", true},
		{"api_key", "api_key=abc", true},
		{"escaped name", "%74oken=abc", true},
		{"jwt-shaped value", "q=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln", true},
		{"api key value", "q=wck_abcdef", true},
		{"broken query hiding a token", "%zz&token=abc", true},
		{"plain words", "sort=desc&page=2", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := urlCredential(tt.query); got != tt.want {
				t.Errorf("urlCredential(%q) = %v, want %v", tt.query, got, tt.want)
			}
		})
	}
}

func TestParseUintParam(t *testing.T) {
	tests := []struct {
		in     string
		want   uint64
		wantOK bool
	}{
		{"", 7, true}, {"0", 0, true}, {"42", 42, true}, {"0042", 42, true},
		{"18446744073709551615", 1<<64 - 1, true}, {"18446744073709551616", 0, false},
		{"-1", 0, false}, {"+1", 0, false}, {" 1", 0, false}, {"1 ", 0, false},
		{"1_000", 0, false}, {"0x1", 0, false}, {"1e3", 0, false}, {"١", 0, false},
		{"000000000000000000001", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, ok := parseUintParam(tt.in, 7)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("parseUintParam(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want,
					tt.wantOK)
			}
		})
	}
}

func TestRequestCredential(t *testing.T) {
	tests := []struct {
		name     string
		headers  [][2]string
		wantKind credentialKind
		wantVal  string
		wantErr  bool
	}{
		{"none", nil, credNone, "", false},
		{"bearer", [][2]string{{"Authorization", "Bearer abc"}}, credBearer, "abc", false},
		{"bearer with spaces", [][2]string{{"Authorization", "  BEARER   abc  "}}, credBearer,
			"abc", false},
		{"api key", [][2]string{{"X-API-Key", "wck_x"}}, credAPIKey, "wck_x", false},
		{"empty bearer", [][2]string{{"Authorization", "Bearer "}}, credNone, "", true},
		{"basic", [][2]string{{"Authorization", "Basic abc"}}, credNone, "", true},
		{"scheme only", [][2]string{{"Authorization", "Bearer"}}, credNone, "", true},
		{"two authorization lines", [][2]string{{"Authorization", "Bearer a"},
			{"Authorization", "Bearer b"}}, credNone, "", true},
		{"token and key", [][2]string{{"Authorization", "Bearer a"}, {"X-API-Key", "b"}},
			credNone, "", true},
		{"empty api key", [][2]string{{"X-API-Key", " "}}, credNone, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			for _, kv := range tt.headers {
				h.Add(kv[0], kv[1])
			}
			got, err := requestCredential(h)
			if (err != nil) != tt.wantErr || got.kind != tt.wantKind || got.value != tt.wantVal {
				t.Errorf("got %v %q err %v, want %v %q err %v", got.kind, got.value, err,
					tt.wantKind, tt.wantVal, tt.wantErr)
			}
		})
	}
}

func TestRevokeRequestCheck(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		req       RevokeRequest
		wantKind  string
		wantValue string
	}{
		{"jti", RevokeRequest{JTI: "abc"}, "jti", "abc"},
		{"jti with expiry", RevokeRequest{JTI: "abc", ExpiresAt: now.Add(time.Hour)}, "jti",
			"abc"},
		{"client", RevokeRequest{Client: "alice@example"}, "client", "alice@example"},
		{"both", RevokeRequest{JTI: "a", Client: "b"}, "", ""},
		{"neither", RevokeRequest{}, "", ""},
		{"expired", RevokeRequest{JTI: "a", ExpiresAt: now}, "", ""},
		{"client with expiry", RevokeRequest{Client: "b", ExpiresAt: now.Add(time.Hour)}, "",
			""},
		{"jti with a slash", RevokeRequest{JTI: "a/b"}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kind, value, err := tt.req.Check(now)
			if kind != tt.wantKind || value != tt.wantValue {
				t.Errorf("Check = %q %q, want %q %q", kind, value, tt.wantKind, tt.wantValue)
			}
			if (err != nil) != (tt.wantKind == "") {
				t.Errorf("Check error: got %v", err)
			}
			if err != nil && !errors.Is(err, ErrInvalidRequest) {
				t.Errorf("Check error %v does not wrap ErrInvalidRequest", err)
			}
		})
	}
}

func TestLimiterTableBounded(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC))
	lt, err := newLimiterTable(2, time.Minute, clk, 10)
	if err != nil {
		t.Fatal(err)
	}
	busy := "client:busy"
	lt.take(busy, "t1")
	for i := range 100 {
		clk.Advance(time.Millisecond)
		lt.take("client:c"+strconv.Itoa(i), "t")
	}
	if n := lt.size(); n > 10 {
		t.Errorf("buckets held: got %d, want at most 10", n)
	}

	res := lt.take(busy, "t1")
	if !res.audit {
		t.Error("a credential evicted and seen again: want a new auth_success")
	}
	res = lt.take(busy, "t1")
	if res.audit {
		t.Error("second call of the same token: want no auth_success")
	}
	if res = lt.take(busy, "t2"); !res.audit {
		t.Error("a new token of the same client: want an auth_success")
	}
	clk.Advance(SuccessAuditEvery)
	if res = lt.take(busy, "t2"); !res.audit {
		t.Error("an hour later: want an auth_success")
	}
}

func TestLimiterTableRefusesBadLimits(t *testing.T) {
	for _, tt := range []struct {
		limit  int
		window time.Duration
	}{{0, time.Minute}, {-1, time.Minute}, {10, 0}} {
		if _, err := newLimiterTable(tt.limit, tt.window, clock.Real{}, 10); err == nil {
			t.Errorf("newLimiterTable(%d, %v): got no error", tt.limit, tt.window)
		}
	}
}

// FuzzQuery checks the query parsers on arbitrary input: no panic, only allowed names
// accepted, since only as decimal digits, and never a credential let through.
func FuzzQuery(f *testing.F) {
	for _, seed := range []string{"", "since=1&limit=2", "since=-1", "token=x", "%zz",
		"since=1;limit=2", "since=18446744073709551616", "q=eyJ.a.b", "since=1%00",
		"limit=%7B%22%24gt%22%3A0%7D", "since=1&since=2", "SINCE=1"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := parseQuery(raw, "since", "limit")
		if err != nil {
			return
		}
		for name := range q {
			if name != "since" && name != "limit" {
				t.Fatalf("parseQuery(%q) accepted %q", raw, name)
			}
		}
		if n, ok := parseUintParam(q["since"], 0); ok && q["since"] != "" {
			for _, c := range q["since"] {
				if c < '0' || c > '9' {
					t.Fatalf("since %q parsed as %d", q["since"], n)
				}
			}
		}
		if urlCredential(raw) {
			return
		}
		for _, v := range q {
			if looksSecret(v) {
				t.Fatalf("value %q looks like a credential but urlCredential(%q) is false", v,
					raw)
			}
		}
	})
}

func TestThrottledErrorLog(t *testing.T) {
	var buf strings.Builder
	clk := clock.NewFake(time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC))
	l := newErrorLog(slog.New(slog.NewTextHandler(&buf, nil)), clk)
	for range 5 {
		l.Print("http: TLS handshake error from 192.0.2.1:5000: EOF")
	}
	clk.Advance(errorLogEvery)
	l.Print("http: TLS handshake error from 192.0.2.1:5001: EOF")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("lines: got %d, want 2:\n%s", len(lines), buf.String())
	}
	if !strings.Contains(lines[1], "dropped=4") {
		t.Errorf("second line: got %q, want dropped=4", lines[1])
	}
}
