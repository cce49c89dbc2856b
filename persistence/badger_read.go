package persistence

import (
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/whalecast/whalecast/internal/alert"
)

// maxPrefetch bounds how many values one Range iterator fetches ahead.
const maxPrefetch = 100

// Range implements Store. It seeks to the first key after after and reads at most limit
// records, never past the LastSeq published when it started.
func (s *Badger) Range(after uint64, limit int) (out []alert.Stored, err error) {
	s.closeMu.RLock()
	defer s.closeMu.RUnlock()

	if err := s.readable(); err != nil {
		return nil, fmt.Errorf("persistence: range after %d: %w", after, err)
	}
	last := s.lastSeq.Load()
	if limit <= 0 || after >= last {
		return nil, nil
	}

	want := min(uint64(limit), last-after)
	defer s.recoverRead(&err)
	err = s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{
			Prefix:         prefixRecord,
			PrefetchValues: true,
			PrefetchSize:   int(min(want, maxPrefetch)),
		})
		defer it.Close()

		out = make([]alert.Stored, 0, min(want, 1024))
		for it.Seek(recordKey(after + 1)); it.Valid() && uint64(len(out)) < want; it.Next() {
			item := it.Item()
			seq, ok := parseRecordKey(item.Key())
			if !ok {
				return fmt.Errorf("malformed record key %x: %w", item.Key(), ErrCorrupt)
			}
			if seq > last {
				break
			}
			v, err := item.ValueCopy(nil)
			if err != nil {
				return fmt.Errorf("read record %d: %w", seq, err)
			}
			kind, data, ok := parseRecordValue(v)
			if !ok {
				return fmt.Errorf("record %d has no known kind: %w", seq, ErrCorrupt)
			}
			out = append(out, alert.Stored{Seq: seq, Kind: kind, Data: data})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("persistence: range after %d: %w", after, err)
	}
	return out, nil
}

// readable returns why Badger must not be read: a failed write or Close. Caller holds
// closeMu.
func (s *Badger) readable() error {
	if err := s.failure(); err != nil {
		return err
	}
	if s.closed.Load() {
		return ErrClosed
	}
	return nil
}

// recoverRead turns a panic inside a Badger read into an error, but only once the store
// has failed: Badger v4.9.6 keeps no mutable memtable after it could not create a new one,
// and every later read then dereferences nil. Any other panic is a bug and goes on.
func (s *Badger) recoverRead(err *error) {
	r := recover()
	if r == nil {
		return
	}
	failed := s.failure()
	if failed == nil {
		panic(r)
	}
	*err = fmt.Errorf("persistence: read after failure (%v): %w", r, failed)
}

// Count implements Store. Records expire in seq order, so the stored ones are always
// oldestSeq..LastSeq; Count only seeks to the new oldest record after the previous one
// expired, which costs one iterator seek per expiry step instead of a scan per call. While
// Close runs, Count returns the last known figure instead of waiting.
func (s *Badger) Count() uint64 {
	open := s.closeMu.TryRLock()
	if open {
		defer s.closeMu.RUnlock()
	}
	s.countMu.Lock()
	defer s.countMu.Unlock()

	last := s.lastSeq.Load()
	expired := s.oldestExpires != 0 && uint64(time.Now().Unix()) >= s.oldestExpires
	if open && s.oldestSeq <= last && expired && s.readable() == nil {
		s.advanceOldest(last)
	}
	if s.oldestSeq > last {
		return 0
	}
	return last - s.oldestSeq + 1
}

// advanceOldest moves oldestSeq to the first record still stored. On a read error it keeps
// the old value and logs: Count is a gauge, and the next call tries again.
func (s *Badger) advanceOldest(last uint64) {
	var edge storedEdge
	var ok bool
	err := func() (err error) {
		defer s.recoverRead(&err)
		return s.db.View(func(txn *badger.Txn) error {
			var viewErr error
			edge, ok, viewErr = edgeRecord(txn, s.oldestSeq, false)
			return viewErr
		})
	}()
	if err != nil {
		s.log.Warn("count expired records", "dir", s.opts.Dir, "err", err)
		return
	}

	if !ok || edge.seq > last {
		s.oldestSeq, s.oldestExpires = last+1, 0
		return
	}
	s.oldestSeq, s.oldestExpires = edge.seq, edge.expires
}
