package auth

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/whalecast/whalecast/internal/clock"
)

// MaxTokenLen is the longest token Verify will parse, in bytes. Issue refuses to make one
// longer.
const MaxTokenLen = 4096

// idLen is the number of random bytes in a jti: 128 bits, written as 32 hex digits.
const idLen = 16

// Issuer signs session tokens. It is immutable and safe for concurrent use.
type Issuer struct {
	secret Secret
	clk    clock.Clock
}

// NewIssuer returns an Issuer that signs with secret and reads the time from clk; a nil clk
// means clock.Real. It fails with ErrWeakSecret if secret is shorter than MinSecretLen.
func NewIssuer(secret Secret, clk clock.Clock) (*Issuer, error) {
	if secret.Len() < MinSecretLen {
		return nil, fmt.Errorf("auth: new issuer: %w", ErrWeakSecret)
	}
	if clk == nil {
		clk = clock.Real{}
	}
	return &Issuer{secret: secret, clk: clk}, nil
}

// Issue signs an HS256 token for subject with the given permissions, valid for ttl from now.
//
// The subject must be 1 to MaxSubjectLen bytes of ASCII letters, digits and . _ : @ -
// (ErrInvalidSubject); perms must hold at least one permission (ErrNoPerms), all known
// (ErrUnknownPerm), and duplicates are dropped. Token times have whole-second precision, so
// iat is now rounded down to the second, exp is iat+ttl rounded down to the second, and ttl
// must be at least one second (ErrInvalidTTL). The returned Claims are exactly what Verify
// will return for the token.
func (i *Issuer) Issue(subject string, perms []Perm, ttl time.Duration) (string, Claims, error) {
	if !validName(subject, MaxSubjectLen) {
		return "", Claims{}, fmt.Errorf("auth: issue token: %w: %d bytes, want 1 to %d "+
			"of [A-Za-z0-9._:@-]", ErrInvalidSubject, len(subject), MaxSubjectLen)
	}
	perms, err := checkPerms(perms)
	if err != nil {
		return "", Claims{}, fmt.Errorf("auth: issue token for %s: %w", subject, err)
	}
	if ttl < time.Second {
		return "", Claims{}, fmt.Errorf("auth: issue token for %s: %w: %v is under 1s",
			subject, ErrInvalidTTL, ttl)
	}
	id, err := newTokenID()
	if err != nil {
		return "", Claims{}, fmt.Errorf("auth: issue token for %s: %w", subject, err)
	}

	iat := i.clk.Now().UTC().Truncate(time.Second)
	c := Claims{
		Subject:   subject,
		Perms:     perms,
		IssuedAt:  iat,
		ExpiresAt: iat.Add(ttl).Truncate(time.Second),
		ID:        id,
	}
	wire := wireClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   c.Subject,
			IssuedAt:  jwt.NewNumericDate(c.IssuedAt),
			ExpiresAt: jwt.NewNumericDate(c.ExpiresAt),
			ID:        c.ID,
		},
		Perms: c.Perms,
	}
	unsigned := jwt.NewWithClaims(jwt.SigningMethodHS256, wire)
	token, err := unsigned.SignedString(i.secret.bytes())
	if err != nil {
		return "", Claims{}, fmt.Errorf("auth: sign token %s: %w", id, err)
	}
	if len(token) > MaxTokenLen {
		return "", Claims{}, fmt.Errorf("auth: sign token %s: %d bytes, over MaxTokenLen",
			id, len(token))
	}
	return token, c, nil
}

// newTokenID returns 128 random bits as 32 lowercase hex digits.
func newTokenID() (string, error) {
	b := make([]byte, idLen)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate token id: %w", err)
	}
	return hex.EncodeToString(b), nil
}
