package auth

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
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
	ReasonBadClaim: true, ReasonUnknownKey: true, ReasonLifetimeTooLong: true,
	ReasonRevoked: true,
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
		craft(f, s, with(hs256Header(), "kid", "nope"), goodClaims()),
		craft(f, s, without(hs256Header(), "kid"), goodClaims()),
		craft(f, s, with(hs256Header(), "kid", []string{EnvKeyID}), goodClaims()),
		craft(f, s, with(hs256Header(), "alg", "EdDSA"), goodClaims()),
		edToken(f, testEdKey(), map[string]any{"alg": "EdDSA", "kid": EnvKeyID},
			goodClaims()),
		craft(f, s, hs256Header(), with(goodClaims(), "exp", testStart.Add(
			DefaultMaxLifetime+time.Second).Unix())),
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

func FuzzParsePublicKey(f *testing.F) {
	pub := testEdKey().Public().(ed25519.PublicKey)
	seeds := [][]byte{
		pemPublic(f, pub),
		[]byte(hex.EncodeToString(pub)),
		[]byte(base64.StdEncoding.EncodeToString(pub)),
		[]byte(base64.RawURLEncoding.EncodeToString(pub)),
		pemEdPrivate(f),
		[]byte("-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----\n"),
		append([]byte{1}, make([]byte, 31)...),
		[]byte("01" + strings.Repeat("00", 31)),
		[]byte("ee" + strings.Repeat("ff", 30) + "7f"),
		nil,
	}
	for _, seed := range seeds {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		key, err := parseEd25519Public(data)
		if err != nil {
			if !errors.Is(err, ErrKeyType) {
				t.Fatalf("parse error %v, want ErrKeyType", err)
			}
			return
		}
		if len(key) != ed25519.PublicKeySize || checkEd25519Public(key) != nil {
			t.Fatalf("accepted a %d-byte or small-order key", len(key))
		}
	})
}

func FuzzDecodeRingFile(f *testing.F) {
	secretHex := strings.Repeat("5a", MinSecretLen)
	pubHex := hex.EncodeToString(testEdKey().Public().(ed25519.PublicKey))
	hs := `{"kid":"a","alg":"HS256","state":"signing","created":"2025-03-14T15:09:26Z",` +
		`"secret":"` + secretHex + `"}`
	ed := `{"kid":"p","alg":"EdDSA","state":"verify","created":"2025-03-14T15:09:26Z",` +
		`"public_key":"` + pubHex + `"}`
	gone := `{"kid":"g","alg":"HS256","state":"retired","created":"2025-03-14T15:09:26Z",` +
		`"retired":"2025-03-15T15:09:26Z"}`
	seeds := []string{
		`{"version":1,"keys":[` + hs + `]}`,
		`{"version":1,"keys":[` + hs + `,` + ed + `,` + gone + `]}`,
		`{"version":1,"keys":[` + ed + `]}`,
		`{"version":1,"keys":[` + hs + `,` + hs + `]}`,
		`{"version":1,"keys":null}`,
		`{"version":1}`, `{}`, `[]`, `null`, ``,
	}
	for _, seed := range seeds {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rf, err := decodeRingFile(data)
		if err != nil {
			if !errors.Is(err, ErrKeyRingFormat) {
				t.Fatalf("decode error %v, want ErrKeyRingFormat", err)
			}
			if strings.Contains(err.Error(), secretHex[:16]) {
				t.Fatalf("decode error quotes key material")
			}
			return
		}
		set := buildSet(rf, nil)
		if set.signing == nil || set.signing.info.Alg != AlgHS256 ||
			set.signing.secret.Len() < MinSecretLen {
			t.Fatalf("accepted a ring without a good HS256 signing key")
		}
		for kid, k := range set.usable {
			if !validKeyID(kid) || kid == EnvKeyID || k.info.State == KeyRetired {
				t.Fatalf("accepted usable key %q in state %s", kid, k.info.State)
			}
		}
	})
}
