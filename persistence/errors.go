package persistence

import "errors"

var (
	// ErrFailed marks a store that lost a write. The store fails closed: every Append after
	// the first failed one returns an error wrapping ErrFailed (and the original cause),
	// Range refuses to read, and Health reports the cause until the process reopens the
	// store.
	ErrFailed = errors.New("persistence: store failed")

	// ErrLocked is returned by OpenBadger when another engine, in this process or another
	// one, holds the data directory.
	ErrLocked = errors.New("persistence: another engine uses the data directory")

	// ErrCorrupt is returned when the stored data breaks the store's own invariants (a
	// malformed key or counter, an alert numbered past the stored counter), or when Badger
	// refuses to open the directory's files. Badger reports damaged and unreadable files
	// alike, as text, so the message carries its reason.
	ErrCorrupt = errors.New("persistence: stored data is corrupt")

	// ErrClosed is returned by Append and Range once Close was called.
	ErrClosed = errors.New("persistence: store closed")

	// ErrInvalidBatch is returned by Append for a batch it refuses before writing anything:
	// more than MaxBatch records; a record with both or neither of Alert and Update; a
	// non-test alert or an update without a TxID or with one longer than MaxTxIDLen; an
	// update whose Status is not a known status or whose Previous is neither empty nor one;
	// a record that cannot be encoded; a record with both State and ForgetState, with a
	// State longer than MaxStateLen, or with either and no valid TxID; tracker states
	// longer than MaxBatchStateLen in all; on Badger, a batch beyond its transaction limit.
	// Nothing of the batch is stored and the store stays healthy.
	ErrInvalidBatch = errors.New("persistence: invalid batch")

	// ErrLooksSecret is returned, together with ErrInvalidBatch, by AppendAudit for an event
	// with a field that looks like a JWT or an API key, and together with ErrInvalidRecord by
	// PutRevocation and PutAPIKey for such a value. The message names the field, never the
	// value. RedactAuditEvent makes such an event storable.
	ErrLooksSecret = errors.New("persistence: audit field looks like a token or api key")

	// ErrInvalidRecord is returned by PutRevocation, PutAPIKey and RevokeAPIKey for a record
	// they refuse before touching storage (a missing or over-long field, an unknown kind, a
	// zero hash). Nothing is stored and the store stays healthy.
	ErrInvalidRecord = errors.New("persistence: invalid record")

	// ErrNotFound is returned by APIKeyByHash and RevokeAPIKey when no API key has the hash
	// or id asked for.
	ErrNotFound = errors.New("persistence: not found")

	// ErrExists is returned by PutAPIKey when an API key with the same hash or id is stored.
	ErrExists = errors.New("persistence: already exists")

	// ErrRevoked is returned by APIKeyByHash, together with the key's record, when the key
	// was revoked: a caller that only checks the error refuses the key.
	ErrRevoked = errors.New("persistence: api key revoked")

	// ErrMalformedAPIKey is returned by HashAPIKey for a string that is not an API key in
	// the format NewAPIKey makes. The message never contains the string.
	ErrMalformedAPIKey = errors.New("persistence: malformed api key")
)
