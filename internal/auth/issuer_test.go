package auth

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestIssueVerifyRoundTrip(t *testing.T) {
	tests := []struct {
		name      string
		subject   string
		perms     []Perm
		ttl       time.Duration
		advance   time.Duration
		wantPerms []Perm
	}{
		{"read only", "client-1", []Perm{PermRead}, time.Hour, 0, []Perm{PermRead}},
		{"all perms", "ops@example.org", []Perm{PermRead, PermWrite, PermAdmin},
			time.Minute, 59 * time.Second, []Perm{PermRead, PermWrite, PermAdmin}},
		{"duplicates dropped", "a", []Perm{PermAdmin, PermAdmin, PermRead}, time.Second, 0,
			[]Perm{PermAdmin, PermRead}},
		{"sub-second clock and ttl", "svc:bench_1", []Perm{PermWrite},
			1500 * time.Millisecond, 0, []Perm{PermWrite}},
		{"longest subject", strings.Repeat("s", MaxSubjectLen), []Perm{PermRead},
			time.Hour, 0, []Perm{PermRead}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			iss, ver, clk := newPair(t, 0)
			clk.Advance(300 * time.Millisecond)
			tok, issued, err := iss.Issue(tt.subject, tt.perms, tt.ttl)
			if err != nil {
				t.Fatalf("Issue: %v", err)
			}
			clk.Advance(tt.advance)
			got, err := ver.Verify(tok)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			wantIat := testStart
			wantExp := testStart.Add(tt.ttl).Truncate(time.Second)
			if got.Subject != tt.subject || !slices.Equal(got.Perms, tt.wantPerms) ||
				!got.IssuedAt.Equal(wantIat) || !got.ExpiresAt.Equal(wantExp) {
				t.Errorf("Verify = %+v, want sub %q perms %v iat %v exp %v", got,
					tt.subject, tt.wantPerms, wantIat, wantExp)
			}
			if !sameClaims(got, issued) {
				t.Errorf("Verify = %+v, want Issue's %+v", got, issued)
			}
			for _, p := range tt.wantPerms {
				if !got.Has(p) {
					t.Errorf("Has(%q) = false, want true", p)
				}
			}
		})
	}
}

// sameClaims reports whether a and b say the same thing.
func sameClaims(a, b Claims) bool {
	return a.Subject == b.Subject && slices.Equal(a.Perms, b.Perms) && a.ID == b.ID &&
		a.IssuedAt.Equal(b.IssuedAt) && a.ExpiresAt.Equal(b.ExpiresAt)
}

func TestIssueWireFormat(t *testing.T) {
	iss, _, _ := newPair(t, 0)
	tok, c, err := iss.Issue("client-1", []Perm{PermRead, PermAdmin}, time.Hour)
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d segments, want 3", len(parts))
	}
	var hdr map[string]any
	decodeSegment(t, parts[0], &hdr)
	if hdr["alg"] != "HS256" {
		t.Errorf("header alg = %v, want HS256", hdr["alg"])
	}
	if sig := hmacSig(testSecret(t).bytes(), parts[0]+"."+parts[1]); sig != parts[2] {
		t.Errorf("signature = %s, want HMAC-SHA256 %s", parts[2], sig)
	}

	var payload map[string]json.RawMessage
	decodeSegment(t, parts[1], &payload)
	want := map[string]string{
		"sub":   `"client-1"`,
		"perms": `["read","admin"]`,
		"iat":   "1741964966",
		"exp":   "1741968566",
		"jti":   `"` + c.ID + `"`,
	}
	for k, v := range want {
		if got := string(payload[k]); got != v {
			t.Errorf("claim %s = %s, want %s", k, got, v)
		}
	}
	if len(payload) != len(want) {
		t.Errorf("payload has %d claims, want %d: %s", len(payload), len(want), parts[1])
	}
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(c.ID) {
		t.Errorf("jti = %q, want 32 lowercase hex digits", c.ID)
	}
	_, c2, err := iss.Issue("client-1", []Perm{PermRead}, time.Hour)
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	if c2.ID == c.ID {
		t.Errorf("two tokens share jti %s", c.ID)
	}
}

// decodeSegment base64url-decodes seg and unmarshals its JSON into v.
func decodeSegment(tb testing.TB, seg string, v any) {
	tb.Helper()
	data, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		tb.Fatalf("decode segment %q: %v", seg, err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		tb.Fatalf("unmarshal segment %s: %v", data, err)
	}
}

func TestIssueRejects(t *testing.T) {
	tests := []struct {
		name    string
		subject string
		perms   []Perm
		ttl     time.Duration
		want    error
	}{
		{"empty subject", "", []Perm{PermRead}, time.Hour, ErrInvalidSubject},
		{"subject too long", strings.Repeat("s", MaxSubjectLen+1), []Perm{PermRead},
			time.Hour, ErrInvalidSubject},
		{"subject with a space", "client 1", []Perm{PermRead}, time.Hour,
			ErrInvalidSubject},
		{"subject with a newline", "client\n1", []Perm{PermRead}, time.Hour,
			ErrInvalidSubject},
		{"subject not ascii", "clïent", []Perm{PermRead}, time.Hour, ErrInvalidSubject},
		{"nil perms", "client-1", nil, time.Hour, ErrNoPerms},
		{"empty perms", "client-1", []Perm{}, time.Hour, ErrNoPerms},
		{"unknown perm", "client-1", []Perm{PermRead, "root"}, time.Hour, ErrUnknownPerm},
		{"zero ttl", "client-1", []Perm{PermRead}, 0, ErrInvalidTTL},
		{"negative ttl", "client-1", []Perm{PermRead}, -time.Hour, ErrInvalidTTL},
		{"sub-second ttl", "client-1", []Perm{PermRead}, time.Second - 1, ErrInvalidTTL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			iss, _, _ := newPair(t, 0)
			tok, c, err := iss.Issue(tt.subject, tt.perms, tt.ttl)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Issue error = %v, want %v", err, tt.want)
			}
			if tok != "" || c.ID != "" {
				t.Errorf("Issue = %q, %+v with an error, want zero", tok, c)
			}
		})
	}
}

func TestNewIssuerRejectsWeakSecret(t *testing.T) {
	iss, err := NewIssuer(Secret{}, nil)
	if !errors.Is(err, ErrWeakSecret) || iss != nil {
		t.Fatalf("NewIssuer(zero) = %v, %v, want nil, ErrWeakSecret", iss, err)
	}
}
