package auth

import (
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/whalecast/whalecast/internal/clock"
)

// MaxLeeway is the largest clock skew a Verifier may tolerate.
const MaxLeeway = 30 * time.Second

// Errors the key function hands back through the jwt parser, to be mapped to reasons.
var (
	errAlgorithm  = errors.New("algorithm is not HS256")
	errCritHeader = errors.New("crit header present")
)

// Verifier checks tokens made by an Issuer with the same secret. It is immutable and safe
// for concurrent use.
type Verifier struct {
	secret Secret
	clk    clock.Clock
	parser *jwt.Parser
}

// NewVerifier returns a Verifier that checks signatures with secret and reads the time from
// clk; a nil clk means clock.Real.
//
// leeway is the clock skew tolerated on exp, iat and nbf, from 0 to MaxLeeway (otherwise
// ErrInvalidLeeway). Pass 0 when the Issuer lives in the same process and so reads the same
// clock; a token is then expired from the instant now reaches exp.
func NewVerifier(secret Secret, clk clock.Clock, leeway time.Duration) (*Verifier, error) {
	if secret.Len() < MinSecretLen {
		return nil, fmt.Errorf("auth: new verifier: %w", ErrWeakSecret)
	}
	if leeway < 0 || leeway > MaxLeeway {
		return nil, fmt.Errorf("auth: new verifier: %w: %v is outside 0 to %v",
			ErrInvalidLeeway, leeway, MaxLeeway)
	}
	if clk == nil {
		clk = clock.Real{}
	}
	parser := jwt.NewParser(
		jwt.WithStrictDecoding(),
		jwt.WithTimeFunc(clk.Now),
		jwt.WithLeeway(leeway),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
	)
	return &Verifier{secret: secret, clk: clk, parser: parser}, nil
}

// Verify checks token and returns its claims. Any failure is an *AuthError (see doc.go for
// the reasons) and the returned Claims are then zero.
//
// The checks, in order: the token is at most MaxTokenLen bytes of base64url characters and
// dots; it is a compact JWS whose header names HS256 and no crit extension; the signature
// matches; sub, jti, iat, exp and a non-empty perms are present and well formed, with exp
// after iat; and, with the leeway, now is before exp and not before iat or nbf.
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

	var wire wireClaims
	tok, err := v.parser.ParseWithClaims(token, &wire, v.key)
	if err != nil && !errors.Is(err, jwt.ErrTokenInvalidClaims) {
		return Claims{}, parseFailure(err)
	}

	// The signature is good from here on; structural faults outrank timing ones.
	c, aerr := claimsOf(&wire)
	if aerr != nil {
		return Claims{}, aerr
	}
	if err != nil {
		return Claims{}, timeFailure(err)
	}
	if tok == nil || !tok.Valid {
		return Claims{}, reject(ReasonMalformed, "", "not validated")
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

// key is the jwt key function: it admits only the HS256 method and no crit header.
func (v *Verifier) key(t *jwt.Token) (any, error) {
	if t.Method != jwt.SigningMethodHS256 {
		return nil, errAlgorithm
	}
	if alg, _ := t.Header["alg"].(string); alg != jwt.SigningMethodHS256.Alg() {
		return nil, errAlgorithm
	}
	if _, ok := t.Header["crit"]; ok {
		return nil, errCritHeader
	}
	return v.secret.bytes(), nil
}

// parseFailure maps an error met before the signature was verified.
func parseFailure(err error) *AuthError {
	switch {
	case errors.Is(err, errCritHeader):
		return reject(ReasonMalformed, "", "unsupported crit header")
	case errors.Is(err, errAlgorithm), errors.Is(err, jwt.ErrTokenUnverifiable):
		return reject(ReasonBadAlgorithm, "", "only HS256 is accepted")
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
func claimsOf(w *wireClaims) (Claims, *AuthError) {
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
	}
	perms, err := checkPerms(w.Perms)
	if err != nil {
		return Claims{}, reject(ReasonBadClaim, "perms", "empty or unknown permission")
	}
	return Claims{
		Subject:   w.Subject,
		Perms:     perms,
		IssuedAt:  w.IssuedAt.UTC(),
		ExpiresAt: w.ExpiresAt.UTC(),
		ID:        w.ID,
	}, nil
}
