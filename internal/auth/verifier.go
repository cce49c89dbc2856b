package auth

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/whalecast/whalecast/internal/clock"
)

// MaxLeeway is the largest clock skew a Verifier may tolerate.
const MaxLeeway = 30 * time.Second

// Errors the key function hands back through the jwt parser, to be mapped to reasons.
var (
	errAlgorithm  = errors.New("algorithm not accepted")
	errCritHeader = errors.New("crit header present")
	errUnknownKey = errors.New("no usable key with this kid")
)

// VerifierOptions tunes a Verifier. The zero value tolerates no clock skew, accepts tokens
// of up to DefaultMaxLifetime, checks neither iss nor aud, and knows of no revocation.
type VerifierOptions struct {
	// Leeway is the clock skew tolerated on exp, iat and nbf, from 0 (the default) to
	// MaxLeeway. Leave it 0 when the Issuer lives in the same process and so reads the same
	// clock; a token is then expired from the instant now reaches exp.
	Leeway time.Duration
	// MaxLifetime is the longest exp - iat accepted (ReasonLifetimeTooLong above it); 0
	// means DefaultMaxLifetime. It cannot be turned off.
	MaxLifetime time.Duration
	// Issuer, if not empty, is the iss every token must carry; empty skips the check.
	Issuer string
	// Audience, if not empty, must be one of the token's aud values; empty skips the check.
	Audience string
	// Revoked, if not nil, is asked about every token that passed all other checks, with
	// its claims; true rejects the token with ReasonRevoked. Verify runs on every client
	// message, so Revoked must be fast, must not block, and must be safe for concurrent use.
	Revoked func(c Claims) bool
}

// Verifier checks tokens against the keys of a Ring. It is immutable and safe for
// concurrent use; it sees the ring's keys as they are at the time of each Verify.
type Verifier struct {
	ring   *Ring
	clk    clock.Clock
	opts   VerifierOptions
	parser *jwt.Parser
}

// NewVerifier returns a Verifier that knows secret alone, under kid EnvKeyID (the key
// NewIssuer signs with), and reads the time from clk; a nil clk means clock.Real. leeway is
// VerifierOptions.Leeway; the other options are their zero values. It fails with
// ErrWeakSecret if secret is shorter than MinSecretLen.
func NewVerifier(secret Secret, clk clock.Clock, leeway time.Duration) (*Verifier, error) {
	if secret.Len() < MinSecretLen {
		return nil, fmt.Errorf("auth: new verifier: %w", ErrWeakSecret)
	}
	return NewRingVerifier(memoryRing(EnvKeyID, secret), clk, VerifierOptions{Leeway: leeway})
}

// NewRingVerifier returns a Verifier that checks tokens against the keys of ring and reads
// the time from clk; a nil clk means clock.Real. It fails with ErrInvalidLeeway if
// opts.Leeway is outside 0 to MaxLeeway, and with ErrInvalidTTL if opts.MaxLifetime is
// negative.
func NewRingVerifier(ring *Ring, clk clock.Clock, opts VerifierOptions) (*Verifier, error) {
	if ring == nil {
		return nil, fmt.Errorf("auth: new verifier: %w: no key ring", ErrNoSigningKey)
	}
	if opts.Leeway < 0 || opts.Leeway > MaxLeeway {
		return nil, fmt.Errorf("auth: new verifier: %w: %v is outside 0 to %v",
			ErrInvalidLeeway, opts.Leeway, MaxLeeway)
	}
	if opts.MaxLifetime < 0 {
		return nil, fmt.Errorf("auth: new verifier: %w: max lifetime %v is negative",
			ErrInvalidTTL, opts.MaxLifetime)
	}
	if opts.MaxLifetime == 0 {
		opts.MaxLifetime = DefaultMaxLifetime
	}
	if clk == nil {
		clk = clock.Real{}
	}
	parser := jwt.NewParser(
		jwt.WithStrictDecoding(),
		jwt.WithTimeFunc(clk.Now),
		jwt.WithLeeway(opts.Leeway),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
	)
	return &Verifier{ring: ring, clk: clk, opts: opts, parser: parser}, nil
}

// Verify checks token and returns its claims. Any failure is an *AuthError (see doc.go for
// the reasons) and the returned Claims are then zero.
//
// The checks, in order: the token is at most MaxTokenLen bytes of base64url characters and
// dots; it is a compact JWS whose header names HS256 or EdDSA and no crit extension; its kid
// names a key of the ring that is not retired, pinned to the header's algorithm; the
// signature matches that key; sub, jti, iat, exp and a non-empty perms are present and well
// formed, with exp after iat and exp - iat at most the maximum lifetime; iss and aud match
// when the options ask for them; with the leeway, now is before exp and not before iat or
// nbf; and last, the Revoked hook does not refuse it.
func (v *Verifier) Verify(token string) (Claims, error) {
	if token == "" {
		return Claims{}, reject(ReasonMalformed, "", "empty")
	}
	if len(token) > MaxTokenLen {
		return Claims{}, reject(ReasonMalformed, "", "longer than MaxTokenLen")
	}
	if !compactJWS(token) {
		return Claims{}, reject(ReasonMalformed, "", "character outside base64url and '.'")
	}
	if err := strictSegments(token); err != nil {
		return Claims{}, reject(ReasonMalformed, "", err.Error())
	}

	var wire wireClaims
	tok, err := v.parser.ParseWithClaims(token, &wire, v.key)
	if err != nil && !errors.Is(err, jwt.ErrTokenInvalidClaims) {
		return Claims{}, parseFailure(err)
	}
	if tok == nil {
		return Claims{}, reject(ReasonMalformed, "", "not parsed")
	}

	// The signature is good from here on; structural faults outrank timing ones.
	c, aerr := v.claimsOf(&wire)
	if aerr != nil {
		return Claims{}, aerr
	}
	if err != nil {
		return Claims{}, timeFailure(err)
	}
	if !tok.Valid {
		return Claims{}, reject(ReasonMalformed, "", "not validated")
	}
	c.KeyID, _ = tok.Header["kid"].(string)
	if c.OriginKeyID != "" && v.ring.lookup(c.OriginKeyID) == nil {
		return Claims{}, reject(ReasonUnknownKey, "okid", "refreshed from a retired key")
	}
	if v.opts.Revoked != nil && v.opts.Revoked(c) {
		return Claims{}, reject(ReasonRevoked, "", "token revoked")
	}
	return c, nil
}

// compactJWS reports whether token holds only base64url characters and dots. The base64
// decoder skips line breaks, so without this check "token\n" would verify like "token".
func compactJWS(token string) bool {
	for i := 0; i < len(token); i++ {
		c := token[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '-', c == '_', c == '.':
		default:
			return false
		}
	}
	return true
}

// key is the jwt key function. It admits only HS256 and EdDSA headers without a crit
// extension, whose kid names a usable key pinned to the header's algorithm, and returns that
// key in the type its algorithm wants.
func (v *Verifier) key(t *jwt.Token) (any, error) {
	alg, _ := t.Header["alg"].(string)
	switch {
	case alg == string(AlgHS256) && t.Method == jwt.SigningMethodHS256:
	case alg == string(AlgEdDSA) && t.Method == jwt.SigningMethodEdDSA:
	default:
		return nil, errAlgorithm
	}
	if _, ok := t.Header["crit"]; ok {
		return nil, errCritHeader
	}
	kid, _ := t.Header["kid"].(string)
	k := v.ring.lookup(kid)
	if k == nil {
		return nil, errUnknownKey
	}
	if string(k.info.Alg) != alg {
		return nil, errAlgorithm
	}
	if k.info.Alg == AlgEdDSA {
		return k.public, nil
	}
	return k.secret.bytes(), nil
}

// parseFailure maps an error met before the signature was verified.
func parseFailure(err error) *AuthError {
	switch {
	case errors.Is(err, errCritHeader):
		return reject(ReasonMalformed, "", "unsupported crit header")
	case errors.Is(err, errUnknownKey):
		return reject(ReasonUnknownKey, "", "kid missing, unknown or retired")
	case errors.Is(err, errAlgorithm), errors.Is(err, jwt.ErrTokenUnverifiable):
		return reject(ReasonBadAlgorithm, "", "only HS256 and EdDSA, as pinned to the key")
	case errors.Is(err, jwt.ErrTokenMalformed):
		return reject(ReasonMalformed, "", "not a well-formed JWT")
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return reject(ReasonBadSignature, "", "signature mismatch")
	default:
		return reject(ReasonMalformed, "", "unreadable")
	}
}

// timeFailure maps a claims validation error from the jwt parser.
func timeFailure(err error) *AuthError {
	switch {
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return reject(ReasonMissingClaim, "exp", "required")
	case errors.Is(err, jwt.ErrTokenExpired):
		return reject(ReasonExpired, "exp", "token has expired")
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return reject(ReasonNotYetValid, "iat", "issued in the future")
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return reject(ReasonNotYetValid, "nbf", "not valid yet")
	default:
		return reject(ReasonBadClaim, "", "claims rejected")
	}
}

// claimsOf checks the claims of a token whose signature is good, apart from timing.
func (v *Verifier) claimsOf(w *wireClaims) (Claims, *AuthError) {
	switch {
	case w.Subject == "":
		return Claims{}, reject(ReasonMissingClaim, "sub", "required")
	case w.ID == "":
		return Claims{}, reject(ReasonMissingClaim, "jti", "required")
	case w.IssuedAt == nil:
		return Claims{}, reject(ReasonMissingClaim, "iat", "required")
	case w.ExpiresAt == nil:
		return Claims{}, reject(ReasonMissingClaim, "exp", "required")
	case w.Perms == nil:
		return Claims{}, reject(ReasonMissingClaim, "perms", "required")
	case !validName(w.Subject, MaxSubjectLen):
		return Claims{}, reject(ReasonBadClaim, "sub", "bad length or character")
	case !validName(w.ID, MaxIDLen):
		return Claims{}, reject(ReasonBadClaim, "jti", "bad length or character")
	case !w.ExpiresAt.After(w.IssuedAt.Time):
		return Claims{}, reject(ReasonBadClaim, "exp", "not after iat")
	case w.ExpiresAt.Sub(w.IssuedAt.Time) > v.opts.MaxLifetime:
		return Claims{}, reject(ReasonLifetimeTooLong, "exp", "exp - iat over the maximum")
	case v.opts.Issuer != "" && w.Issuer == "":
		return Claims{}, reject(ReasonMissingClaim, "iss", "required")
	case v.opts.Issuer != "" && w.Issuer != v.opts.Issuer:
		return Claims{}, reject(ReasonBadClaim, "iss", "not the expected issuer")
	case v.opts.Audience != "" && len(w.Audience) == 0:
		return Claims{}, reject(ReasonMissingClaim, "aud", "required")
	case v.opts.Audience != "" && !slices.Contains(w.Audience, v.opts.Audience):
		return Claims{}, reject(ReasonBadClaim, "aud", "not for this audience")
	}
	perms, err := checkPerms(w.Perms)
	if err != nil {
		return Claims{}, reject(ReasonBadClaim, "perms", "empty or unknown permission")
	}
	c := Claims{
		Subject:   w.Subject,
		Perms:     perms,
		IssuedAt:  w.IssuedAt.UTC(),
		ExpiresAt: w.ExpiresAt.UTC(),
		ID:        w.ID,
		Issuer:    w.Issuer,

		OriginID:    w.OriginID,
		OriginKeyID: w.OriginKeyID,
	}
	if (w.OriginID == "") != (w.OriginKeyID == "") || (w.OriginID != "" &&
		!validName(w.OriginID, MaxIDLen)) {
		return Claims{}, reject(ReasonBadClaim, "ojti", "incomplete or bad origin")
	}
	if len(w.Audience) > 0 {
		c.Audience = slices.Clone([]string(w.Audience))
	}
	return c, nil
}

// Recheck tells whether claims that verified earlier still hold now: the key that signed
// them is still in the ring (not retired), the token is not revoked, and it has not expired.
// A session calls it on every client message and whenever keys or revocations change, so a
// retired key or a revocation ends live sessions too. Failures are *AuthError with reason
// unknown_key, revoked or expired.
func (v *Verifier) Recheck(c Claims) error {
	switch {
	case v.ring.lookup(c.KeyID) == nil:
		return reject(ReasonUnknownKey, "kid", "the signing key was retired")
	case c.OriginKeyID != "" && v.ring.lookup(c.OriginKeyID) == nil:
		return reject(ReasonUnknownKey, "okid", "refreshed from a retired key")
	case v.opts.Revoked != nil && v.opts.Revoked(c):
		return reject(ReasonRevoked, "", "revoked")
	case !v.clk.Now().Before(c.ExpiresAt.Add(v.opts.Leeway)):
		return reject(ReasonExpired, "exp", "expired")
	}
	return nil
}

// strictSegments checks the header and the claims of a compact JWS before the JWT library
// reads them: each must be one JSON object with no key repeated (the library would keep the
// last, so two parsers could disagree on "sub" or "alg"), and the time claims must be JSON
// numbers (the library also takes numeric strings).
func strictSegments(token string) error {
	parts := strings.SplitN(token, ".", 3)
	if len(parts) != 3 {
		return errors.New("not three segments")
	}
	for i, part := range parts[:2] {
		raw, err := base64.RawURLEncoding.Strict().DecodeString(part)
		if err != nil {
			return errors.New("segment is not base64url")
		}
		if err := strictObject(raw, i == 1); err != nil {
			return err
		}
	}
	return nil
}

// strictObject checks one JSON object: no repeated key at the top level and, for claims,
// numeric exp, iat and nbf.
func strictObject(raw []byte, claims bool) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return errors.New("segment is not a JSON object")
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		key, ok := tok.(string)
		if err != nil || !ok {
			return errors.New("segment is not a JSON object")
		}
		if seen[key] {
			return errors.New("repeated key in a segment")
		}
		seen[key] = true
		var value any
		if err := dec.Decode(&value); err != nil {
			return errors.New("segment is not a JSON object")
		}
		if _, isNum := value.(json.Number); claims && !isNum &&
			(key == "exp" || key == "iat" || key == "nbf") {
			return errors.New("time claim is not a number")
		}
	}
	return nil
}
