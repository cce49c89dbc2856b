package persistence

import (
	"encoding/base64"
	"strings"
	"testing"
)

// b64 encodes s as unpadded base64url, as JWT segments are.
func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

var (
	hs256Header = b64(`{"alg":"HS256","typ":"JWT"}`)
	claims      = b64(`{"sub":"desk-7","exp":1713575367,"jti":"9f2b61c4a0d84e1f"}`)
	signature   = b64(strings.Repeat("\x9c", 32))
	sampleJWT   = hs256Header + "." + claims + "." + signature
)

func TestLooksSecret(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want bool
	}{
		{"empty", "", false},
		{"reason code", "bad_signature", false},
		{"sentence", "token expired 12s ago, refresh window missed", false},
		{"host name", "api.whalecast.example.com", false},
		{"url", "https://evil.example.com/ws?x=1.2.3", false},
		{"version", "v1.26.8", false},
		{"ipv4", "203.0.113.7", false},
		{"hex jti", "9f2b61c4a0d84e1fb7c35a1e6d0c2b44", false},
		{"long base64 without dots", strings.Repeat("eyJh", 30), false},
		{"header alone with a dot", hs256Header + ".", false},
		{"json text", `{"alg":"HS256"}.{"sub":"x"}`, false},
		{"empty json object segment", b64(`{}`) + "." + claims, false},
		{"word wck without underscore", "wck-1 and wckx", false},

		{"jwt", sampleJWT, true},
		{"jwt in a sentence", "got " + sampleJWT + " from 203.0.113.7", true},
		{"jwt after a dotted prefix", "a.b." + sampleJWT, true},
		{"jwt in quotes", `"token":"` + sampleJWT + `"`, true},
		{"alg none", b64(`{"alg":"none"}`) + "." + claims + ".", true},
		{"payload and signature", claims + "." + signature, true},
		{"header and payload", hs256Header + "." + claims, true},
		{"detached payload", hs256Header + ".." + signature, true},
		{"jwe without a key", b64(`{"alg":"dir","enc":"A256GCM"}`) + "..iv.ct.tag", true},
		{"jwe with a key segment", b64(`{"alg":"RSA-OAEP"}`) + ".key.iv.ct.tag", true},
		{"spaced header", b64(" {\t\"alg\":\"HS256\"}") + "." + claims + "." + signature, true},
		{"long header cut at 64", b64(`{"alg":"HS256","kid":"`+strings.Repeat("k", 90)+`"}`) +
			"." + claims, true},
		{"api key", APIKeyPrefix + strings.Repeat("A", 43), true},
		{"api key prefix alone", "wck_", true},
		{"api key upper case", "WCK_ABC", true},
		{"api key mixed case", "wCk_abc", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := looksSecret(c.in); got != c.want {
				t.Errorf("looksSecret(%q) = %v, want %v", c.in, got, c.want)
			}
		})
	}
}

func TestRedactText(t *testing.T) {
	cases := []struct {
		name, in, want string
		max            int
	}{
		{"clean", "bad_signature", "bad_signature", 256},
		{"secret", "tok " + sampleJWT, "[redacted]", 256},
		{"line break", "a\r\nb", "a??b", 256},
		{"invalid utf-8", "a\xff\xfeb", "a?b", 256},
		{"format character", "a\u200bb", "a?b", 256},
		{"cut on a rune boundary", "ab€", "ab", 4},
		{"cut exactly", "abcd€", "abcd", 4},
		{"short enough", "ab€", "ab€", 5},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := redactText(c.in, c.max); got != c.want {
				t.Errorf("redactText(%q, %d) = %q, want %q", c.in, c.max, got, c.want)
			}
		})
	}
}

// FuzzAuditGuard feeds arbitrary field values to the audit guard: CheckAuditEvent must not
// panic or quote a field in its error, and RedactAuditEvent must always make an event
// that CheckAuditEvent accepts, and be idempotent.
func FuzzAuditGuard(f *testing.F) {
	seeds := [][3]string{
		{"desk-7", "bad_signature", "token expired"},
		{"", "", ""},
		{sampleJWT, "203.0.113.7", "Bearer " + sampleJWT},
		{b64(`{"alg":"none"}`) + "." + claims + ".", "::1", "wck_" + strings.Repeat("Z", 43)},
		{"api.example.com", "example.com", "1.2.3.4:80"},
		{"a\nb\x00c\xff", "\u202e", strings.Repeat("€", 200)},
		{claims + "." + signature, "2001:db8::1%eth0", `{"token":"` + sampleJWT + `"}`},
	}
	for _, s := range seeds {
		f.Add(s[0], s[1], s[2])
	}

	f.Fuzz(func(t *testing.T, client, remote, detail string) {
		e := AuditEvent{Type: AuditAuthFailure, Client: client, Remote: remote,
			Reason: detail, KeyID: client, TokenID: remote, Detail: detail}
		if err := CheckAuditEvent(e); err != nil {
			for _, v := range []string{client, remote, detail} {
				if len(v) >= 24 && strings.Contains(err.Error(), v) {
					t.Fatalf("CheckAuditEvent error quotes a field: %v", err)
				}
			}
		}

		r := RedactAuditEvent(e)
		if err := CheckAuditEvent(r); err != nil {
			t.Fatalf("CheckAuditEvent(RedactAuditEvent(e)) = %v\nevent %+v", err, r)
		}
		if again := RedactAuditEvent(r); again != r {
			t.Fatalf("RedactAuditEvent is not idempotent: %+v, then %+v", r, again)
		}
	})
}
