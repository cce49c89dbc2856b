package auth

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// knownReasons are the codes Verify may return.
var knownReasons = map[Reason]bool{
	ReasonMalformed: true, ReasonBadAlgorithm: true, ReasonBadSignature: true,
	ReasonExpired: true, ReasonNotYetValid: true, ReasonMissingClaim: true,
	ReasonBadClaim: true,
}

func FuzzVerify(f *testing.F) {
	iss, ver, _ := newPair(f, 0)
	s := testSecret(f)
	good, _, err := iss.Issue("client-1", []Perm{PermRead, PermAdmin}, time.Hour)
	if err != nil {
		f.Fatalf("Issue: %v", err)
	}
	hs384, err := jwt.NewWithClaims(jwt.SigningMethodHS384, jwt.MapClaims(goodClaims())).
		SignedString(s.bytes())
	if err != nil {
		f.Fatalf("sign HS384: %v", err)
	}
	seeds := []string{
		good,
		craft(f, s, hs256Header(), goodClaims()),
		segment(f, map[string]any{"alg": "none"}) + "." + segment(f, goodClaims()) + ".",
		craft(f, s, map[string]any{"alg": "RS256"}, goodClaims()),
		hs384,
		replaceSegment(good, 1, segment(f, with(goodClaims(), "sub", "intruder"))),
		flipFirst(good, 2),
		craft(f, otherSecret(f), hs256Header(), goodClaims()),
		craft(f, s, hs256Header(), without(goodClaims(), "jti")),
		craft(f, s, hs256Header(), with(goodClaims(), "perms", []string{})),
		craft(f, s, hs256Header(), with(goodClaims(), "exp", 1.5e300)),
		"", ".", "..", "a.b.c", "e30.e30.", good + "\n",
		strings.Repeat("A", MaxTokenLen+1),
	}
	for _, seed := range seeds {
		f.Add(seed)
	}

	f.Fuzz(func(t *testing.T, token string) {
		c, err := ver.Verify(token)
		if err != nil {
			var aerr *AuthError
			if !errors.As(err, &aerr) || !knownReasons[aerr.Reason] {
				t.Fatalf("Verify error %v (%T), want *AuthError, known reason",
					err, err)
			}
			if len(token) >= 8 && strings.Contains(err.Error(), token) {
				t.Fatalf("error message contains the token")
			}
			if c.Subject != "" || c.Perms != nil || c.ID != "" {
				t.Fatalf("Verify returned claims %+v with an error", c)
			}
			return
		}
		// Accepted: the token must carry a true HS256 signature by this secret and sane
		// claims, whatever path led here.
		parts := strings.Split(token, ".")
		if len(parts) != 3 {
			t.Fatalf("accepted a token with %d segments", len(parts))
		}
		want := hmacSig(s.bytes(), parts[0]+"."+parts[1])
		got, err := base64.RawURLEncoding.DecodeString(parts[2])
		if err != nil || base64.RawURLEncoding.EncodeToString(got) != want {
			t.Fatalf("accepted a token whose signature is not HMAC-SHA256 of its text")
		}
		if !validName(c.Subject, MaxSubjectLen) || !validName(c.ID, MaxIDLen) ||
			len(c.Perms) == 0 || !c.ExpiresAt.After(c.IssuedAt) {
			t.Fatalf("accepted odd claims %+v", c)
		}
		for _, p := range c.Perms {
			if !p.Known() {
				t.Fatalf("accepted unknown perm %q", p)
			}
		}
	})
}
