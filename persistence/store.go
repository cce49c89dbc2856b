package persistence

import (
	"github.com/whalecast/whalecast/internal/alert"
)

// MaxBatch is the largest number of records one Append accepts. It keeps a Badger
// transaction far below Badger's own batch limit, so a large burst cannot turn into a store
// failure; the store actor splits longer queues.
const MaxBatch = 1024

// MaxTxIDLen is the longest TxID, in bytes, that a non-test alert, an update or a record
// with tracker state may carry. A Bitcoin txid is 64 hex characters; the bound only keeps
// index keys small.
const MaxTxIDLen = 256

// MaxStateLen is the largest tracker state, in bytes, that one record may carry.
const MaxStateLen = 1 << 20

// MaxBatchStateLen is the largest sum of the tracker states of one batch, in bytes. With
// MaxBatch it keeps a batch inside Badger's transaction limit (15% of a 64 MiB memtable).
const MaxBatchStateLen = 4 << 20

// Store persists alerts, their status updates and the lifecycle tracker's state. Its
// implementations are used by a single writer (the store actor) for Append, while Range,
// States, LastSeq, Count and Health may be called concurrently from other goroutines.
type Store interface {
	// Append persists the batch durably (fsynced before it returns) in one transaction and
	// numbers the new records densely, alerts and updates alike: LastSeq()+1, +2, ...
	//
	// An alert whose TxID is already stored (and which is not a Test alert) is skipped:
	// it takes no number and writes nothing, not even its State. Test alerts are never
	// skipped and never enter the TxID index.
	//
	// An update is never skipped. The store fills its AlertSeq with the seq of the alert
	// of its TxID, stored earlier in the same batch or before; when that alert is unknown
	// (expired by retention, later in the batch, never stored or only as a Test alert)
	// AlertSeq is 0 and the update is stored all the same. The caller's Update is not
	// modified: the filled one is in the result's Data.
	//
	// A record's State replaces the stored tracker state of its TxID and ForgetState
	// deletes it, in the same transaction as the record; an empty State leaves it as it
	// is. States expire with the record they were written with.
	//
	// Append returns the stored records in order, with Kind set and Data the encoding
	// (alert.EncodeData or alert.EncodeUpdate). On a storage error nothing of the batch is
	// stored, no number is consumed, and the store turns failed: that error and every later
	// Append error wrap ErrFailed (fail closed) and Health reports the cause. A batch
	// refused by validation (see ErrInvalidBatch) stores nothing and leaves the store
	// healthy.
	Append(batch []alert.Record) ([]alert.Stored, error)

	// Range returns up to limit stored records, both kinds, with seq > after, in seq
	// order, reading one page from a seek key (never the whole range). It returns nothing
	// for limit <= 0 or after >= LastSeq(). The returned Data slices belong to the caller.
	Range(after uint64, limit int) ([]alert.Stored, error)

	// States calls fn with every stored tracker state, in byte order of the txids. It
	// reads them a page at a time, so it holds one page however many there are (Memory
	// copies them all at once), and calls fn without holding the store's locks, so fn may
	// call the store; fn may keep the state slice. States stops at the first error fn
	// returns and returns it wrapped. It is meant for the tracker's start, before the
	// tracker writes: a state written while it runs may or may not be seen. It fails like
	// Range on a failed or closed store.
	States(fn func(txid string, state []byte) error) error

	// AlertSeq returns the seq of the stored alert of txid, if the txid index holds one
	// (test alerts never enter it; an alert past retention has left it).
	AlertSeq(txid string) (seq uint64, ok bool, err error)

	// LastSeq returns the highest seq ever assigned (it survives retention expiry and
	// restarts).
	LastSeq() uint64

	// Count returns how many records (alerts and updates) are stored, maintained rather
	// than counted by a scan on each call.
	Count() uint64

	// Health returns nil while writes work, the error that failed the store, or ErrClosed
	// after Close.
	Health() error

	// Close releases the store. It is idempotent: later calls return the first result.
	Close() error
}
