package auth

import (
	"errors"
	"fmt"
)

// Sentinel errors. Callers test them with errors.Is; the wrapping message adds the path or the
// offending count, never secret bytes or a token.
var (
	// ErrInvalidToken matches every *AuthError returned by Verifier.Verify.
	ErrInvalidToken = errors.New("auth: invalid token")
	// ErrWeakSecret means a secret is shorter than MinSecretLen bytes.
	ErrWeakSecret = errors.New("auth: secret too short")
	// ErrSecretPerms means the secret file can be read or written by group or others.
	ErrSecretPerms = errors.New("auth: secret file permissions too open")
	// ErrSecretFormat means the secret file is not a regular file of hex digits.
	ErrSecretFormat = errors.New("auth: secret file malformed")
	// ErrNoDataDir means LoadSecret was given neither a secret nor a data directory.
	ErrNoDataDir = errors.New("auth: no data directory for the secret file")
	// ErrUnknownPerm means a permission name is not one of the Perm constants.
	ErrUnknownPerm = errors.New("auth: unknown permission")
	// ErrNoPerms means a permission list is empty.
	ErrNoPerms = errors.New("auth: no permissions")
	// ErrInvalidSubject means a subject is empty, too long or has a forbidden character.
	ErrInvalidSubject = errors.New("auth: invalid subject")
	// ErrInvalidTTL means a token lifetime is shorter than one second.
	ErrInvalidTTL = errors.New("auth: invalid token lifetime")
	// ErrInvalidLeeway means a verifier leeway is negative or above MaxLeeway.
	ErrInvalidLeeway = errors.New("auth: invalid leeway")
	// ErrLifetimeTooLong means a token would live longer than the maximum lifetime.
	ErrLifetimeTooLong = errors.New("auth: token lifetime over the maximum")
	// ErrNoSigningKey means a key ring holds no key to sign with.
	ErrNoSigningKey = errors.New("auth: no signing key")
	// ErrKeyRingFormat means the key ring file is not a regular file holding a valid ring.
	ErrKeyRingFormat = errors.New("auth: key ring file malformed")
	// ErrInvalidKeyID means a kid is empty, too long, has a forbidden character or is
	// reserved.
	ErrInvalidKeyID = errors.New("auth: invalid key id")
	// ErrUnknownKey means no key of the ring has the given kid.
	ErrUnknownKey = errors.New("auth: unknown key id")
	// ErrKeyExists means a kid is already used by a key of the ring, retired ones included.
	ErrKeyExists = errors.New("auth: key id already in use")
	// ErrKeyRetired means the key was retired already.
	ErrKeyRetired = errors.New("auth: key already retired")
	// ErrLastSigningKey means retiring the key would leave the ring without a signing key.
	ErrLastSigningKey = errors.New("auth: cannot retire the only signing key")
	// ErrKeyType means imported key material is not an acceptable Ed25519 public key.
	ErrKeyType = errors.New("auth: not an acceptable Ed25519 public key")
)

// Reason is a stable, machine-readable code for why a token was rejected. Its values are
// part of the client protocol: add new ones, never rename one.
type Reason string

// Reasons reported by Verifier.Verify; doc.go tells what a client should do with each.
const (
	// ReasonMalformed means the token is not a compact JWS with JSON header and claims of the
	// right types, or it is longer than MaxTokenLen.
	ReasonMalformed Reason = "malformed"
	// ReasonBadAlgorithm means the header names no algorithm, one other than HS256 and
	// EdDSA, or one that differs from the algorithm pinned to the key its kid names.
	ReasonBadAlgorithm Reason = "bad_algorithm"
	// ReasonUnknownKey means the header has no kid, or one that names no key of the ring
	// or a retired key.
	ReasonUnknownKey Reason = "unknown_key"
	// ReasonBadSignature means the signature was not made with the key over these bytes.
	ReasonBadSignature Reason = "bad_signature"
	// ReasonExpired means the current time is at or after exp plus the leeway.
	ReasonExpired Reason = "expired"
	// ReasonNotYetValid means iat or nbf is later than the current time plus the leeway.
	ReasonNotYetValid Reason = "not_yet_valid"
	// ReasonMissingClaim means a required claim is absent or empty; Claim names it.
	ReasonMissingClaim Reason = "missing_claim"
	// ReasonBadClaim means a claim is present but unacceptable; Claim names it.
	ReasonBadClaim Reason = "bad_claim"
	// ReasonLifetimeTooLong means exp - iat is over the verifier's maximum lifetime; Claim is
	// "exp".
	ReasonLifetimeTooLong Reason = "lifetime_too_long"
	// ReasonRevoked means the token passed every other check but the revocation hook
	// refused it.
	ReasonRevoked Reason = "revoked"
)

// AuthError is the error Verifier.Verify returns for every rejected token. Use errors.As to
// read its Reason. Its message is built only from the reason, the claim name and a fixed
// description, never from the token or anything decoded from it.
type AuthError struct {
	// Reason is the stable code for the failure.
	Reason Reason
	// Claim names the claim at fault ("exp", "perms", ...), or is empty.
	Claim string

	detail string
}

// Error returns "auth: invalid token: <reason>", then the claim and a fixed description.
func (e *AuthError) Error() string {
	msg := fmt.Sprintf("%v: %s", ErrInvalidToken, e.Reason)
	if e.Claim != "" {
		msg += " (" + e.Claim + ")"
	}
	if e.detail != "" {
		msg += ": " + e.detail
	}
	return msg
}

// Unwrap returns ErrInvalidToken, so that errors.Is(err, ErrInvalidToken) holds.
func (e *AuthError) Unwrap() error { return ErrInvalidToken }

func reject(reason Reason, claim, detail string) *AuthError {
	return &AuthError{Reason: reason, Claim: claim, detail: detail}
}

// ReasonOf returns the stable reason code of a verification error (an *AuthError), or
// "invalid_token" for any other error. It never returns anything taken from the token.
func ReasonOf(err error) string {
	var ae *AuthError
	if errors.As(err, &ae) {
		return string(ae.Reason)
	}
	return "invalid_token"
}
