package auth

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// wantRejected fails tb unless err is an *AuthError with the given reason and claim, whose
// message holds neither the token nor any long piece of it, and c is zero.
func wantRejected(tb testing.TB, token string, c Claims, err error, reason Reason, claim string) {
	tb.Helper()
	var aerr *AuthError
	if !errors.As(err, &aerr) {
		tb.Fatalf("Verify error = %v (%T), want *AuthError", err, err)
	}
	if aerr.Reason != reason || aerr.Claim != claim {
		tb.Errorf("Verify reason, claim = %q, %q, want %q, %q", aerr.Reason, aerr.Claim,
			reason, claim)
	}
	if !errors.Is(err, ErrInvalidToken) {
		tb.Errorf("errors.Is(%v, ErrInvalidToken) = false, want true", err)
	}
	msg := err.Error()
	for _, part := range append(strings.Split(token, "."), token) {
		if len(part) >= 8 && strings.Contains(msg, part) {
			tb.Errorf("error message %q contains part of the token %q", msg, part)
		}
	}
	if c.Subject != "" || c.ID != "" || c.Perms != nil || !c.IssuedAt.IsZero() ||
		!c.ExpiresAt.IsZero() {
		tb.Errorf("Verify returned claims %+v with an error, want zero", c)
	}
}

// replaceSegment returns token with segment i (0 header, 1 claims, 2 signature) set to seg.
func replaceSegment(token string, i int, seg string) string {
	parts := strings.Split(token, ".")
	parts[i] = seg
	return strings.Join(parts, ".")
}

// flipFirst changes the first character of segment i to a different base64url character.
func flipFirst(token string, i int) string {
	parts := strings.Split(token, ".")
	seg := parts[i]
	repl := "A"
	if seg[0] == 'A' {
		repl = "B"
	}
	parts[i] = repl + seg[1:]
	return strings.Join(parts, ".")
}

func TestVerifyRejects(t *testing.T) {
	s := testSecret(t)
	good := goodClaims()
	issued := func(tb testing.TB) string {
		tb.Helper()
		iss, _, _ := newPair(tb, 0)
		tok, _, err := iss.Issue("client-1", []Perm{PermRead}, time.Hour)
		if err != nil {
			tb.Fatalf("Issue: %v", err)
		}
		return tok
	}
	// signWith signs good with m and key, under the kid of testSecret.
	signWith := func(tb testing.TB, m jwt.SigningMethod, key any) string {
		tb.Helper()
		unsigned := jwt.NewWithClaims(m, jwt.MapClaims(good))
		unsigned.Header["kid"] = EnvKeyID
		tok, err := unsigned.SignedString(key)
		if err != nil {
			tb.Fatalf("sign %s: %v", m.Alg(), err)
		}
		return tok
	}
	tests := []struct {
		name   string
		token  func(tb testing.TB) string
		reason Reason
		claim  string
	}{
		{"alg none unsigned", func(tb testing.TB) string {
			hdr := segment(tb, map[string]any{"alg": "none"})
			return hdr + "." + segment(tb, good) + "."
		}, ReasonBadAlgorithm, ""},
		{"alg none from jwt library", func(tb testing.TB) string {
			none := jwt.UnsafeAllowNoneSignatureType
			return signWith(tb, jwt.SigningMethodNone, none)
		}, ReasonBadAlgorithm, ""},
		{"alg none with hmac signature", func(tb testing.TB) string {
			return craft(tb, s, map[string]any{"alg": "none"}, good)
		}, ReasonBadAlgorithm, ""},
		{"alg None capitalised", func(tb testing.TB) string {
			return craft(tb, s, map[string]any{"alg": "None"}, good)
		}, ReasonBadAlgorithm, ""},
		{"alg hs256 lower case", func(tb testing.TB) string {
			return craft(tb, s, map[string]any{"alg": "hs256"}, good)
		}, ReasonBadAlgorithm, ""},
		{"alg missing", func(tb testing.TB) string {
			return craft(tb, s, map[string]any{"typ": "JWT"}, good)
		}, ReasonBadAlgorithm, ""},
		{"alg not a string", func(tb testing.TB) string {
			return craft(tb, s, map[string]any{"alg": 256}, good)
		}, ReasonBadAlgorithm, ""},
		{"HS384 with the right secret", func(tb testing.TB) string {
			return signWith(tb, jwt.SigningMethodHS384, s.bytes())
		}, ReasonBadAlgorithm, ""},
		{"HS512 with the right secret", func(tb testing.TB) string {
			return signWith(tb, jwt.SigningMethodHS512, s.bytes())
		}, ReasonBadAlgorithm, ""},
		{"RS256 header over an HS256 signature", func(tb testing.TB) string {
			return craft(tb, s, map[string]any{"alg": "RS256", "typ": "JWT"}, good)
		}, ReasonBadAlgorithm, ""},
		{"PS256 header over an HS256 signature", func(tb testing.TB) string {
			return craft(tb, s, map[string]any{"alg": "PS256", "typ": "JWT"}, good)
		}, ReasonBadAlgorithm, ""},
		{"ES256 with a real signature", func(tb testing.TB) string {
			key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			if err != nil {
				tb.Fatalf("GenerateKey: %v", err)
			}
			return signWith(tb, jwt.SigningMethodES256, key)
		}, ReasonBadAlgorithm, ""},
		{"EdDSA with a real signature under an HS256 kid", func(tb testing.TB) string {
			_, key, err := ed25519.GenerateKey(rand.Reader)
			if err != nil {
				tb.Fatalf("GenerateKey: %v", err)
			}
			return signWith(tb, jwt.SigningMethodEdDSA, key)
		}, ReasonBadAlgorithm, ""},
		{"tampered payload", func(tb testing.TB) string {
			forged := with(good, "perms", []string{"read", "write", "admin"})
			return replaceSegment(issued(tb), 1, segment(tb, forged))
		}, ReasonBadSignature, ""},
		{"tampered header", func(tb testing.TB) string {
			hdr := with(hs256Header(), "typ", "JOSE")
			return replaceSegment(issued(tb), 0, segment(tb, hdr))
		}, ReasonBadSignature, ""},
		{"kid swapped for an unknown one", func(tb testing.TB) string {
			hdr := with(hs256Header(), "kid", "other")
			return replaceSegment(issued(tb), 0, segment(tb, hdr))
		}, ReasonUnknownKey, ""},
		{"kid missing", func(tb testing.TB) string {
			return craft(tb, s, without(hs256Header(), "kid"), good)
		}, ReasonUnknownKey, ""},
		{"kid not a string", func(tb testing.TB) string {
			return craft(tb, s, with(hs256Header(), "kid", 7), good)
		}, ReasonUnknownKey, ""},
		{"kid empty", func(tb testing.TB) string {
			return craft(tb, s, with(hs256Header(), "kid", ""), good)
		}, ReasonUnknownKey, ""},
		{"tampered signature", func(tb testing.TB) string {
			return flipFirst(issued(tb), 2)
		}, ReasonBadSignature, ""},
		{"truncated signature", func(tb testing.TB) string {
			tok := issued(tb)
			return tok[:len(tok)-3] // 40 characters: still valid base64
		}, ReasonBadSignature, ""},
		{"empty signature", func(tb testing.TB) string {
			return replaceSegment(issued(tb), 2, "")
		}, ReasonBadSignature, ""},
		{"wrong secret", func(tb testing.TB) string {
			return craft(tb, otherSecret(tb), hs256Header(), good)
		}, ReasonBadSignature, ""},
		{"crit header", func(tb testing.TB) string {
			return craft(tb, s, with(hs256Header(), "crit", []string{"exp"}), good)
		}, ReasonMalformed, ""},
		{"padded signature", func(tb testing.TB) string { return issued(tb) + "=" },
			ReasonMalformed, ""},
		{"bearer prefix", func(tb testing.TB) string { return "Bearer " + issued(tb) },
			ReasonMalformed, ""},
		{"trailing newline", func(tb testing.TB) string { return issued(tb) + "\n" },
			ReasonMalformed, ""},
		{"newline inside the signature", func(tb testing.TB) string {
			tok := issued(tb)
			return tok[:len(tok)-5] + "\r\n" + tok[len(tok)-5:]
		}, ReasonMalformed, ""},
		{"missing exp", func(tb testing.TB) string {
			return craft(tb, s, hs256Header(), without(good, "exp"))
		}, ReasonMissingClaim, "exp"},
		{"missing iat", func(tb testing.TB) string {
			return craft(tb, s, hs256Header(), without(good, "iat"))
		}, ReasonMissingClaim, "iat"},
		{"missing sub", func(tb testing.TB) string {
			return craft(tb, s, hs256Header(), without(good, "sub"))
		}, ReasonMissingClaim, "sub"},
		{"missing jti", func(tb testing.TB) string {
			return craft(tb, s, hs256Header(), without(good, "jti"))
		}, ReasonMissingClaim, "jti"},
		{"missing perms", func(tb testing.TB) string {
			return craft(tb, s, hs256Header(), without(good, "perms"))
		}, ReasonMissingClaim, "perms"},
		{"null perms", func(tb testing.TB) string {
			return craft(tb, s, hs256Header(), with(good, "perms", nil))
		}, ReasonMissingClaim, "perms"},
		{"empty sub", func(tb testing.TB) string {
			return craft(tb, s, hs256Header(), with(good, "sub", ""))
		}, ReasonMissingClaim, "sub"},
		{"missing exp while expired", func(tb testing.TB) string {
			old := with(good, "iat", testStart.Add(-2*time.Hour).Unix())
			return craft(tb, s, hs256Header(), without(old, "exp"))
		}, ReasonMissingClaim, "exp"},
		{"empty perms", func(tb testing.TB) string {
			return craft(tb, s, hs256Header(), with(good, "perms", []string{}))
		}, ReasonBadClaim, "perms"},
		{"unknown perm", func(tb testing.TB) string {
			perms := []string{"read", "root"}
			return craft(tb, s, hs256Header(), with(good, "perms", perms))
		}, ReasonBadClaim, "perms"},
		{"perm in upper case", func(tb testing.TB) string {
			return craft(tb, s, hs256Header(), with(good, "perms", []string{"READ"}))
		}, ReasonBadClaim, "perms"},
		{"perms not an array", func(tb testing.TB) string {
			return craft(tb, s, hs256Header(), with(good, "perms", "read"))
		}, ReasonMalformed, ""},
		{"sub with a space", func(tb testing.TB) string {
			return craft(tb, s, hs256Header(), with(good, "sub", "client 1"))
		}, ReasonBadClaim, "sub"},
		{"sub too long", func(tb testing.TB) string {
			sub := strings.Repeat("a", MaxSubjectLen+1)
			return craft(tb, s, hs256Header(), with(good, "sub", sub))
		}, ReasonBadClaim, "sub"},
		{"jti with a slash", func(tb testing.TB) string {
			return craft(tb, s, hs256Header(), with(good, "jti", "../etc"))
		}, ReasonBadClaim, "jti"},
		{"exp equal to iat", func(tb testing.TB) string {
			return craft(tb, s, hs256Header(), with(good, "exp", testStart.Unix()))
		}, ReasonBadClaim, "exp"},
		{"exp a string", func(tb testing.TB) string {
			return craft(tb, s, hs256Header(), with(good, "exp", "tomorrow"))
		}, ReasonMalformed, ""},
		{"expired", func(tb testing.TB) string {
			old := with(good, "iat", testStart.Add(-2*time.Hour).Unix())
			return craft(tb, s, hs256Header(), with(old, "exp", testStart.Unix()))
		}, ReasonExpired, "exp"},
		{"issued in the future", func(tb testing.TB) string {
			return craft(tb, s, hs256Header(), with(good, "iat", testStart.Unix()+10))
		}, ReasonNotYetValid, "iat"},
		{"nbf in the future", func(tb testing.TB) string {
			return craft(tb, s, hs256Header(), with(good, "nbf", testStart.Unix()+10))
		}, ReasonNotYetValid, "nbf"},
		{"oversized garbage", func(tb testing.TB) string {
			return strings.Repeat("a", MaxTokenLen+1)
		}, ReasonMalformed, ""},
		{"oversized but well signed", func(tb testing.TB) string {
			return paddedToken(tb, MaxTokenLen+1)
		}, ReasonMalformed, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, ver, _ := newPair(t, 0)
			tok := tt.token(t)
			c, err := ver.Verify(tok)
			wantRejected(t, tok, c, err, tt.reason, tt.claim)
		})
	}
}

func TestVerifyGarbage(t *testing.T) {
	tests := []struct {
		name  string
		token string
	}{
		{"empty", ""},
		{"one dot", "."},
		{"two dots", ".."},
		{"three dots", "..."},
		{"two segments", "eyJhbGciOiJIUzI1NiJ9.e30"},
		{"four segments", "a.b.c.d"},
		{"letters", "a.b.c"},
		{"not base64", "!!!.???.***"},
		{"base64 of non-json", "bm90IGpzb24.bm90IGpzb24.c2ln"},
		{"json array header", "WzFd.e30.c2ln"},
		{"spaces", "   "},
		{"unicode", "ключ.значение.подпись"},
		{"nul bytes", "\x00.\x00.\x00"},
		{"just a word", "token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, ver, _ := newPair(t, 0)
			c, err := ver.Verify(tt.token)
			wantRejected(t, tt.token, c, err, ReasonMalformed, "")
		})
	}
}

func TestVerifyExpiryBoundary(t *testing.T) {
	const ttl = time.Minute
	tests := []struct {
		name    string
		leeway  time.Duration
		advance time.Duration
		expired bool
	}{
		{"no leeway just before exp", 0, ttl - time.Nanosecond, false},
		{"no leeway at exp", 0, ttl, true},
		{"5s leeway at exp", 5 * time.Second, ttl, false},
		{"5s leeway just before exp plus leeway", 5 * time.Second,
			ttl + 5*time.Second - time.Nanosecond, false},
		{"5s leeway at exp plus leeway", 5 * time.Second, ttl + 5*time.Second, true},
		{"max leeway at exp plus leeway", MaxLeeway, ttl + MaxLeeway, true},
		{"max leeway just before", MaxLeeway, ttl + MaxLeeway - time.Nanosecond, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			iss, ver, clk := newPair(t, tt.leeway)
			tok, _, err := iss.Issue("client-1", []Perm{PermRead}, ttl)
			if err != nil {
				t.Fatalf("Issue: %v", err)
			}
			clk.Advance(tt.advance)
			c, err := ver.Verify(tok)
			if tt.expired {
				wantRejected(t, tok, c, err, ReasonExpired, "exp")
			} else if err != nil {
				t.Fatalf("Verify after %v: %v, want success", tt.advance, err)
			}
		})
	}
}

func TestVerifyNotYetValidBoundary(t *testing.T) {
	tests := []struct {
		name   string
		leeway time.Duration
		claim  string
		ahead  time.Duration
		early  bool
	}{
		{"iat now", 0, "iat", 0, false},
		{"iat 1s ahead without leeway", 0, "iat", time.Second, true},
		{"iat at the leeway", 5 * time.Second, "iat", 5 * time.Second, false},
		{"iat past the leeway", 5 * time.Second, "iat", 6 * time.Second, true},
		{"nbf now", 0, "nbf", 0, false},
		{"nbf 1s ahead without leeway", 0, "nbf", time.Second, true},
		{"nbf at the leeway", 5 * time.Second, "nbf", 5 * time.Second, false},
		{"nbf past the leeway", 5 * time.Second, "nbf", 6 * time.Second, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, ver, _ := newPair(t, tt.leeway)
			claims := with(goodClaims(), tt.claim, testStart.Add(tt.ahead).Unix())
			tok := craft(t, testSecret(t), hs256Header(), claims)
			c, err := ver.Verify(tok)
			if tt.early {
				wantRejected(t, tok, c, err, ReasonNotYetValid, tt.claim)
			} else if err != nil {
				t.Fatalf("Verify: %v, want success", err)
			}
		})
	}
}

// paddedToken returns a token signed with testSecret, valid at testStart, exactly n bytes
// long, padded with an extra claim and header field.
func paddedToken(tb testing.TB, n int) string {
	tb.Helper()
	for hpad := 0; hpad < 4; hpad++ {
		hdr := with(hs256Header(), "pad", strings.Repeat("k", hpad))
		for pad := 0; pad < n; pad++ {
			claims := with(goodClaims(), "pad", strings.Repeat("p", pad))
			tok := craft(tb, testSecret(tb), hdr, claims)
			if len(tok) == n {
				return tok
			}
			if len(tok) > n {
				break
			}
		}
	}
	tb.Fatalf("no padding gives a %d-byte token", n)
	return ""
}

func TestVerifyMaxLenAccepted(t *testing.T) {
	_, ver, _ := newPair(t, 0)
	tok := paddedToken(t, MaxTokenLen)
	if _, err := ver.Verify(tok); err != nil {
		t.Fatalf("Verify of a %d-byte token: %v, want success", len(tok), err)
	}
}

func TestNewVerifierRejects(t *testing.T) {
	tests := []struct {
		name   string
		secret Secret
		leeway time.Duration
		want   error
	}{
		{"zero secret", Secret{}, 0, ErrWeakSecret},
		{"negative leeway", testSecret(t), -time.Nanosecond, ErrInvalidLeeway},
		{"leeway over max", testSecret(t), MaxLeeway + time.Nanosecond, ErrInvalidLeeway},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := NewVerifier(tt.secret, nil, tt.leeway)
			if !errors.Is(err, tt.want) || v != nil {
				t.Fatalf("NewVerifier = %v, %v, want nil, %v", v, err, tt.want)
			}
		})
	}
}
