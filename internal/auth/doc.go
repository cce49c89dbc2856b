// Package auth decides who may open a Whalecast session and what that session may do.
//
// # Tour
//
// A [Ring] holds the keys that sign and verify tokens, each named by a kid and pinned to one
// algorithm: HS256 secrets the engine signs with, and Ed25519 public keys of outside issuers
// whose tokens the engine only verifies (algorithm EdDSA). [LoadRing] keeps it in the file
// keys.json under the data directory (mode 0600, replaced whole on every change, refused if
// group or others can read it); on first run it creates the file, importing the secret.key of
// older versions as kid k0 when there is one. The value of WEBSOCKET_SECRET_KEY, when the
// caller passes it in, becomes an extra HS256 key, kid env, that signs and is never written.
//
// Exactly one HS256 key signs: the newest. [Ring.Rotate] adds a new one and keeps the
// previous as verify-only, so tokens already out keep working; [Ring.Retire] stops a key from
// verifying anything and erases its material; [Ring.ImportPublic] adds an Ed25519 public key.
// Those edits may come from another process (the `engine keys` commands) while the engine
// runs: [Ring.Reload] reads the file again when it changed, and [Ring.Watch] does so every
// second.
//
// A [Secret] is one HMAC key. It never prints, logs or marshals its bytes: every formatting
// path writes "[redacted]". [KeyInfo], what [Ring.List] returns, holds no key material.
//
// An [Issuer] signs tokens: HS256 JWTs whose header names the signing key's kid, carrying the
// claims sub, perms, iat, exp and jti, and iss and aud when configured. It refuses a lifetime
// over the maximum ([DefaultMaxLifetime], 7 days, unless configured). A [Verifier] checks
// them and returns the [Claims]. Verification fails closed: the kid must name a key that is
// not retired, the header's algorithm must be the one pinned to that key (so neither none
// nor an HS256 token keyed with an Ed25519 public key passes), every claim is required,
// permissions must all be known, exp - iat must be within the maximum lifetime, iss and aud
// must match when configured, and a token longer than [MaxTokenLen] is refused before it is
// parsed. Last, an optional revocation hook may refuse a token that passed everything else.
//
// [NewIssuer] and [NewVerifier] are shorthands for a ring of one secret, kid env: what an
// engine started with the same WEBSOCKET_SECRET_KEY uses.
//
// A [Perm] names one permission. Permissions are independent: [PermAdmin] does not imply
// [PermRead] or [PermWrite]; a token carries every permission it grants.
//
// # Failures
//
// Every rejection by [Verifier.Verify] is an [*AuthError] whose [Reason] is a stable code a
// session can forward to its client. Its message never contains the token, nor anything
// decoded from it such as the kid. All of them match [ErrInvalidToken] with errors.Is. A
// token with several faults gets the reason of the first check it fails: form, then
// algorithm and key, then signature, then claims, then time, and revocation last.
//
//	reason             meaning                                     client should
//	malformed          not a compact JWS, bad base64 or JSON,      fix the client
//	                   wrong claim types, crit header, or over
//	                   MaxTokenLen
//	bad_algorithm      alg is missing, neither HS256 nor EdDSA,    fix the client
//	                   or not the algorithm pinned to the kid's
//	                   key
//	unknown_key        kid missing, unknown, or of a retired key   get a new token
//	bad_signature      the signature does not match the key        get a new token
//	missing_claim      sub, perms, iat, exp or jti is absent, or   get a new token
//	                   iss/aud when the verifier requires them
//	bad_claim          a claim is present but not acceptable,      get a new token
//	                   including a wrong iss or aud
//	lifetime_too_long  exp - iat is over the maximum lifetime      get a shorter-lived token
//	expired            now is at or past exp (plus leeway)         get a new token
//	not_yet_valid      iat or nbf is in the future (past leeway)   check its clock, retry
//	revoked            the revocation hook refused the token       get a new token
//
// A lifetime over the maximum has a reason of its own rather than bad_claim, so that an
// outside issuer configured with too long a lifetime is told so plainly.
//
// # Concurrency
//
// Secret, Issuer and Verifier are immutable after construction and safe for concurrent use
// by any number of session actors. A Ring is safe for concurrent use: readers take an
// immutable snapshot of its keys through an atomic pointer, and Reload and the edits swap in
// a new one. Edits from several processes are serialised by an flock on .keys.lock in the
// data directory (a no-op outside Unix). LoadRing, Reload and the edits touch the file
// system and may block on it; Verify and Issue never do. Watch blocks until its context is
// done and must run in a goroutine of its own. The Revoked hook runs inside Verify, on the
// caller's goroutine.
package auth
