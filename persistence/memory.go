package persistence

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/whalecast/whalecast/internal/alert"
)

// Memory is a Store and a SecurityStore held in memory, with the same numbering, dedupe and
// failure semantics as Badger but no retention and no durability. It is meant for tests and
// benchmarks.
type Memory struct {
	mu       sync.RWMutex
	records  []alert.Stored // records[i].Seq == i+1
	byTxID   map[string]uint64
	states   map[string][]byte
	injected error // fails the next write when set
	failed   error // wraps ErrFailed once a write failed
	closed   bool
	sec      memorySecurity // the security records (memory_security.go)
}

var _ Store = (*Memory)(nil)

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory {
	return &Memory{byTxID: make(map[string]uint64), states: make(map[string][]byte)}
}

// FailWrites makes the next write that reaches storage (an Append or a SecurityStore write)
// fail with err, as if the disk had refused it; the store then fails closed like a Badger
// store would, for alerts and security records alike. A nil err disarms a pending failure.
func (m *Memory) FailWrites(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.injected = err
}

// Append implements Store. A failure armed by FailWrites hits any valid, non-empty batch,
// even one of duplicates only.
func (m *Memory) Append(batch []alert.Record) ([]alert.Stored, error) {
	m.mu.Lock()
	defer m.mu.Unlock()

	if err := m.writable(); err != nil {
		return nil, fmt.Errorf("persistence: append to memory store: %w", err)
	}
	if len(batch) == 0 {
		return nil, nil
	}
	recs, err := checkBatch(batch)
	if err != nil {
		return nil, err
	}

	first := uint64(len(m.records)) + 1
	if err := m.injectedFailure(fmt.Sprintf("append batch at seq %d", first)); err != nil {
		return nil, err
	}
	writes, err := planBatch(recs, first, m.lookupTxID)
	if err != nil || len(writes) == 0 {
		return nil, err
	}

	out := make([]alert.Stored, len(writes))
	for i, w := range writes {
		out[i] = w.Stored
		m.apply(w)
	}
	return out, nil
}

// AlertSeq implements Store.
func (m *Memory) AlertSeq(txid string) (uint64, bool, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()

	if m.failed != nil {
		return 0, false, fmt.Errorf("persistence: alert seq of %s: %w", txid, m.failed)
	}
	if m.closed {
		return 0, false, fmt.Errorf("persistence: alert seq of %s: %w", txid, ErrClosed)
	}
	return m.lookupTxID(txid)
}

// lookupTxID is the indexLookup of Memory; it never fails. Caller holds mu.
func (m *Memory) lookupTxID(txid string) (uint64, bool, error) {
	seq, ok := m.byTxID[txid]
	return seq, ok, nil
}

// apply stores one planned record, copying what the caller may reuse. Caller holds mu for
// writing.
func (m *Memory) apply(w write) {
	m.records = append(m.records, alert.Stored{Seq: w.Seq, Kind: w.Kind,
		Data: bytes.Clone(w.Data)})
	if w.index {
		m.byTxID[w.txid] = w.Seq
	}

	switch {
	case w.forget:
		delete(m.states, w.txid)
	case len(w.state) > 0:
		m.states[w.txid] = bytes.Clone(w.state)
	}
}

// Range implements Store.
func (m *Memory) Range(after uint64, limit int) ([]alert.Stored, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()

	if err := m.writable(); err != nil {
		return nil, fmt.Errorf("persistence: range after %d: %w", after, err)
	}
	last := uint64(len(m.records))
	if limit <= 0 || after >= last {
		return nil, nil
	}

	page := m.records[after:min(last, after+uint64(limit))]
	out := make([]alert.Stored, len(page))
	for i, s := range page {
		out[i] = alert.Stored{Seq: s.Seq, Kind: s.Kind, Data: bytes.Clone(s.Data)}
	}
	return out, nil
}

// States implements Store. It copies the states under the lock, in txid order, and calls fn
// without holding it.
func (m *Memory) States(fn func(txid string, state []byte) error) error {
	entries, err := m.stateSnapshot()
	if err != nil {
		return fmt.Errorf("persistence: states: %w", err)
	}

	for _, e := range entries {
		if err := fn(e.txid, e.state); err != nil {
			return fmt.Errorf("persistence: states at txid %s: %w", e.txid, err)
		}
	}
	return nil
}

// stateSnapshot copies every state, in txid order.
func (m *Memory) stateSnapshot() ([]stateEntry, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()

	if err := m.writable(); err != nil {
		return nil, err
	}
	txids := slices.Sorted(maps.Keys(m.states))
	entries := make([]stateEntry, len(txids))
	for i, txid := range txids {
		entries[i] = stateEntry{txid: txid, state: bytes.Clone(m.states[txid])}
	}
	return entries, nil
}

// LastSeq implements Store.
func (m *Memory) LastSeq() uint64 {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return uint64(len(m.records))
}

// Count implements Store. Memory keeps every record, so it equals LastSeq.
func (m *Memory) Count() uint64 {
	return m.LastSeq()
}

// Health implements Store.
func (m *Memory) Health() error {
	m.mu.RLock()
	defer m.mu.RUnlock()

	if m.failed != nil {
		return m.failed
	}
	if m.closed {
		return ErrClosed
	}
	return nil
}

// Close implements Store. The records stay readable through LastSeq and Count only.
func (m *Memory) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	return nil
}
