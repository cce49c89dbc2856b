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

	// ErrInvalidBatch is returned by Append for a batch it refuses before touching storage:
	// more than MaxBatch alerts, a non-test alert without a TxID or with a TxID longer than
	// MaxTxIDLen, or an alert that cannot be encoded. Nothing of the batch is stored and the
	// store stays healthy.
	ErrInvalidBatch = errors.New("persistence: invalid batch")
)
