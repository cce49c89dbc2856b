package persistence

import (
	"fmt"

	"github.com/whalecast/whalecast/internal/alert"
)

// MaxBatch is the largest number of alerts one Append accepts. It keeps a Badger transaction
// far below Badger's own batch limit, so a large burst cannot turn into a store failure; the
// store actor splits longer queues.
const MaxBatch = 1024

// MaxTxIDLen is the longest TxID, in bytes, that a non-test alert may carry. A Bitcoin txid
// is 64 hex characters; the bound only keeps index keys small.
const MaxTxIDLen = 256

// Store persists alerts. Implementations are used by a single writer (the store actor) for
// Append, while Range, LastSeq, Count and Health may be called concurrently from other
// goroutines.
type Store interface {
	// Append persists the batch durably (fsynced before it returns) in one transaction and
	// numbers the new alerts densely: LastSeq()+1, +2, ... An alert whose TxID is already
	// stored (and which is not a Test alert) is skipped and takes no number; Test alerts are
	// never skipped and never enter the TxID index. It returns the stored ones in order
	// (Data = alert.EncodeData). On a storage error nothing of the batch is stored, no
	// number is consumed, and the store turns failed: that error and every later Append
	// error wrap ErrFailed (fail closed) and Health reports the cause. A batch refused by
	// validation returns ErrInvalidBatch and leaves the store healthy.
	Append(batch []alert.Alert) ([]alert.Stored, error)

	// Range returns up to limit stored alerts with seq > after, in seq order, reading one
	// page from a seek key (never the whole range). It returns no alerts for limit <= 0 or
	// after >= LastSeq(). The returned Data slices belong to the caller.
	Range(after uint64, limit int) ([]alert.Stored, error)

	// LastSeq returns the highest seq ever assigned (it survives retention expiry and
	// restarts).
	LastSeq() uint64

	// Count returns how many alerts are stored (maintained, not counted by a scan on each
	// call).
	Count() uint64

	// Health returns nil while writes work, the error that failed the store, or ErrClosed
	// after Close.
	Health() error

	// Close releases the store. It is idempotent: later calls return the first result.
	Close() error
}

// encodeBatch validates a batch and encodes each alert once. It returns ErrInvalidBatch for
// anything that must be refused before storage is touched.
func encodeBatch(batch []alert.Alert) ([][]byte, error) {
	if len(batch) > MaxBatch {
		return nil, fmt.Errorf("persistence: batch of %d alerts exceeds %d: %w",
			len(batch), MaxBatch, ErrInvalidBatch)
	}

	encoded := make([][]byte, len(batch))
	for i, a := range batch {
		if !a.Test && a.TxID == "" {
			return nil, fmt.Errorf("persistence: alert %d of batch has no txid: %w",
				i, ErrInvalidBatch)
		}
		if !a.Test && len(a.TxID) > MaxTxIDLen {
			return nil, fmt.Errorf("persistence: alert %d of batch has a %d-byte txid: %w",
				i, len(a.TxID), ErrInvalidBatch)
		}
		data, err := alert.EncodeData(a)
		if err != nil {
			return nil, fmt.Errorf("persistence: alert %d of batch: %w: %w",
				i, ErrInvalidBatch, err)
		}
		encoded[i] = data
	}
	return encoded, nil
}
