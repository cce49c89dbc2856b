package auth

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/whalecast/whalecast/internal/clock"
)

// ringPair returns an Issuer and a Verifier on ring, sharing a fake clock at testStart.
func ringPair(tb testing.TB, ring *Ring, opts VerifierOptions) (*Issuer, *Verifier,
	*clock.Fake) {
	tb.Helper()
	clk := clock.NewFake(testStart)
	iss, err := NewRingIssuer(ring, clk, IssuerOptions{})
	if err != nil {
		tb.Fatalf("NewRingIssuer: %v", err)
	}
	ver, err := NewRingVerifier(ring, clk, opts)
	if err != nil {
		tb.Fatalf("NewRingVerifier: %v", err)
	}
	return iss, ver, clk
}

// isReason reports whether err is an *AuthError with reason r.
func isReason(err error, r Reason) bool {
	var aerr *AuthError
	return errors.As(err, &aerr) && aerr.Reason == r
}

// edToken signs header and claims with priv (Ed25519), whatever the header says.
func edToken(tb testing.TB, priv ed25519.PrivateKey, header, claims map[string]any) string {
	tb.Helper()
	signing := segment(tb, header) + "." + segment(tb, claims)
	sig := ed25519.Sign(priv, []byte(signing))
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// pemPublic returns pub as a PKIX PEM block.
func pemPublic(tb testing.TB, pub any) []byte {
	tb.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		tb.Fatalf("MarshalPKIXPublicKey: %v", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// pemRSAPublic returns a fresh RSA public key as a PKIX PEM block.
func pemRSAPublic(tb testing.TB) []byte {
	tb.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		tb.Fatalf("rsa.GenerateKey: %v", err)
	}
	return pemPublic(tb, &key.PublicKey)
}

// pemECPublic returns a fresh P-256 public key as a PKIX PEM block.
func pemECPublic(tb testing.TB) []byte {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatalf("ecdsa.GenerateKey: %v", err)
	}
	return pemPublic(tb, &key.PublicKey)
}

// pemEdPrivate returns the tests' Ed25519 private key as a PKCS #8 PEM block.
func pemEdPrivate(tb testing.TB) []byte {
	tb.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(testEdKey())
	if err != nil {
		tb.Fatalf("MarshalPKCS8PrivateKey: %v", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// b64 encodes b in base64: "std" padded standard alphabet, "rawurl" unpadded URL alphabet.
func b64(b []byte, form string) string {
	if form == "rawurl" {
		return base64.RawURLEncoding.EncodeToString(b)
	}
	return base64.StdEncoding.EncodeToString(b)
}

// ringFixture is a ring with an HS256 signing key, an imported Ed25519 key "partner" and a
// retired Ed25519 key "former".
type ringFixture struct {
	ring    *Ring
	hsKID   string
	hs      Secret
	partner ed25519.PrivateKey
	pub     ed25519.PublicKey
}

func newRingFixture(tb testing.TB) ringFixture {
	tb.Helper()
	r := loadRing(tb, tb.TempDir())
	pub := testEdKey().Public().(ed25519.PublicKey)
	if err := r.ImportPublic("partner", pemPublic(tb, pub)); err != nil {
		tb.Fatalf("ImportPublic(partner): %v", err)
	}
	if err := r.ImportPublic("former", []byte(hex.EncodeToString(pub))); err != nil {
		tb.Fatalf("ImportPublic(former): %v", err)
	}
	if err := r.Retire("former"); err != nil {
		tb.Fatalf("Retire(former): %v", err)
	}
	kid := signingKID(tb, r)
	return ringFixture{ring: r, hsKID: kid, hs: ringSecret(tb, r, kid),
		partner: testEdKey(), pub: pub}
}

// hsHeader is an HS256 header naming kid.
func hsHeader(kid string) map[string]any {
	return map[string]any{"alg": "HS256", "typ": "JWT", "kid": kid}
}

// edHeader is an EdDSA header naming kid.
func edHeader(kid string) map[string]any {
	return map[string]any{"alg": "EdDSA", "typ": "JWT", "kid": kid}
}

// macWith signs header and claims with HMAC-SHA256 under raw key bytes.
func macWith(tb testing.TB, key []byte, header, claims map[string]any) string {
	tb.Helper()
	signing := segment(tb, header) + "." + segment(tb, claims)
	return signing + "." + hmacSig(key, signing)
}

func TestVerifyWithRing(t *testing.T) {
	good := goodClaims()
	lifetime := func(d time.Duration) map[string]any {
		return with(good, "exp", testStart.Add(d).Unix())
	}
	const revokedJTI = "revoked-0123456789"
	revoked := func(c Claims) bool { return c.ID == revokedJTI }
	tests := []struct {
		name   string
		opts   VerifierOptions
		token  func(tb testing.TB, fx ringFixture) string
		reason Reason // empty: the token verifies
		claim  string
		kid    string // with an empty reason, the KeyID Verify must report
	}{
		{"HS256 from the ring's signing key", VerifierOptions{},
			func(tb testing.TB, fx ringFixture) string {
				return craft(tb, fx.hs, hsHeader(fx.hsKID), good)
			}, "", "", "hs"},
		{"EdDSA from the imported public key", VerifierOptions{},
			func(tb testing.TB, fx ringFixture) string {
				return edToken(tb, fx.partner, edHeader("partner"), good)
			}, "", "", "partner"},
		{"EdDSA signed by another private key", VerifierOptions{},
			func(tb testing.TB, fx ringFixture) string {
				other := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
				return edToken(tb, other, edHeader("partner"), good)
			}, ReasonBadSignature, "", ""},
		{"EdDSA payload tampered", VerifierOptions{},
			func(tb testing.TB, fx ringFixture) string {
				tok := edToken(tb, fx.partner, edHeader("partner"), good)
				forged := with(good, "perms", []string{"read", "admin"})
				return replaceSegment(tok, 1, segment(tb, forged))
			}, ReasonBadSignature, "", ""},
		{"unknown kid", VerifierOptions{},
			func(tb testing.TB, fx ringFixture) string {
				return craft(tb, fx.hs, hsHeader("nope"), good)
			}, ReasonUnknownKey, "", ""},
		{"missing kid", VerifierOptions{},
			func(tb testing.TB, fx ringFixture) string {
				return craft(tb, fx.hs, without(hsHeader(fx.hsKID), "kid"), good)
			}, ReasonUnknownKey, "", ""},
		{"missing kid on EdDSA", VerifierOptions{},
			func(tb testing.TB, fx ringFixture) string {
				return edToken(tb, fx.partner, without(edHeader(""), "kid"), good)
			}, ReasonUnknownKey, "", ""},
		{"retired kid", VerifierOptions{},
			func(tb testing.TB, fx ringFixture) string {
				return edToken(tb, fx.partner, edHeader("former"), good)
			}, ReasonUnknownKey, "", ""},
		{"kid env on a ring without env key", VerifierOptions{},
			func(tb testing.TB, fx ringFixture) string {
				return craft(tb, fx.hs, hsHeader(EnvKeyID), good)
			}, ReasonUnknownKey, "", ""},
		{"confusion: HS256 under the raw Ed25519 public key", VerifierOptions{},
			func(tb testing.TB, fx ringFixture) string {
				return macWith(tb, fx.pub, hsHeader("partner"), good)
			}, ReasonBadAlgorithm, "", ""},
		{"confusion: HS256 under the public key PEM", VerifierOptions{},
			func(tb testing.TB, fx ringFixture) string {
				return macWith(tb, pemPublic(tb, fx.pub), hsHeader("partner"), good)
			}, ReasonBadAlgorithm, "", ""},
		{"confusion: HS256 under the public key hex", VerifierOptions{},
			func(tb testing.TB, fx ringFixture) string {
				key := []byte(hex.EncodeToString(fx.pub))
				return macWith(tb, key, hsHeader("partner"), good)
			}, ReasonBadAlgorithm, "", ""},
		{"confusion: EdDSA header naming the HS256 kid", VerifierOptions{},
			func(tb testing.TB, fx ringFixture) string {
				return edToken(tb, fx.partner, edHeader(fx.hsKID), good)
			}, ReasonBadAlgorithm, "", ""},
		{"alg none naming the Ed25519 kid", VerifierOptions{},
			func(tb testing.TB, fx ringFixture) string {
				hdr := map[string]any{"alg": "none", "kid": "partner"}
				return segment(tb, hdr) + "." + segment(tb, good) + "."
			}, ReasonBadAlgorithm, "", ""},
		{"RS256 naming the Ed25519 kid", VerifierOptions{},
			func(tb testing.TB, fx ringFixture) string {
				hdr := map[string]any{"alg": "RS256", "kid": "partner"}
				return macWith(tb, fx.pub, hdr, good)
			}, ReasonBadAlgorithm, "", ""},
		{"Ed25519 alg spelled differently", VerifierOptions{},
			func(tb testing.TB, fx ringFixture) string {
				hdr := with(edHeader("partner"), "alg", "Ed25519")
				return edToken(tb, fx.partner, hdr, good)
			}, ReasonBadAlgorithm, "", ""},
		{"lifetime at the default maximum", VerifierOptions{},
			func(tb testing.TB, fx ringFixture) string {
				return craft(tb, fx.hs, hsHeader(fx.hsKID), lifetime(DefaultMaxLifetime))
			}, "", "", "hs"},
		{"lifetime over the default maximum", VerifierOptions{},
			func(tb testing.TB, fx ringFixture) string {
				claims := lifetime(DefaultMaxLifetime + time.Second)
				return craft(tb, fx.hs, hsHeader(fx.hsKID), claims)
			}, ReasonLifetimeTooLong, "exp", ""},
		{"EdDSA lifetime over the maximum", VerifierOptions{},
			func(tb testing.TB, fx ringFixture) string {
				claims := lifetime(365 * 24 * time.Hour)
				return edToken(tb, fx.partner, edHeader("partner"), claims)
			}, ReasonLifetimeTooLong, "exp", ""},
		{"lifetime over a configured maximum", VerifierOptions{MaxLifetime: time.Hour},
			func(tb testing.TB, fx ringFixture) string {
				claims := lifetime(time.Hour + time.Second)
				return craft(tb, fx.hs, hsHeader(fx.hsKID), claims)
			}, ReasonLifetimeTooLong, "exp", ""},
		{"iss required and missing", VerifierOptions{Issuer: "https://idp.example"},
			func(tb testing.TB, fx ringFixture) string {
				return edToken(tb, fx.partner, edHeader("partner"), good)
			}, ReasonMissingClaim, "iss", ""},
		{"wrong iss", VerifierOptions{Issuer: "https://idp.example"},
			func(tb testing.TB, fx ringFixture) string {
				claims := with(good, "iss", "https://evil.example")
				return edToken(tb, fx.partner, edHeader("partner"), claims)
			}, ReasonBadClaim, "iss", ""},
		{"right iss", VerifierOptions{Issuer: "https://idp.example"},
			func(tb testing.TB, fx ringFixture) string {
				claims := with(good, "iss", "https://idp.example")
				return edToken(tb, fx.partner, edHeader("partner"), claims)
			}, "", "", "partner"},
		{"aud required and missing", VerifierOptions{Audience: "whalecast"},
			func(tb testing.TB, fx ringFixture) string {
				return craft(tb, fx.hs, hsHeader(fx.hsKID), good)
			}, ReasonMissingClaim, "aud", ""},
		{"wrong aud", VerifierOptions{Audience: "whalecast"},
			func(tb testing.TB, fx ringFixture) string {
				claims := with(good, "aud", []string{"billing", "reports"})
				return craft(tb, fx.hs, hsHeader(fx.hsKID), claims)
			}, ReasonBadClaim, "aud", ""},
		{"aud list holding ours", VerifierOptions{Audience: "whalecast"},
			func(tb testing.TB, fx ringFixture) string {
				claims := with(good, "aud", []string{"billing", "whalecast"})
				return craft(tb, fx.hs, hsHeader(fx.hsKID), claims)
			}, "", "", "hs"},
		{"aud a single string", VerifierOptions{Audience: "whalecast"},
			func(tb testing.TB, fx ringFixture) string {
				claims := with(good, "aud", "whalecast")
				return craft(tb, fx.hs, hsHeader(fx.hsKID), claims)
			}, "", "", "hs"},
		{"revoked via the hook", VerifierOptions{Revoked: revoked},
			func(tb testing.TB, fx ringFixture) string {
				claims := with(good, "jti", revokedJTI)
				return craft(tb, fx.hs, hsHeader(fx.hsKID), claims)
			}, ReasonRevoked, "", ""},
		{"revoked EdDSA token via the hook", VerifierOptions{Revoked: revoked},
			func(tb testing.TB, fx ringFixture) string {
				claims := with(good, "jti", revokedJTI)
				return edToken(tb, fx.partner, edHeader("partner"), claims)
			}, ReasonRevoked, "", ""},
		{"hook asked, not revoked", VerifierOptions{Revoked: revoked},
			func(tb testing.TB, fx ringFixture) string {
				return craft(tb, fx.hs, hsHeader(fx.hsKID), good)
			}, "", "", "hs"},
		{"revoked and expired reports expired", VerifierOptions{Revoked: revoked},
			func(tb testing.TB, fx ringFixture) string {
				claims := with(with(good, "jti", revokedJTI), "iat",
					testStart.Add(-2*time.Hour).Unix())
				claims = with(claims, "exp", testStart.Add(-time.Hour).Unix())
				return craft(tb, fx.hs, hsHeader(fx.hsKID), claims)
			}, ReasonExpired, "exp", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx := newRingFixture(t)
			_, ver, _ := ringPair(t, fx.ring, tt.opts)
			tok := tt.token(t, fx)
			c, err := ver.Verify(tok)
			if tt.reason != "" {
				wantRejected(t, tok, c, err, tt.reason, tt.claim)
				return
			}
			if err != nil {
				t.Fatalf("Verify: %v, want success", err)
			}
			wantKID := tt.kid
			if wantKID == "hs" {
				wantKID = fx.hsKID
			}
			if c.KeyID != wantKID || c.Subject != "client-1" {
				t.Errorf("Verify = %+v, want kid %s, sub client-1", c, wantKID)
			}
		})
	}
}

func TestVerifyAcrossRotation(t *testing.T) {
	r := loadRing(t, t.TempDir())
	iss, ver, _ := ringPair(t, r, VerifierOptions{})
	old := signingKID(t, r)
	oldTok, c, err := iss.Issue("client-1", []Perm{PermRead}, time.Hour)
	if err != nil || c.KeyID != old {
		t.Fatalf("Issue = %+v, %v, want kid %s", c, err, old)
	}

	newKID, err := r.Rotate()
	if err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	newTok, c, err := iss.Issue("client-1", []Perm{PermRead}, time.Hour)
	if err != nil || c.KeyID != newKID {
		t.Fatalf("Issue after Rotate = %+v, %v, want kid %s", c, err, newKID)
	}

	steps := []struct {
		name    string
		tok     string
		wantKID string
		reason  Reason
	}{
		{"old token after rotate", oldTok, old, ""},
		{"new token after rotate", newTok, newKID, ""},
	}
	check := func(t *testing.T) {
		for _, s := range steps {
			c, err := ver.Verify(s.tok)
			if s.reason != "" {
				wantRejected(t, s.tok, c, err, s.reason, "")
				continue
			}
			if err != nil || c.KeyID != s.wantKID {
				t.Errorf("%s: Verify = %+v, %v, want kid %s", s.name, c, err, s.wantKID)
			}
		}
	}
	check(t)

	if err := r.Retire(old); err != nil {
		t.Fatalf("Retire: %v", err)
	}
	steps[0] = struct {
		name    string
		tok     string
		wantKID string
		reason  Reason
	}{"old token after retire", oldTok, "", ReasonUnknownKey}
	steps[1].name = "new token after retire"
	check(t)
}

func TestRevokedHookSeesOnlyGoodTokens(t *testing.T) {
	fx := newRingFixture(t)
	var calls atomic.Int32
	var seen atomic.Value
	opts := VerifierOptions{Revoked: func(c Claims) bool {
		calls.Add(1)
		seen.Store(c)
		return false
	}}
	_, ver, _ := ringPair(t, fx.ring, opts)
	bad := []string{
		craft(t, fx.hs, hsHeader("nope"), goodClaims()),
		craft(t, otherSecret(t), hsHeader(fx.hsKID), goodClaims()),
		craft(t, fx.hs, hsHeader(fx.hsKID), without(goodClaims(), "jti")),
		"garbage",
	}
	for _, tok := range bad {
		if _, err := ver.Verify(tok); err == nil {
			t.Fatalf("Verify accepted a bad token")
		}
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("hook called %d times for bad tokens, want 0", n)
	}
	tok := edToken(t, fx.partner, edHeader("partner"), goodClaims())
	if _, err := ver.Verify(tok); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	c, _ := seen.Load().(Claims)
	if calls.Load() != 1 || c.KeyID != "partner" || c.ID != goodClaims()["jti"] {
		t.Errorf("hook called %d times with %+v, want once with kid partner and the jti",
			calls.Load(), c)
	}
}

func TestIssueWithRingOptions(t *testing.T) {
	r := loadRing(t, t.TempDir())
	clk := clock.NewFake(testStart)
	tests := []struct {
		name    string
		opts    IssuerOptions
		ttl     time.Duration
		wantErr error
	}{
		{"default maximum", IssuerOptions{}, DefaultMaxLifetime, nil},
		{"over the default maximum", IssuerOptions{}, DefaultMaxLifetime + time.Second,
			ErrLifetimeTooLong},
		{"configured maximum", IssuerOptions{MaxLifetime: time.Hour}, time.Hour, nil},
		{"over a configured maximum", IssuerOptions{MaxLifetime: time.Hour},
			time.Hour + time.Second, ErrLifetimeTooLong},
		{"iss and aud", IssuerOptions{Issuer: "whalecast-ops", Audience: "whalecast"},
			time.Hour, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			iss, err := NewRingIssuer(r, clk, tt.opts)
			if err != nil {
				t.Fatalf("NewRingIssuer: %v", err)
			}
			tok, c, err := iss.Issue("client-1", []Perm{PermRead}, tt.ttl)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Issue error = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				if tok != "" {
					t.Errorf("Issue returned a token with an error")
				}
				return
			}
			parts := strings.Split(tok, ".")
			var hdr, payload map[string]any
			decodeSegment(t, parts[0], &hdr)
			decodeSegment(t, parts[1], &payload)
			if hdr["kid"] != signingKID(t, r) || hdr["alg"] != "HS256" {
				t.Errorf("header = %v, want alg HS256, kid %s", hdr, signingKID(t, r))
			}
			aud, _ := payload["aud"].([]any)
			if tt.opts.Issuer != "" && (payload["iss"] != tt.opts.Issuer ||
				len(aud) != 1 || aud[0] != tt.opts.Audience) {
				t.Errorf("payload = %v, want iss %q, aud [%q]", payload, tt.opts.Issuer,
					tt.opts.Audience)
			}
			if tt.opts.Issuer == "" && (payload["iss"] != nil || payload["aud"] != nil) {
				t.Errorf("payload = %v, want neither iss nor aud", payload)
			}
			ver, err := NewRingVerifier(r, clk, VerifierOptions{MaxLifetime: tt.opts.MaxLifetime,
				Issuer: tt.opts.Issuer, Audience: tt.opts.Audience})
			if err != nil {
				t.Fatalf("NewRingVerifier: %v", err)
			}
			got, err := ver.Verify(tok)
			if err != nil || !sameClaims(got, c) || got.Issuer != c.Issuer ||
				got.KeyID != c.KeyID || strings.Join(got.Audience, ",") !=
				strings.Join(c.Audience, ",") {
				t.Errorf("Verify = %+v, %v, want Issue's %+v", got, err, c)
			}
		})
	}
}

func TestNewRingIssuerVerifierRejects(t *testing.T) {
	r := loadRing(t, t.TempDir())
	tests := []struct {
		name string
		make func() (any, error)
		want error
	}{
		{"issuer without ring", func() (any, error) {
			return NewRingIssuer(nil, nil, IssuerOptions{})
		}, ErrNoSigningKey},
		{"issuer with negative max lifetime", func() (any, error) {
			return NewRingIssuer(r, nil, IssuerOptions{MaxLifetime: -time.Second})
		}, ErrInvalidTTL},
		{"verifier without ring", func() (any, error) {
			return NewRingVerifier(nil, nil, VerifierOptions{})
		}, ErrNoSigningKey},
		{"verifier with negative max lifetime", func() (any, error) {
			return NewRingVerifier(r, nil, VerifierOptions{MaxLifetime: -time.Second})
		}, ErrInvalidTTL},
		{"verifier with leeway over max", func() (any, error) {
			return NewRingVerifier(r, nil, VerifierOptions{Leeway: MaxLeeway + 1})
		}, ErrInvalidLeeway},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tt.make(); !errors.Is(err, tt.want) {
				t.Errorf("error = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestRecheck(t *testing.T) {
	ring, clk, revs, v, iss := newRevocableRing(t)
	_, good, err := iss.Issue("alice", []Perm{PermRead}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	_, revoked, _ := iss.Issue("bob", []Perm{PermRead}, time.Hour)
	revs.RevokeJTI(revoked.ID, revoked.ExpiresAt)
	if err := v.Recheck(good); err != nil {
		t.Fatalf("Recheck(good) = %v", err)
	}
	assertReason(t, v.Recheck(revoked), ReasonRevoked)

	clk.Advance(time.Hour)
	assertReason(t, v.Recheck(good), ReasonExpired)

	clk.Advance(-time.Hour)
	if _, err := ring.Rotate(); err != nil {
		t.Fatal(err)
	}
	if err := ring.Retire(good.KeyID); err != nil {
		t.Fatal(err)
	}
	assertReason(t, v.Recheck(good), ReasonUnknownKey)
}

func assertReason(t *testing.T, err error, want Reason) {
	t.Helper()
	var ae *AuthError
	if !errors.As(err, &ae) || ae.Reason != want {
		t.Errorf("error %v, want reason %s", err, want)
	}
}

// TestRefreshKeepsLineage: a token refreshed in-band dies with the first token of its chain,
// whether that one is revoked by jti or its key is retired.
func TestRefreshKeepsLineage(t *testing.T) {
	tests := []struct {
		name string
		cut  func(t *testing.T, ring *Ring, revs *Revocations, first Claims)
		want Reason
	}{
		{"origin jti revoked", func(_ *testing.T, _ *Ring, revs *Revocations, first Claims) {
			revs.RevokeJTI(first.ID, first.ExpiresAt)
		}, ReasonRevoked},
		{"origin key retired", func(t *testing.T, ring *Ring, _ *Revocations, first Claims) {
			if err := ring.Retire(first.KeyID); err != nil {
				t.Fatal(err)
			}
		}, ReasonUnknownKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ring, _, revs, v, iss := newRevocableRing(t)
			_, first, err := iss.Issue("alice", []Perm{PermRead}, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			// The refreshes are signed by a newer key, so only the lineage ties them to the
			// first key.
			if _, err := ring.Rotate(); err != nil {
				t.Fatal(err)
			}
			_, second, err := iss.Refresh(first, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			tok, third, err := iss.Refresh(second, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			if third.KeyID == first.KeyID {
				t.Fatalf("refresh signed with the first key %s, want the rotated one", first.KeyID)
			}
			if third.OriginID != first.ID || third.OriginKeyID != first.KeyID {
				t.Fatalf("third token's origin %s/%s, want %s/%s", third.OriginID,
					third.OriginKeyID, first.ID, first.KeyID)
			}
			if _, err := v.Verify(tok); err != nil {
				t.Fatalf("refreshed token refused before the cut: %v", err)
			}

			tt.cut(t, ring, revs, first)
			_, err = v.Verify(tok)
			assertReason(t, err, tt.want)
			assertReason(t, v.Recheck(third), tt.want)
		})
	}
}

// newRevocableRing returns a fresh key ring with an issuer and a verifier that consults a
// revocation set, on a fake clock.
func newRevocableRing(t *testing.T) (*Ring, *clock.Fake, *Revocations, *Verifier, *Issuer) {
	t.Helper()
	ring := loadRing(t, t.TempDir())
	clk := clock.NewFake(time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC))
	revs := NewRevocations()
	v, err := NewRingVerifier(ring, clk, VerifierOptions{Revoked: revs.Revoked})
	if err != nil {
		t.Fatal(err)
	}
	iss, err := NewRingIssuer(ring, clk, IssuerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return ring, clk, revs, v, iss
}
