package persistence

import (
	"fmt"

	"github.com/dgraph-io/badger/v4"
)

// RangeAudit implements SecurityStore. It seeks to the first key after after and reads at
// most limit events, never past the audit seq published when it started.
func (s *Badger) RangeAudit(after uint64, limit int) (out []AuditEvent, err error) {
	last := s.audit.lastSeq.Load()
	err = s.view(fmt.Sprintf("range audit after %d", after), func(txn *badger.Txn) error {
		if limit <= 0 || after >= last {
			return nil
		}
		want := min(uint64(limit), last-after)
		it := txn.NewIterator(badger.IteratorOptions{
			Prefix:         prefixAudit,
			PrefetchValues: true,
			PrefetchSize:   int(min(want, maxPrefetch)),
		})
		defer it.Close()

		out = make([]AuditEvent, 0, min(want, MaxAuditBatch))
		for it.Seek(auditKey(after + 1)); it.Valid() && uint64(len(out)) < want; it.Next() {
			item := it.Item()
			seq, ok := parseAuditKey(item.Key())
			if !ok {
				return fmt.Errorf("malformed audit key %x: %w", item.Key(), ErrCorrupt)
			}
			if seq > last {
				break
			}
			data, err := item.ValueCopy(nil)
			if err != nil {
				return fmt.Errorf("read audit event %d: %w", seq, err)
			}
			e, err := decodeAudit(seq, data)
			if err != nil {
				return err
			}
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Revocations implements SecurityStore. Badger hides the expired ones.
func (s *Badger) Revocations() (out []Revocation, err error) {
	err = s.view("list revocations", func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefixRevocation,
			PrefetchValues: true, PrefetchSize: maxPrefetch})
		defer it.Close()

		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			kind, value, ok := parseRevocationKey(item.Key())
			if !ok {
				return fmt.Errorf("malformed revocation key %q: %w", item.Key(), ErrCorrupt)
			}
			data, err := item.ValueCopy(nil)
			if err != nil {
				return fmt.Errorf("read %s revocation %q: %w", kind, value, err)
			}
			r, err := decodeRevocation(kind, value, data)
			if err != nil {
				return err
			}
			out = append(out, r)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// APIKeyByHash implements SecurityStore with one point lookup of the hash.
func (s *Badger) APIKeyByHash(hash [32]byte) (k APIKey, err error) {
	err = s.view("look up api key", func(txn *badger.Txn) error {
		k, err = getAPIKey(txn, hash)
		return err
	})
	if err != nil {
		return APIKey{}, err
	}
	if k.Revoked {
		return k, fmt.Errorf("persistence: api key %s: %w", k.ID, ErrRevoked)
	}
	return k, nil
}

// APIKeys implements SecurityStore. It loads every key: there are as many as operators
// created, not as many as clients connect.
func (s *Badger) APIKeys() (out []APIKey, err error) {
	err = s.view("list api keys", func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefixAPIKey,
			PrefetchValues: true, PrefetchSize: maxPrefetch})
		defer it.Close()

		for it.Rewind(); it.Valid(); it.Next() {
			data, err := it.Item().ValueCopy(nil)
			if err != nil {
				return fmt.Errorf("read api key: %w", err)
			}
			k, err := decodeAPIKey(data)
			if err != nil {
				return err
			}
			out = append(out, k)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sortAPIKeys(out)
	return out, nil
}

// view runs fn in a read-only transaction unless the store failed or closed, and turns a
// Badger panic after a failure into an error (see recoverRead).
func (s *Badger) view(op string, fn func(txn *badger.Txn) error) (err error) {
	s.closeMu.RLock()
	defer s.closeMu.RUnlock()

	if err := s.readable(); err != nil {
		return fmt.Errorf("persistence: %s: %w", op, err)
	}
	defer s.recoverRead(&err)
	if err := s.db.View(fn); err != nil {
		return fmt.Errorf("persistence: %s: %w", op, err)
	}
	return nil
}
