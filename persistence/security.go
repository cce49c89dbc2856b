package persistence

import "time"

// Limits on security records. They keep records small and bound what one caller can make
// the store hold.
const (
	// MaxAuditBatch is the largest number of events one AppendAudit accepts.
	MaxAuditBatch = 1024

	// MaxAuditFieldLen is the longest string field of an AuditEvent, of a Revocation's Value
	// and of an APIKey's Client, in bytes.
	MaxAuditFieldLen = 256

	// MaxAuditTypeLen is the longest AuditEvent.Type, in bytes.
	MaxAuditTypeLen = 64

	// MaxAPIKeyIDLen is the longest APIKey.ID, in bytes.
	MaxAPIKeyIDLen = 64

	// MaxAPIKeyPerms is the largest number of permissions one APIKey may carry.
	MaxAPIKeyPerms = 16

	// MaxPermLen is the longest permission name of an APIKey, in bytes.
	MaxPermLen = 32
)

// Audit event types written by the access layer. AppendAudit accepts any type made of
// lowercase letters, digits and underscores; these are the ones the engine uses.
const (
	// AuditAuthSuccess records a token or API key accepted.
	AuditAuthSuccess = "auth_success"
	// AuditAuthFailure records a token or API key refused; Reason says why.
	AuditAuthFailure = "auth_failure"
	// AuditTokenRefreshed records a token issued in-band for a session's old one.
	AuditTokenRefreshed = "token_refreshed"
	// AuditTokenRevoked records the revocation of one token by jti.
	AuditTokenRevoked = "token_revoked"
	// AuditClientRevoked records the revocation of every token of a client.
	AuditClientRevoked = "client_revoked"
	// AuditIPBanned records an IP address banned after repeated auth failures.
	AuditIPBanned = "ip_banned"
	// AuditKeyRotated records a new signing key added to the key ring.
	AuditKeyRotated = "key_rotated"
	// AuditKeyRetired records a key removed from the key ring.
	AuditKeyRetired = "key_retired"
	// AuditKeyImported records an outside issuer's public key added to the key ring.
	AuditKeyImported = "key_imported"
	// AuditAPIKeyCreated records a new API key.
	AuditAPIKeyCreated = "apikey_created"
	// AuditAPIKeyRevoked records an API key revoked.
	AuditAPIKeyRevoked = "apikey_revoked"
	// AuditTestPublished records synthetic test alerts published through the admin API.
	AuditTestPublished = "test_published"
)

// AuditEvent is one entry of the audit log. Every string field but Type is optional. No
// field may hold a token, a secret or an API key: AppendAudit refuses a field that looks
// like a JWT or an API key (see ErrLooksSecret), which catches mistakes but cannot
// recognise raw secret bytes, so callers never hand secret material to the audit log.
type AuditEvent struct {
	// Seq numbers the event in the audit log, densely from 1, separately from alert seqs.
	// AppendAudit assigns it; a value set by the caller is ignored.
	Seq uint64

	// Time is when the event happened, stored in UTC. AppendAudit sets the current time when
	// it is zero.
	Time time.Time

	// Type says what happened, e.g. AuditAuthFailure: 1 to MaxAuditTypeLen bytes of
	// lowercase ASCII letters, digits and underscores.
	Type string

	// Client is the client id (the token's sub or the API key's client) when known.
	Client string

	// Remote is the client's IP address, as netip.ParseAddr reads it, without a port.
	Remote string

	// Reason is a short stable code, e.g. the auth failure reason.
	Reason string

	// KeyID is the kid of a signing key or the id of an API key.
	KeyID string

	// TokenID is a token's jti: an identifier, never the token.
	TokenID string

	// Detail is free text for an operator.
	Detail string
}

// Revocation kinds.
const (
	// RevokeJTI revokes the one token whose jti is Value.
	RevokeJTI = "jti"

	// RevokeClient revokes every token issued to the client Value before At.
	RevokeClient = "client"
)

// Revocation withdraws tokens before they expire. It is kept until Until and then dropped:
// a jti revocation lives until the token would have expired; a client revocation lives until
// every token issued before At would have expired, so the caller passes Until = At plus the
// longest token lifetime.
type Revocation struct {
	// Kind is RevokeJTI or RevokeClient.
	Kind string

	// Value is the jti or the client id, 1 to MaxAuditFieldLen bytes.
	Value string

	// At is when the revocation was made; for RevokeClient, tokens issued before At are
	// revoked. Required; stored in UTC.
	At time.Time

	// Until is when the revocation may be forgotten. It must not be before At; stored in UTC.
	Until time.Time
}

// APIKey is what the store keeps about an API key: never the key itself, only its hash,
// which PutAPIKey takes separately and APIKey does not carry. API keys do not expire with
// the retention; they stay until the operator revokes them, and stay listed after that.
type APIKey struct {
	// ID is the key's public id, used to list and revoke it: 1 to MaxAPIKeyIDLen bytes of
	// ASCII letters, digits, '-' and '_'. NewAPIKey draws one.
	ID string

	// Client is the client the key acts for, 1 to MaxAuditFieldLen bytes.
	Client string

	// Perms are the permissions the key grants: 1 to MaxAPIKeyPerms names of 1 to
	// MaxPermLen lowercase ASCII letters, digits and underscores. The store does not know
	// which names exist; the access layer checks them.
	Perms []string

	// Created is when the key was made. Required; stored in UTC.
	Created time.Time

	// Revoked is set by RevokeAPIKey; PutAPIKey refuses a key that has it set.
	Revoked bool

	// RevokedAt is when RevokeAPIKey first revoked the key, in UTC; zero while it is live.
	RevokedAt time.Time
}

// SecurityStore keeps the access layer's records: the audit log, token revocations and
// API keys. *Badger keeps them in the same database as the alerts and *Memory in memory;
// persistence/storetest.RunSecurityContract checks both.
//
// Every method may be called from any goroutine. Writes are durable (fsynced) before they
// return. They share the alert store's failure state: a storage error in any write fails
// the whole store, that write and every later write or read return errors wrapping
// ErrFailed, and Health reports the cause. After Close every method returns ErrClosed.
type SecurityStore interface {
	// AppendAudit stores the events in one transaction, numbered densely after the last
	// audit seq, with the store's retention, and returns them as stored (Seq set, Time in
	// UTC). A batch it refuses before touching storage (over MaxAuditBatch events, or any
	// event that fails CheckAuditEvent) returns ErrInvalidBatch, stores nothing and leaves
	// the store healthy. An empty batch stores nothing.
	AppendAudit(events []AuditEvent) ([]AuditEvent, error)

	// RangeAudit returns up to limit audit events with seq > after, in seq order, reading
	// one page from a seek key. It returns none for limit <= 0. Events past the retention
	// are gone, so a page may start after after+1.
	RangeAudit(after uint64, limit int) ([]AuditEvent, error)

	// PutRevocation stores r until r.Until. It is idempotent per Kind and Value: a repeat
	// keeps the later At and the later Until, so it never narrows a stored revocation. A
	// revocation whose Until has passed revokes nothing and is not stored. An invalid r
	// returns ErrInvalidRecord.
	PutRevocation(r Revocation) error

	// Revocations returns every revocation whose Until has not passed, ordered by Kind and
	// Value, for loading into memory at start.
	Revocations() ([]Revocation, error)

	// PutAPIKey stores a new API key under the SHA-256 hash of its plaintext (see
	// HashAPIKey). It returns ErrExists when the hash or the id is stored already and
	// ErrInvalidRecord for an invalid k or a zero hash.
	PutAPIKey(k APIKey, hash [32]byte) error

	// APIKeyByHash returns the API key stored under hash. It returns ErrNotFound when there
	// is none, and the key together with an error wrapping ErrRevoked when it was revoked.
	APIKeyByHash(hash [32]byte) (APIKey, error)

	// APIKeys returns every stored API key, revoked ones included, ordered by Created and
	// then ID.
	APIKeys() ([]APIKey, error)

	// RevokeAPIKey marks the key with this id revoked from now on. Revoking a revoked key
	// again changes nothing and returns nil; an unknown id returns ErrNotFound.
	RevokeAPIKey(id string) error
}
