package auth

import (
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Limits on the string claims. A subject or token id may hold ASCII letters, digits and the
// characters . _ : @ -, so that both are safe to log as they are.
const (
	// MaxSubjectLen is the longest accepted sub claim, in bytes.
	MaxSubjectLen = 128
	// MaxIDLen is the longest accepted jti claim, in bytes.
	MaxIDLen = 64
)

// Claims is what a verified token says about its bearer.
type Claims struct {
	// Subject identifies the client (the sub claim).
	Subject string
	// Perms lists what the client may do, without duplicates (the perms claim).
	Perms []Perm
	// IssuedAt is when the token was signed, in UTC, to the second (the iat claim).
	IssuedAt time.Time
	// ExpiresAt is the first instant the token is no longer valid, in UTC, to the second
	// (the exp claim).
	ExpiresAt time.Time
	// ID is the token's unique id (the jti claim), usable to revoke or audit one token.
	ID string
	// Issuer is the iss claim, or empty when the token has none.
	Issuer string
	// Audience lists the aud claim's values, or is nil when the token has none.
	Audience []string
	// KeyID is the kid of the key that signed the token (a header field, not a claim).
	KeyID string
	// OriginID and OriginKeyID are set on a token made by an in-band refresh: the jti and
	// kid of the first token of the chain (claims ojti and okid). Revoking that jti or
	// retiring that key ends every token refreshed from it.
	OriginID    string
	OriginKeyID string
}

// root returns the jti and kid a refresh of c must carry: its origin's, or its own.
func (c Claims) root() (jti, kid string) {
	if c.OriginID != "" {
		return c.OriginID, c.OriginKeyID
	}
	return c.ID, c.KeyID
}

// Has reports whether the claims grant p.
func (c Claims) Has(p Perm) bool {
	return HasPerm(c.Perms, p)
}

// wireClaims is the JSON payload of a token.
type wireClaims struct {
	jwt.RegisteredClaims
	Perms []Perm `json:"perms"`
	// OriginID and OriginKeyID: see Claims.
	OriginID    string `json:"ojti,omitempty"`
	OriginKeyID string `json:"okid,omitempty"`
}

// validName reports whether s is 1 to maxLen bytes of the characters allowed in sub and jti.
func validName(s string, maxLen int) bool {
	if s == "" || len(s) > maxLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '.', c == '_', c == ':', c == '@', c == '-':
		default:
			return false
		}
	}
	return true
}

// ValidName reports whether s could be a token's sub or jti: 1 to maxLen bytes of letters,
// digits and . _ : @ -. Other layers use it to check client ids before they store them.
func ValidName(s string, maxLen int) bool {
	return validName(s, maxLen)
}
