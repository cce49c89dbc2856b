package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"testing"
	"time"

	"github.com/whalecast/whalecast/internal/clock"
)

// testStart is the fake clock's reading when a test begins; whole seconds keep iat exact.
var testStart = time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC)

// testSecret returns a fixed secret whose bytes are easy to search for in output.
func testSecret(tb testing.TB) Secret {
	tb.Helper()
	s, err := NewSecret([]byte("whalecast-test-secret-0123456789-ABCDEFGH"))
	if err != nil {
		tb.Fatalf("NewSecret: %v", err)
	}
	return s
}

// otherSecret returns a valid secret different from testSecret.
func otherSecret(tb testing.TB) Secret {
	tb.Helper()
	s, err := NewSecret([]byte("another-secret-that-is-long-enough-0123456789"))
	if err != nil {
		tb.Fatalf("NewSecret: %v", err)
	}
	return s
}

// newPair returns an Issuer and a Verifier sharing testSecret and a fake clock.
func newPair(tb testing.TB, leeway time.Duration) (*Issuer, *Verifier, *clock.Fake) {
	tb.Helper()
	clk := clock.NewFake(testStart)
	iss, err := NewIssuer(testSecret(tb), clk)
	if err != nil {
		tb.Fatalf("NewIssuer: %v", err)
	}
	ver, err := NewVerifier(testSecret(tb), clk, leeway)
	if err != nil {
		tb.Fatalf("NewVerifier: %v", err)
	}
	return iss, ver, clk
}

// goodClaims returns a claims map that Verify accepts at testStart.
func goodClaims() map[string]any {
	return map[string]any{
		"sub":   "client-1",
		"perms": []string{"read"},
		"iat":   testStart.Unix(),
		"exp":   testStart.Add(time.Hour).Unix(),
		"jti":   "0123456789abcdef0123456789abcdef",
	}
}

// hs256Header is the header the Issuer of newPair writes: testSecret is known as kid env.
func hs256Header() map[string]any {
	return map[string]any{"alg": "HS256", "typ": "JWT", "kid": EnvKeyID}
}

// segment base64url-encodes the JSON form of v without padding.
func segment(tb testing.TB, v any) string {
	tb.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		tb.Fatalf("marshal %T: %v", v, err)
	}
	return base64.RawURLEncoding.EncodeToString(data)
}

// hmacSig returns the base64url HMAC-SHA256 of signing under key.
func hmacSig(key []byte, signing string) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(signing))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// craft builds a token by hand from header and claims and signs it with HMAC-SHA256 under
// key, whatever the header says, so that tests can forge any combination.
func craft(tb testing.TB, key Secret, header, claims map[string]any) string {
	tb.Helper()
	signing := segment(tb, header) + "." + segment(tb, claims)
	return signing + "." + hmacSig(key.bytes(), signing)
}

// without returns a copy of m lacking key.
func without(m map[string]any, key string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		if k != key {
			out[k] = v
		}
	}
	return out
}

// with returns a copy of m with key set to v.
func with(m map[string]any, key string, v any) map[string]any {
	out := without(m, key)
	out[key] = v
	return out
}
