package persistence

import (
	"cmp"
	"fmt"
	"slices"
	"time"
)

var _ SecurityStore = (*Memory)(nil)

// memorySecurity holds Memory's security records. Audit events are kept forever (Memory
// has no retention); revocations are dropped once their Until has passed, as in Badger.
type memorySecurity struct {
	audit       []AuditEvent // audit[i].Seq == i+1
	revocations map[revocationID]Revocation
	keys        map[[32]byte]APIKey
	keyIDs      map[string][32]byte
}

type revocationID struct{ kind, value string }

// writable returns why the store must not be written or read: a failed write or Close.
// Caller holds mu.
func (m *Memory) writable() error {
	if m.failed != nil {
		return m.failed
	}
	if m.closed {
		return ErrClosed
	}
	return nil
}

// injectedFailure fails the store with the error armed by FailWrites, if any. Caller holds
// mu for writing.
func (m *Memory) injectedFailure(op string) error {
	if m.injected == nil {
		return nil
	}
	m.failed = fmt.Errorf("persistence: %s: %w: %w", op, ErrFailed, m.injected)
	m.injected = nil
	return m.failed
}

// AppendAudit implements SecurityStore.
func (m *Memory) AppendAudit(events []AuditEvent) ([]AuditEvent, error) {
	m.mu.Lock()
	defer m.mu.Unlock()

	if err := m.writable(); err != nil {
		return nil, fmt.Errorf("persistence: append audit to memory store: %w", err)
	}
	if len(events) == 0 {
		return nil, nil
	}
	first := uint64(len(m.sec.audit)) + 1
	out, _, err := prepareAudit(events, first, time.Now())
	if err != nil {
		return nil, err
	}
	if err := m.injectedFailure(fmt.Sprintf("append audit at seq %d", first)); err != nil {
		return nil, err
	}

	m.sec.audit = append(m.sec.audit, out...)
	return out, nil
}

// RangeAudit implements SecurityStore.
func (m *Memory) RangeAudit(after uint64, limit int) ([]AuditEvent, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()

	if err := m.writable(); err != nil {
		return nil, fmt.Errorf("persistence: range audit after %d: %w", after, err)
	}
	last := uint64(len(m.sec.audit))
	if limit <= 0 || after >= last {
		return nil, nil
	}
	return slices.Clone(m.sec.audit[after:min(last, after+uint64(limit))]), nil
}

// PutRevocation implements SecurityStore.
func (m *Memory) PutRevocation(r Revocation) error {
	m.mu.Lock()
	defer m.mu.Unlock()

	if err := m.writable(); err != nil {
		return fmt.Errorf("persistence: put revocation: %w", err)
	}
	r, err := checkRevocation(r)
	if err != nil {
		return err
	}
	now := time.Now()
	if !live(r.Until, now) {
		return nil
	}

	id := revocationID{r.Kind, r.Value}
	if old, ok := m.sec.revocations[id]; ok && live(old.Until, now) {
		merged, changed := mergeRevocation(old, r)
		if !changed {
			return nil
		}
		r = merged
	}
	op := fmt.Sprintf("put %s revocation %q", r.Kind, r.Value)
	if err := m.injectedFailure(op); err != nil {
		return err
	}

	if m.sec.revocations == nil {
		m.sec.revocations = make(map[revocationID]Revocation)
	}
	for id, old := range m.sec.revocations {
		if !live(old.Until, now) {
			delete(m.sec.revocations, id)
		}
	}
	m.sec.revocations[id] = r
	return nil
}

// Revocations implements SecurityStore.
func (m *Memory) Revocations() ([]Revocation, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()

	if err := m.writable(); err != nil {
		return nil, fmt.Errorf("persistence: list revocations: %w", err)
	}
	now := time.Now()
	var out []Revocation
	for _, r := range m.sec.revocations {
		if live(r.Until, now) {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b Revocation) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Value, b.Value))
	})
	return out, nil
}

// PutAPIKey implements SecurityStore.
func (m *Memory) PutAPIKey(k APIKey, hash [32]byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()

	if err := m.writable(); err != nil {
		return fmt.Errorf("persistence: put api key: %w", err)
	}
	k, err := checkAPIKey(k, hash)
	if err != nil {
		return err
	}
	_, hashTaken := m.sec.keys[hash]
	_, idTaken := m.sec.keyIDs[k.ID]
	if hashTaken || idTaken {
		return fmt.Errorf("persistence: put api key %s: an api key with this id or hash is "+
			"stored: %w", k.ID, ErrExists)
	}
	if err := m.injectedFailure("put api key " + k.ID); err != nil {
		return err
	}

	if m.sec.keys == nil {
		m.sec.keys = make(map[[32]byte]APIKey)
		m.sec.keyIDs = make(map[string][32]byte)
	}
	m.sec.keys[hash], m.sec.keyIDs[k.ID] = k, hash
	return nil
}

// APIKeyByHash implements SecurityStore.
func (m *Memory) APIKeyByHash(hash [32]byte) (APIKey, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()

	if err := m.writable(); err != nil {
		return APIKey{}, fmt.Errorf("persistence: look up api key: %w", err)
	}
	k, ok := m.sec.keys[hash]
	if !ok {
		return APIKey{}, fmt.Errorf("persistence: look up api key: no api key with this "+
			"hash: %w", ErrNotFound)
	}
	k.Perms = slices.Clone(k.Perms)
	if k.Revoked {
		return k, fmt.Errorf("persistence: api key %s: %w", k.ID, ErrRevoked)
	}
	return k, nil
}

// APIKeys implements SecurityStore.
func (m *Memory) APIKeys() ([]APIKey, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()

	if err := m.writable(); err != nil {
		return nil, fmt.Errorf("persistence: list api keys: %w", err)
	}
	var out []APIKey
	for _, k := range m.sec.keys {
		k.Perms = slices.Clone(k.Perms)
		out = append(out, k)
	}
	sortAPIKeys(out)
	return out, nil
}

// RevokeAPIKey implements SecurityStore.
func (m *Memory) RevokeAPIKey(id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()

	if err := m.writable(); err != nil {
		return fmt.Errorf("persistence: revoke api key: %w", err)
	}
	hash, ok := m.sec.keyIDs[id]
	if !ok {
		return fmt.Errorf("persistence: revoke api key: no api key with an id of %d bytes: %w",
			len(id), ErrNotFound)
	}
	k, changed := m.sec.keys[hash].revoke(time.Now())
	if !changed {
		return nil
	}
	if err := m.injectedFailure("revoke api key " + id); err != nil {
		return err
	}

	m.sec.keys[hash] = k
	return nil
}
