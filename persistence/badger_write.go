package persistence

import (
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/whalecast/whalecast/internal/alert"
)

// Append implements Store. The alerts, their txid index entries and the new last seq are
// written in one transaction that Badger fsyncs before Commit returns.
func (s *Badger) Append(batch []alert.Alert) ([]alert.Stored, error) {
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
	encoded, err := encodeBatch(batch)
	if err != nil {
		return nil, err
	}

	first := s.lastSeq.Load() + 1
	expires := s.expiry(time.Now())
	out, err := s.commit(batch, encoded, first, expires)
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

// expiry returns the unix second at which alerts written now expire (0 = never). It rounds
// up, so an alert lives at least the retention, and never goes below the previous batch's
// in this process, so alerts expire in seq order even if the wall clock steps back.
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

// commit writes the batch in one transaction and returns the alerts it numbered; it writes
// nothing when every alert is a duplicate.
func (s *Badger) commit(batch []alert.Alert, encoded [][]byte, first, expires uint64) (
	[]alert.Stored, error) {
	txn := s.db.NewTransaction(true)
	defer txn.Discard()

	var out []alert.Stored
	seen := make(map[string]struct{}, len(batch))
	for i, a := range batch {
		seq := first + uint64(len(out))
		if !a.Test {
			dup, err := isStored(txn, seen, a.TxID)
			if err != nil {
				return nil, err
			}
			if dup {
				continue
			}
			seen[a.TxID] = struct{}{}
			if err := setEntry(txn, txIDKey(a.TxID), encodeSeq(seq), expires); err != nil {
				return nil, fmt.Errorf("index txid %s: %w", a.TxID, err)
			}
		}
		if err := setEntry(txn, alertKey(seq), encoded[i], expires); err != nil {
			return nil, fmt.Errorf("write alert %d: %w", seq, err)
		}
		out = append(out, alert.Stored{Seq: seq, Data: encoded[i]})
	}
	if len(out) == 0 {
		return nil, nil
	}

	last := out[len(out)-1].Seq
	if err := txn.Set(keyLastSeq, encodeSeq(last)); err != nil {
		return nil, fmt.Errorf("write last seq %d: %w", last, err)
	}
	if err := txn.Commit(); err != nil {
		return nil, fmt.Errorf("commit seq %d..%d: %w", first, last, err)
	}
	return out, nil
}

// isStored reports whether txid is already in the index or earlier in the same batch.
func isStored(txn *badger.Txn, seen map[string]struct{}, txid string) (bool, error) {
	if _, dup := seen[txid]; dup {
		return true, nil
	}

	_, err := txn.Get(txIDKey(txid))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, badger.ErrKeyNotFound):
		return false, nil
	default:
		return false, fmt.Errorf("look up txid %s: %w", txid, err)
	}
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
