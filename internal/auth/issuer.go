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

// DefaultMaxLifetime is the longest token lifetime (exp - iat) that an Issuer signs and a
// Verifier accepts unless their options say otherwise.
const DefaultMaxLifetime = 7 * 24 * time.Hour

// IssuerOptions tunes an Issuer. The zero value signs tokens of up to DefaultMaxLifetime
// with neither iss nor aud.
type IssuerOptions struct {
	// MaxLifetime is the longest ttl Issue accepts (ErrLifetimeTooLong above it); 0 means
	// DefaultMaxLifetime. It cannot be turned off; give it the verifiers' value.
	MaxLifetime time.Duration
	// Issuer, if not empty, is written as the iss claim.
	Issuer string
	// Audience, if not empty, is written as the aud claim (a list of one, as jwt/v5 writes it).
	Audience string
}

// Issuer signs session tokens with the signing key of a Ring. It is immutable and safe for
// concurrent use; it picks up a new signing key as soon as the ring has one.
type Issuer struct {
	ring *Ring
	clk  clock.Clock
	opts IssuerOptions
}

// NewIssuer returns an Issuer that signs with secret alone, under kid EnvKeyID, and reads the
// time from clk; a nil clk means clock.Real. Its tokens verify on an engine whose
// WEBSOCKET_SECRET_KEY holds the same secret. It fails with ErrWeakSecret if secret is
// shorter than MinSecretLen.
func NewIssuer(secret Secret, clk clock.Clock) (*Issuer, error) {
	if secret.Len() < MinSecretLen {
		return nil, fmt.Errorf("auth: new issuer: %w", ErrWeakSecret)
	}
	return NewRingIssuer(memoryRing(EnvKeyID, secret), clk, IssuerOptions{})
}

// NewRingIssuer returns an Issuer that signs with the signing key of ring, whichever it is
// at the time of each Issue, and reads the time from clk; a nil clk means clock.Real. It
// fails with ErrNoSigningKey if ring has no signing key and with ErrInvalidTTL if
// opts.MaxLifetime is negative.
func NewRingIssuer(ring *Ring, clk clock.Clock, opts IssuerOptions) (*Issuer, error) {
	if ring == nil || ring.signing() == nil {
		return nil, fmt.Errorf("auth: new issuer: %w", ErrNoSigningKey)
	}
	if opts.MaxLifetime < 0 {
		return nil, fmt.Errorf("auth: new issuer: %w: max lifetime %v is negative",
			ErrInvalidTTL, opts.MaxLifetime)
	}
	if opts.MaxLifetime == 0 {
		opts.MaxLifetime = DefaultMaxLifetime
	}
	if clk == nil {
		clk = clock.Real{}
	}
	return &Issuer{ring: ring, clk: clk, opts: opts}, nil
}

// MaxLifetime returns the longest ttl Issue accepts.
func (i *Issuer) MaxLifetime() time.Duration { return i.opts.MaxLifetime }

// Issue signs an HS256 token for subject with the given permissions, valid for ttl from now.
// Its header names the signing key's kid; its claims include iss and aud when the options
// set them.
//
// The subject must be 1 to MaxSubjectLen bytes of ASCII letters, digits and . _ : @ -
// (ErrInvalidSubject); perms must hold at least one permission (ErrNoPerms), all known
// (ErrUnknownPerm), and duplicates are dropped. Token times have whole-second precision, so
// iat is now rounded down to the second, exp is iat+ttl rounded down to the second, and ttl
// must be at least one second (ErrInvalidTTL) and at most the maximum lifetime
// (ErrLifetimeTooLong). The returned Claims are exactly what Verify will return for the
// token.
func (i *Issuer) Issue(subject string, perms []Perm, ttl time.Duration) (string, Claims, error) {
	return i.issue(subject, perms, ttl, "", "")
}

// Refresh signs a new token for the bearer of c (same client and permissions, a new jti,
// valid for ttl from now) that remembers the first token of its chain: revoking that
// token's jti or retiring its key ends the refreshed one too.
func (i *Issuer) Refresh(c Claims, ttl time.Duration) (string, Claims, error) {
	jti, kid := c.root()
	return i.issue(c.Subject, c.Perms, ttl, jti, kid)
}

func (i *Issuer) issue(subject string, perms []Perm, ttl time.Duration,
	originID, originKeyID string) (string, Claims, error) {
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
	if ttl > i.opts.MaxLifetime {
		return "", Claims{}, fmt.Errorf("auth: issue token for %s: %w: %v is over %v",
			subject, ErrLifetimeTooLong, ttl, i.opts.MaxLifetime)
	}
	key := i.ring.signing()
	if key == nil {
		return "", Claims{}, fmt.Errorf("auth: issue token for %s: %w", subject,
			ErrNoSigningKey)
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
		Issuer:    i.opts.Issuer,
		KeyID:     key.info.KID,

		OriginID:    originID,
		OriginKeyID: originKeyID,
	}
	if i.opts.Audience != "" {
		c.Audience = []string{i.opts.Audience}
	}
	wire := wireClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   c.Subject,
			Issuer:    c.Issuer,
			Audience:  c.Audience,
			IssuedAt:  jwt.NewNumericDate(c.IssuedAt),
			ExpiresAt: jwt.NewNumericDate(c.ExpiresAt),
			ID:        c.ID,
		},
		Perms:       c.Perms,
		OriginID:    originID,
		OriginKeyID: originKeyID,
	}
	unsigned := jwt.NewWithClaims(jwt.SigningMethodHS256, wire)
	unsigned.Header["kid"] = key.info.KID
	token, err := unsigned.SignedString(key.secret.bytes())
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
