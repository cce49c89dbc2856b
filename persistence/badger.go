package persistence

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// DefaultGCInterval is how often the value-log GC runs when BadgerOptions.GCInterval is 0.
const DefaultGCInterval = 10 * time.Minute

// FailedCloseTimeout is how long Close waits for Badger once the store has failed. Badger
// retries a failed memtable flush once a second, so after the directory is repaired Close
// needs up to that second plus the flush: the bound must stay well above one second.
const FailedCloseTimeout = 10 * time.Second

// Bounds of BadgerOptions.MemTableSize other than 0. Badger cannot open a memtable of
// 2 GiB or more: its log file is twice its size, and Badger addresses it in 32 bits.
const (
	MinMemTableSize = 1 << 20 // 1 MiB
	MaxMemTableSize = 1 << 30 // 1 GiB
)

// gcDiscardRatio is the share of stale data a value-log file needs before GC rewrites it.
const gcDiscardRatio = 0.5

// BadgerOptions configures OpenBadger. Every field but Dir has a working zero value.
type BadgerOptions struct {
	// Dir is the directory Badger lives in (the engine passes DATA/badger). It is created
	// with mode 0700 when missing. Required.
	Dir string

	// Retention is how long a record (alert or update), an alert's txid index entry and
	// the tracker state written with a record are kept. Expiry works in whole seconds: a
	// record lives at least Retention and less than Retention plus one second. 0 keeps
	// records forever; the engine passes 90 days. Values below one second (other than 0)
	// are rejected.
	Retention time.Duration

	// Logger receives the store's lines and Badger's own. nil discards them.
	Logger *slog.Logger

	// GCInterval is the period of the value-log GC. 0 means DefaultGCInterval; negative
	// values are rejected.
	GCInterval time.Duration

	// MemTableSize is the size in bytes of Badger's memtables. 0 keeps Badger's default
	// (64 MiB), which production uses. A small size makes Badger create files often, so
	// that tests see a broken directory after a little data. Values outside
	// MinMemTableSize..MaxMemTableSize are rejected. When it is set, Badger's value
	// threshold becomes a 1024th of it (at most Badger's default, 1 MiB), which keeps the
	// values in the LSM tree small next to Badger's transaction limit, 15% of a memtable.
	MemTableSize int64

	// tune adjusts Badger's options after the store set its own. Tests use it to shrink
	// memtables so that a file rotation, and thus a directory failure, comes quickly.
	tune func(badger.Options) badger.Options

	// closeTimeout replaces FailedCloseTimeout when set; tests shorten it.
	closeTimeout time.Duration
}

// Badger is a Store and a SecurityStore on one Badger database. See the package
// documentation for durability, key layout and the concurrency contract.
type Badger struct {
	db   *badger.DB
	lock *dirLock
	opts BadgerOptions
	log  *slog.Logger

	// writeMu serialises Append and the value-log GC. Lock order: writeMu, closeMu,
	// countMu.
	writeMu     sync.Mutex
	lastExpires uint64 // newest expiry this process wrote, so it never goes back; writeMu

	// closeMu is held shared by every operation that touches Badger and exclusively by
	// Close.
	closeMu  sync.RWMutex
	closed   atomic.Bool // set under closeMu, read without it by Health
	closeErr error

	lastSeq atomic.Uint64

	failMu sync.Mutex
	failed error // wraps ErrFailed once a write failed

	// countMu guards the oldest stored record. Records expire in seq order, so the stored
	// ones are exactly oldestSeq..lastSeq.
	countMu       sync.Mutex
	oldestSeq     uint64 // lastSeq+1 when nothing is stored
	oldestExpires uint64 // unix second at which oldestSeq expires; 0 = never

	audit auditState // the audit log's counter (badger_security.go)

	stopGC   chan struct{}
	stopOnce sync.Once
	gcDone   chan struct{}
}

var _ Store = (*Badger)(nil)

// OpenBadger opens (or creates) the store in opts.Dir. It returns an error wrapping
// ErrLocked when another engine holds the directory and one wrapping ErrCorrupt when the
// stored data is damaged. Before Badger opens, it removes the empty log files that a kill
// in the middle of Badger creating or deleting one leaves (see removeEmptyLogs): Badger
// alone would refuse the directory for good.
func OpenBadger(opts BadgerOptions) (*Badger, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	lock, err := prepareDir(opts.Dir, opts.Logger)
	if err != nil {
		return nil, err
	}
	db, err := openDB(opts)
	if err != nil {
		_ = lock.release()
		return nil, err
	}

	s := &Badger{
		db:     db,
		lock:   lock,
		opts:   opts,
		log:    opts.Logger,
		stopGC: make(chan struct{}),
		gcDone: make(chan struct{}),
	}
	if err := s.load(); err != nil {
		_ = db.Close()
		_ = lock.release()
		return nil, err
	}

	go s.runGC()
	s.log.Info("store opened", "dir", opts.Dir, "last_seq", s.LastSeq(), "count", s.Count())
	return s, nil
}

func (o BadgerOptions) withDefaults() (BadgerOptions, error) {
	switch {
	case o.Dir == "":
		return o, errors.New("persistence: badger options: Dir is empty")
	case o.Retention < 0 || (o.Retention > 0 && o.Retention < time.Second):
		return o, fmt.Errorf("persistence: badger options: retention %v is not 0 or >= 1s",
			o.Retention)
	case o.GCInterval < 0:
		return o, fmt.Errorf("persistence: badger options: negative GC interval %v",
			o.GCInterval)
	case o.MemTableSize != 0 &&
		(o.MemTableSize < MinMemTableSize || o.MemTableSize > MaxMemTableSize):
		return o, fmt.Errorf("persistence: badger options: memtable size %d is not 0 or "+
			"%d to %d", o.MemTableSize, MinMemTableSize, MaxMemTableSize)
	}

	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.GCInterval == 0 {
		o.GCInterval = DefaultGCInterval
	}
	if o.closeTimeout == 0 {
		o.closeTimeout = FailedCloseTimeout
	}
	return o, nil
}

// openDB opens Badger with synchronous writes: a commit returns only after its WAL is
// fsynced, and concurrent readers cannot see it before that (see doc.go).
func openDB(opts BadgerOptions) (*badger.DB, error) {
	bopts := badger.DefaultOptions(opts.Dir).
		WithSyncWrites(true).
		WithDetectConflicts(false).
		WithLogger(badgerLogger{log: opts.Logger})
	if opts.MemTableSize > 0 {
		bopts = bopts.WithMemTableSize(opts.MemTableSize).
			WithValueThreshold(min(opts.MemTableSize>>10, bopts.ValueThreshold))
	}
	if opts.tune != nil {
		bopts = opts.tune(bopts)
	}

	db, err := badger.Open(bopts)
	if err == nil {
		return db, nil
	}
	if strings.Contains(err.Error(), "Another process is using this Badger database") {
		return nil, fmt.Errorf("persistence: open %s: %w", opts.Dir, ErrLocked)
	}
	return nil, fmt.Errorf("persistence: open badger in %s (damaged or unreadable files): "+
		"%w: %v", opts.Dir, ErrCorrupt, err)
}

// load reads the counter and the oldest and newest stored records, and checks that no
// record is numbered past the counter.
func (s *Badger) load() error {
	return s.db.View(func(txn *badger.Txn) error {
		last, err := readLastSeq(txn)
		if err != nil {
			return err
		}

		newest, ok, err := edgeRecord(txn, 0, true)
		if err != nil {
			return err
		}
		if ok && newest.seq > last {
			return fmt.Errorf("persistence: record %d stored past last seq %d in %s: %w",
				newest.seq, last, s.opts.Dir, ErrCorrupt)
		}

		oldest, ok, err := edgeRecord(txn, 1, false)
		if err != nil {
			return err
		}
		s.lastSeq.Store(last)
		s.oldestSeq, s.oldestExpires = last+1, 0
		if ok {
			s.oldestSeq, s.oldestExpires = oldest.seq, oldest.expires
		}
		return s.loadAudit(txn)
	})
}

func readLastSeq(txn *badger.Txn) (uint64, error) {
	return readCounter(txn, keyLastSeq, "last seq")
}

// readCounter reads an 8-byte counter stored under key, 0 when it is missing; name says
// which counter in errors.
func readCounter(txn *badger.Txn, key []byte, name string) (uint64, error) {
	item, err := txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("persistence: read %s: %w", name, err)
	}

	var last uint64
	var ok bool
	err = item.Value(func(v []byte) error {
		last, ok = decodeSeq(v)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("persistence: read %s: %w", name, err)
	}
	if !ok {
		return 0, fmt.Errorf("persistence: %s is not 8 bytes: %w", name, ErrCorrupt)
	}
	return last, nil
}

// storedEdge is the seq and expiry (unix seconds, 0 = never) of one stored record.
type storedEdge struct {
	seq     uint64
	expires uint64
}

// edgeRecord returns the first live record at or after seq from (or the last one, when
// reverse is set); ok is false when there is none. Expired records are skipped by Badger.
func edgeRecord(txn *badger.Txn, from uint64, reverse bool) (storedEdge, bool, error) {
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefixRecord, Reverse: reverse})
	defer it.Close()

	seek := recordKey(from)
	if reverse {
		seek = recordKey(^uint64(0))
	}
	it.Seek(seek)
	if !it.Valid() {
		return storedEdge{}, false, nil
	}

	item := it.Item()
	seq, ok := parseRecordKey(item.Key())
	if !ok {
		return storedEdge{}, false, fmt.Errorf("persistence: malformed record key %x: %w",
			item.Key(), ErrCorrupt)
	}
	return storedEdge{seq: seq, expires: item.ExpiresAt()}, true, nil
}

// LastSeq implements Store.
func (s *Badger) LastSeq() uint64 {
	return s.lastSeq.Load()
}

// Health implements Store.
func (s *Badger) Health() error {
	if err := s.failure(); err != nil {
		return err
	}
	if s.closed.Load() {
		return ErrClosed
	}
	return nil
}

func (s *Badger) failure() error {
	s.failMu.Lock()
	defer s.failMu.Unlock()
	return s.failed
}

// fail records the error that failed the store and returns it.
func (s *Badger) fail(err error) error {
	s.failMu.Lock()
	s.failed = err
	s.failMu.Unlock()

	s.log.Error("store failed", "dir", s.opts.Dir, "err", err)
	return err
}

// Close implements Store. It stops the value-log GC, closes Badger and releases the
// directory lock. On a failed store it waits at most FailedCloseTimeout (see doc.go).
func (s *Badger) Close() error {
	s.stopOnce.Do(func() { close(s.stopGC) })
	<-s.gcDone

	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	if s.closed.Load() {
		return s.closeErr
	}
	s.closed.Store(true)

	s.closeErr = s.closeDB()
	s.log.Info("store closed", "dir", s.opts.Dir, "last_seq", s.LastSeq(), "err", s.closeErr)
	return s.closeErr
}

// closeDB closes Badger, then releases the directory lock. Once a write failed, Badger may
// retry flushing a memtable into the broken directory forever, and its Close waits for
// that; the store then gives up waiting after closeTimeout and leaves the close running,
// so the lock is released only if Badger ever finishes.
func (s *Badger) closeDB() error {
	done := make(chan error, 1)
	go func() {
		err := s.db.Close()
		if err != nil {
			err = fmt.Errorf("persistence: close badger in %s: %w", s.opts.Dir, err)
		}
		done <- errors.Join(err, s.lock.release())
	}()

	failed := s.failure()
	if failed == nil {
		return <-done
	}
	select {
	case err := <-done:
		return err
	case <-time.After(s.opts.closeTimeout):
		return fmt.Errorf("persistence: close %s: badger still busy after %v, left running: %w",
			s.opts.Dir, s.opts.closeTimeout, failed)
	}
}
