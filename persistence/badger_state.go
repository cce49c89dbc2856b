package persistence

import (
	"fmt"

	"github.com/dgraph-io/badger/v4"
)

// statePageLen and statePageBytes bound one page of States: a page ends after either, so at
// most statePageBytes plus one MaxStateLen are held at once.
const (
	statePageLen   = 256
	statePageBytes = 1 << 20
)

// stateEntry is one tracker state read by States.
type stateEntry struct {
	txid  string
	state []byte
}

// States implements Store. It reads the states one page at a time, each page in its own
// read transaction under the close lock, and calls fn between pages without holding any
// lock, so fn may call the store and a Close ends the walk with ErrClosed.
func (s *Badger) States(fn func(txid string, state []byte) error) error {
	seek := prefixState
	// Each page starts past the last key of the one before, so the walk ends after as many
	// pages as the states fill.
	for {
		page, more, err := s.statePage(seek)
		if err != nil {
			return fmt.Errorf("persistence: states: %w", err)
		}

		for _, e := range page {
			if err := fn(e.txid, e.state); err != nil {
				return fmt.Errorf("persistence: states at txid %s: %w", e.txid, err)
			}
		}
		if !more {
			return nil
		}
		seek = append(stateKey(page[len(page)-1].txid), 0)
	}
}

// statePage reads the states from the key seek on, up to statePageLen of them or
// statePageBytes; more reports whether states are left after the page.
func (s *Badger) statePage(seek []byte) (page []stateEntry, more bool, err error) {
	s.closeMu.RLock()
	defer s.closeMu.RUnlock()

	if err := s.readable(); err != nil {
		return nil, false, err
	}

	defer s.recoverRead(&err)
	err = s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefixState})
		defer it.Close()

		size := 0
		for it.Seek(seek); it.Valid(); it.Next() {
			if len(page) == statePageLen || size >= statePageBytes {
				more = true
				return nil
			}
			item := it.Item()
			txid, ok := parseStateKey(item.Key())
			if !ok {
				return fmt.Errorf("malformed state key %x: %w", item.Key(), ErrCorrupt)
			}
			state, err := item.ValueCopy(nil)
			if err != nil {
				return fmt.Errorf("read state of %s: %w", txid, err)
			}
			page = append(page, stateEntry{txid: txid, state: state})
			size += len(state)
		}
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	return page, more, nil
}

// AlertSeq implements Store.
func (s *Badger) AlertSeq(txid string) (seq uint64, ok bool, err error) {
	s.closeMu.RLock()
	defer s.closeMu.RUnlock()

	if err := s.readable(); err != nil {
		return 0, false, fmt.Errorf("persistence: alert seq of %s: %w", txid, err)
	}
	defer s.recoverRead(&err)
	err = s.db.View(func(txn *badger.Txn) error {
		seq, ok, err = lookupTxID(txn, txid)
		return err
	})
	if err != nil {
		return 0, false, fmt.Errorf("persistence: alert seq of %s: %w", txid, err)
	}
	return seq, ok, nil
}
