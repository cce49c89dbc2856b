package persistence

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"
)

var _ SecurityStore = (*Badger)(nil)

// auditState is the audit log's counter, kept like the alerts' one: the single writer
// numbers events from it and stores it in the events' transaction.
type auditState struct {
	lastSeq     atomic.Uint64 // highest audit seq committed; RangeAudit reads it lock-free
	lastExpires uint64        // newest audit expiry this process wrote; writeMu
}

// loadAudit reads the audit counter and checks that no event is numbered past it.
func (s *Badger) loadAudit(txn *badger.Txn) error {
	last, err := readCounter(txn, keyAuditLastSeq, "audit last seq")
	if err != nil {
		return err
	}

	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefixAudit, Reverse: true})
	defer it.Close()
	it.Seek(auditKey(^uint64(0)))
	if it.Valid() {
		seq, ok := parseAuditKey(it.Item().Key())
		if !ok {
			return fmt.Errorf("persistence: malformed audit key %x: %w", it.Item().Key(),
				ErrCorrupt)
		}
		if seq > last {
			return fmt.Errorf("persistence: audit event %d stored past audit last seq %d "+
				"in %s: %w", seq, last, s.opts.Dir, ErrCorrupt)
		}
	}
	s.audit.lastSeq.Store(last)
	return nil
}

// AppendAudit implements SecurityStore. The events and the new audit counter are written in
// one transaction that Badger fsyncs before Commit returns. It takes the same writer lock
// as Append, so alerts and security records never reach Badger after a failed write.
func (s *Badger) AppendAudit(events []AuditEvent) ([]AuditEvent, error) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	s.closeMu.RLock()
	defer s.closeMu.RUnlock()

	if err := s.readable(); err != nil {
		return nil, fmt.Errorf("persistence: append audit: %w", err)
	}
	if len(events) == 0 {
		return nil, nil
	}
	now := time.Now()
	first := s.audit.lastSeq.Load() + 1
	out, encoded, err := prepareAudit(events, first, now)
	if err != nil {
		return nil, err
	}

	last := out[len(out)-1].Seq
	expires := retentionExpiry(now, s.opts.Retention, s.audit.lastExpires)
	op := fmt.Sprintf("append audit seq %d..%d", first, last)
	err = s.update(op, func(txn *badger.Txn) error {
		for i, data := range encoded {
			if err := setEntry(txn, auditKey(out[i].Seq), data, expires); err != nil {
				return fmt.Errorf("write audit event %d: %w", out[i].Seq, err)
			}
		}
		return txn.Set(keyAuditLastSeq, encodeSeq(last))
	})
	if err != nil {
		return nil, err
	}

	s.audit.lastExpires = expires
	s.audit.lastSeq.Store(last)
	return out, nil
}

// PutRevocation implements SecurityStore. The entry expires at r.Until, rounded up to the
// second.
func (s *Badger) PutRevocation(r Revocation) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	s.closeMu.RLock()
	defer s.closeMu.RUnlock()

	if err := s.readable(); err != nil {
		return fmt.Errorf("persistence: put revocation: %w", err)
	}
	r, err := checkRevocation(r)
	if err != nil {
		return err
	}
	if !live(r.Until, time.Now()) {
		return nil
	}

	key := revocationKey(r.Kind, r.Value)
	return s.update(fmt.Sprintf("put %s revocation %q", r.Kind, r.Value),
		func(txn *badger.Txn) error {
			old, found, err := getRevocation(txn, key, r.Kind, r.Value)
			if err != nil {
				return err
			}
			if found {
				merged, changed := mergeRevocation(old, r)
				if !changed {
					return nil
				}
				r = merged
			}
			data, err := encodeRevocation(r)
			if err != nil {
				return fmt.Errorf("encode: %w: %w", ErrInvalidRecord, err)
			}
			return setEntry(txn, key, data, expiresAt(r.Until))
		})
}

// PutAPIKey implements SecurityStore. It writes the key's record under its hash and the
// id's index entry in one transaction.
func (s *Badger) PutAPIKey(k APIKey, hash [32]byte) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	s.closeMu.RLock()
	defer s.closeMu.RUnlock()

	if err := s.readable(); err != nil {
		return fmt.Errorf("persistence: put api key: %w", err)
	}
	k, err := checkAPIKey(k, hash)
	if err != nil {
		return err
	}
	data, err := encodeAPIKey(k)
	if err != nil {
		return fmt.Errorf("persistence: encode api key %s: %w: %w", k.ID, ErrInvalidRecord, err)
	}

	return s.update("put api key "+k.ID, func(txn *badger.Txn) error {
		for _, key := range [][]byte{apiKeyKey(hash), apiKeyIDKey(k.ID)} {
			found, err := exists(txn, key)
			if err != nil {
				return err
			}
			if found {
				return fmt.Errorf("an api key with this id or hash is stored: %w", ErrExists)
			}
		}
		if err := txn.Set(apiKeyKey(hash), data); err != nil {
			return fmt.Errorf("write: %w", err)
		}
		return txn.Set(apiKeyIDKey(k.ID), hash[:])
	})
}

// RevokeAPIKey implements SecurityStore.
func (s *Badger) RevokeAPIKey(id string) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	s.closeMu.RLock()
	defer s.closeMu.RUnlock()

	if err := s.readable(); err != nil {
		return fmt.Errorf("persistence: revoke api key: %w", err)
	}
	if !validAPIKeyID(id) || looksSecret(id) {
		return fmt.Errorf("persistence: revoke api key with a malformed id of %d bytes: %w",
			len(id), ErrNotFound)
	}

	return s.update("revoke api key "+id, func(txn *badger.Txn) error {
		hash, err := getAPIKeyHash(txn, id)
		if err != nil {
			return err
		}
		k, err := getAPIKey(txn, hash)
		if errors.Is(err, ErrNotFound) {
			return fmt.Errorf("id index names a missing key: %w", ErrCorrupt)
		}
		if err != nil {
			return err
		}

		k, changed := k.revoke(time.Now())
		if !changed {
			return nil
		}
		data, err := encodeAPIKey(k)
		if err != nil {
			return fmt.Errorf("encode: %w: %w", ErrCorrupt, err)
		}
		return txn.Set(apiKeyKey(hash), data)
	})
}

// update runs fn in one read-write transaction and commits it, fsynced. An error of fn
// that wraps a refusal (ErrNotFound, ErrExists, ErrInvalidRecord, ErrCorrupt) comes back
// wrapped and leaves the store healthy; any other error is a storage error and fails the
// store. The caller holds writeMu and closeMu (shared) and has checked readable.
func (s *Badger) update(op string, fn func(txn *badger.Txn) error) error {
	txn := s.db.NewTransaction(true)
	defer txn.Discard()

	err := fn(txn)
	if err == nil {
		if err = txn.Commit(); err != nil {
			err = fmt.Errorf("commit: %w", err)
		}
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrExists),
		errors.Is(err, ErrInvalidRecord), errors.Is(err, ErrCorrupt):
		return fmt.Errorf("persistence: %s: %w", op, err)
	}
	return s.fail(fmt.Errorf("persistence: %s: %w: %w", op, ErrFailed, err))
}

func exists(txn *badger.Txn, key []byte) (bool, error) {
	_, err := txn.Get(key)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, badger.ErrKeyNotFound):
		return false, nil
	}
	return false, fmt.Errorf("look up %q: %w", key[:2], err)
}

// getRevocation reads the live revocation stored under key, if any.
func getRevocation(txn *badger.Txn, key []byte, kind, value string) (Revocation, bool, error) {
	item, err := txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return Revocation{}, false, nil
	}
	if err != nil {
		return Revocation{}, false, fmt.Errorf("read: %w", err)
	}
	data, err := item.ValueCopy(nil)
	if err != nil {
		return Revocation{}, false, fmt.Errorf("read: %w", err)
	}
	r, err := decodeRevocation(kind, value, data)
	return r, err == nil, err
}

// getAPIKeyHash reads the hash of the key with this id, or returns ErrNotFound.
func getAPIKeyHash(txn *badger.Txn, id string) ([32]byte, error) {
	var hash [32]byte
	item, err := txn.Get(apiKeyIDKey(id))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return hash, fmt.Errorf("no api key with this id: %w", ErrNotFound)
	}
	if err != nil {
		return hash, fmt.Errorf("read id index: %w", err)
	}
	err = item.Value(func(v []byte) error {
		if len(v) != len(hash) {
			return fmt.Errorf("id index value of %d bytes: %w", len(v), ErrCorrupt)
		}
		copy(hash[:], v)
		return nil
	})
	return hash, err
}

// getAPIKey reads the key stored under hash, or returns ErrNotFound.
func getAPIKey(txn *badger.Txn, hash [32]byte) (APIKey, error) {
	item, err := txn.Get(apiKeyKey(hash))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return APIKey{}, fmt.Errorf("no api key with this hash: %w", ErrNotFound)
	}
	if err != nil {
		return APIKey{}, fmt.Errorf("read api key: %w", err)
	}
	data, err := item.ValueCopy(nil)
	if err != nil {
		return APIKey{}, fmt.Errorf("read api key: %w", err)
	}
	return decodeAPIKey(data)
}
