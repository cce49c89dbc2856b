// Package auth decides who may open a Whalecast session and what that session may do.
//
// # Tour
//
// A [Secret] is the HMAC key shared by the [Issuer] and the [Verifier]. It never prints,
// logs or marshals its bytes: every formatting path writes "[redacted]". [LoadSecret] finds
// it at startup, either in the WEBSOCKET_SECRET_KEY value the caller passes in or in the file
// secret.key under the data directory, which it creates on first run.
//
// An [Issuer] signs tokens: HS256 JWTs carrying the claims sub, perms, iat, exp and jti. A
// [Verifier] checks them and returns the [Claims]. Verification fails closed: the algorithm
// is pinned to HS256, every claim is required, permissions must all be known, and a token
// longer than [MaxTokenLen] is refused before it is parsed.
//
// A [Perm] names one permission. Permissions are independent: [PermAdmin] does not imply
// [PermRead] or [PermWrite]; a token carries every permission it grants.
//
// # Failures
//
// Every rejection by [Verifier.Verify] is an [*AuthError] whose [Reason] is a stable code a
// session can forward to its client. Its message never contains the token. All of them
// match [ErrInvalidToken] with errors.Is.
//
//	reason          meaning                                  client should
//	malformed       not a compact JWS, bad base64 or JSON,    fix the client
//	                wrong claim types, or over MaxTokenLen
//	bad_algorithm   alg is anything but HS256, or unknown     fix the client
//	bad_signature   the signature does not match the secret   get a new token
//	expired         now is at or past exp (plus leeway)       get a new token
//	not_yet_valid   iat or nbf is in the future (past leeway) check its clock, retry
//	missing_claim   sub, perms, iat, exp or jti is absent     get a new token
//	bad_claim       a claim is present but not acceptable     get a new token
//
// # Concurrency
//
// Secret, Issuer and Verifier are immutable after construction and safe for concurrent use
// by any number of session actors. LoadSecret touches the file system and is meant to be
// called once, from cmd/engine, before any session starts.
package auth
