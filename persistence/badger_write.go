package persistence

import (
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/whalecast/whalecast/internal/alert"
)

// Append implements Store. The records, their txid index entries, their tracker states and
// the new last seq are written in one transaction that Badger fsyncs before Commit returns.
// Beyond the checks of ErrInvalidBatch, a batch that exceeds Badger's own transaction limit
// is refused the same way: only alerts with very large fields can reach it.
func (s *Badger) Append(batch []alert.Record) ([]alert.Stored, error) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	s.closeMu.RLock()
	defer s.closeMu.RUnlock()

	if err := s.failure(); err != nil {
		return nil, fmt.Errorf("persistence: append: %w", err)
	}
	if s.closed.Load() {
		return nil, fmt.Errorf("persistence: append: %w", ErrClosed)
	}
	if len(batch) == 0 {
		return nil, nil
	}
	recs, err := checkBatch(batch)
	if err != nil {
		return nil, err
	}

	first := s.lastSeq.Load() + 1
	expires := s.expiry(time.Now())
	out, err := s.commit(recs, first, expires)
	if errors.Is(err, ErrInvalidBatch) {
		return nil, err
	}
	if err != nil {
		return nil, s.fail(fmt.Errorf("persistence: append batch at seq %d: %w: %w",
			first, ErrFailed, err))
	}
	if len(out) == 0 {
		return nil, nil
	}

	s.publish(out, expires)
	return out, nil
}

// expiry returns the unix second at which records written now expire (0 = never). It
// rounds up, so a record lives at least the retention, and never goes below the previous
// batch's in this process, so records expire in seq order even if the wall clock steps
// back.
func (s *Badger) expiry(now time.Time) uint64 {
	return retentionExpiry(now, s.opts.Retention, s.lastExpires)
}

// retentionExpiry returns the unix second at which a record written at now with this
// retention expires (0 = never), rounded up and never below floor.
func retentionExpiry(now time.Time, retention time.Duration, floor uint64) uint64 {
	if retention == 0 {
		return 0
	}
	return max(expiresAt(now.Add(retention)), floor)
}

// commit writes the batch in one transaction and returns the records it numbered; it
// writes nothing when every record is a duplicate alert. An error wraps ErrInvalidBatch
// when the batch was refused and Badger is untouched.
func (s *Badger) commit(recs []checked, first, expires uint64) ([]alert.Stored, error) {
	txn := s.db.NewTransaction(true)
	defer txn.Discard()

	writes, err := planBatch(recs, first, func(txid string) (uint64, bool, error) {
		return lookupTxID(txn, txid)
	})
	if err != nil || len(writes) == 0 {
		return nil, err
	}

	err = writeBatch(txn, writes, expires)
	if errors.Is(err, badger.ErrTxnTooBig) {
		return nil, fmt.Errorf("persistence: batch at seq %d: %v: %w", first, err, ErrInvalidBatch)
	}
	if err != nil {
		return nil, err
	}

	last := writes[len(writes)-1].Seq
	if err := txn.Commit(); err != nil {
		return nil, fmt.Errorf("commit seq %d..%d: %w", first, last, err)
	}

	out := make([]alert.Stored, len(writes))
	for i, w := range writes {
		out[i] = w.Stored
	}
	return out, nil
}

// writeBatch adds the records and the new last seq to txn.
func writeBatch(txn *badger.Txn, writes []write, expires uint64) error {
	for _, w := range writes {
		if err := writeRecord(txn, w, expires); err != nil {
			return err
		}
	}

	last := writes[len(writes)-1].Seq
	if err := txn.Set(keyLastSeq, encodeSeq(last)); err != nil {
		return fmt.Errorf("write last seq %d: %w", last, err)
	}
	return nil
}

// writeRecord adds one record to txn: its txid index entry if it is a real alert, the
// record itself, and the change of its tracker state.
func writeRecord(txn *badger.Txn, w write, expires uint64) error {
	if w.index {
		if err := setEntry(txn, txIDKey(w.txid), encodeSeq(w.Seq), expires); err != nil {
			return fmt.Errorf("index txid %s: %w", w.txid, err)
		}
	}
	if err := setEntry(txn, recordKey(w.Seq), recordValue(w.Kind, w.Data), expires); err != nil {
		return fmt.Errorf("write %s %d: %w", w.Kind, w.Seq, err)
	}

	switch {
	case w.forget:
		if err := txn.Delete(stateKey(w.txid)); err != nil {
			return fmt.Errorf("forget state of %s: %w", w.txid, err)
		}
	case len(w.state) > 0:
		if err := setEntry(txn, stateKey(w.txid), w.state, expires); err != nil {
			return fmt.Errorf("write state of %s: %w", w.txid, err)
		}
	}
	return nil
}

// lookupTxID returns the seq of the alert that the txid index holds for txid.
func lookupTxID(txn *badger.Txn, txid string) (uint64, bool, error) {
	item, err := txn.Get(txIDKey(txid))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("look up txid %s: %w", txid, err)
	}

	var seq uint64
	var ok bool
	err = item.Value(func(v []byte) error {
		seq, ok = decodeSeq(v)
		return nil
	})
	if err != nil {
		return 0, false, fmt.Errorf("look up txid %s: %w", txid, err)
	}
	if !ok {
		return 0, false, fmt.Errorf("index entry of txid %s is not 8 bytes: %w", txid, ErrCorrupt)
	}
	return seq, true, nil
}

func setEntry(txn *badger.Txn, key, value []byte, expires uint64) error {
	e := badger.NewEntry(key, value)
	e.ExpiresAt = expires
	return txn.SetEntry(e)
}

// publish makes a committed batch visible to LastSeq, Count and Range.
func (s *Badger) publish(out []alert.Stored, expires uint64) {
	s.lastExpires = expires

	s.countMu.Lock()
	defer s.countMu.Unlock()
	if s.oldestSeq > s.lastSeq.Load() {
		s.oldestSeq, s.oldestExpires = out[0].Seq, expires
	}
	s.lastSeq.Store(out[len(out)-1].Seq)
}

// runGC runs the value-log GC every GCInterval until Close.
func (s *Badger) runGC() {
	defer close(s.gcDone)

	tick := time.NewTicker(s.opts.GCInterval)
	defer tick.Stop()
	for {
		select {
		case <-s.stopGC:
			return
		case <-tick.C:
			s.collect()
		}
	}
}

// collect rewrites value-log files until Badger finds none worth rewriting. It holds
// writeMu so that it never runs on a Badger whose write path has just failed.
func (s *Badger) collect() {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()

	for rewrites := 0; ; rewrites++ {
		select {
		case <-s.stopGC:
			return
		default:
		}
		if s.failure() != nil {
			return
		}

		err := s.db.RunValueLogGC(gcDiscardRatio)
		switch {
		case err == nil:
			continue
		case errors.Is(err, badger.ErrNoRewrite), errors.Is(err, badger.ErrRejected):
			s.log.Debug("value log gc done", "dir", s.opts.Dir, "rewrites", rewrites)
		default:
			s.log.Warn("value log gc failed", "dir", s.opts.Dir, "err", err)
		}
		return
	}
}
