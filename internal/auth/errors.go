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
)

// Reason is a stable, machine-readable code for why a token was rejected. Its values are
// part of the client protocol: add new ones, never rename one.
type Reason string

// Reasons reported by Verifier.Verify; doc.go tells what a client should do with each.
const (
	// ReasonMalformed means the token is not a compact JWS with JSON header and claims of the
	// right types, or it is longer than MaxTokenLen.
	ReasonMalformed Reason = "malformed"
	// ReasonBadAlgorithm means the header names an algorithm other than HS256, or none at all.
	ReasonBadAlgorithm Reason = "bad_algorithm"
	// ReasonBadSignature means the signature was not made with this secret over these bytes.
	ReasonBadSignature Reason = "bad_signature"
	// ReasonExpired means the current time is at or after exp plus the leeway.
	ReasonExpired Reason = "expired"
	// ReasonNotYetValid means iat or nbf is later than the current time plus the leeway.
	ReasonNotYetValid Reason = "not_yet_valid"
	// ReasonMissingClaim means a required claim is absent or empty; Claim names it.
	ReasonMissingClaim Reason = "missing_claim"
	// ReasonBadClaim means a claim is present but unacceptable; Claim names it.
	ReasonBadClaim Reason = "bad_claim"
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
