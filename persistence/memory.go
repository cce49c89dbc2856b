package persistence

import (
	"bytes"
	"fmt"
	"sync"

	"github.com/whalecast/whalecast/internal/alert"
)

// Memory is a Store and a SecurityStore held in memory, with the same numbering, dedupe and
// failure semantics as Badger but no retention and no durability. It is meant for tests and
// benchmarks.
type Memory struct {
	mu       sync.RWMutex
	alerts   []alert.Stored // alerts[i].Seq == i+1
	byTxID   map[string]uint64
	injected error // fails the next write when set
	failed   error // wraps ErrFailed once a write failed
	closed   bool
	sec      memorySecurity // the security records (memory_security.go)
}

var _ Store = (*Memory)(nil)

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory {
	return &Memory{byTxID: make(map[string]uint64)}
}

// FailWrites makes the next write that reaches storage (an Append or a SecurityStore write)
// fail with err, as if the disk had refused it; the store then fails closed like a Badger
// store would, for alerts and security records alike. A nil err disarms a pending failure.
func (m *Memory) FailWrites(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.injected = err
}

// Append implements Store.
func (m *Memory) Append(batch []alert.Alert) ([]alert.Stored, error) {
	m.mu.Lock()
	defer m.mu.Unlock()

	if m.failed != nil {
		return nil, fmt.Errorf("persistence: append to memory store: %w", m.failed)
	}
	if m.closed {
		return nil, fmt.Errorf("persistence: append to memory store: %w", ErrClosed)
	}
	if len(batch) == 0 {
		return nil, nil
	}
	encoded, err := encodeBatch(batch)
	if err != nil {
		return nil, err
	}

	next := uint64(len(m.alerts)) + 1
	if m.injected != nil {
		m.failed = fmt.Errorf("persistence: append batch at seq %d: %w: %w",
			next, ErrFailed, m.injected)
		m.injected = nil
		return nil, m.failed
	}

	var out []alert.Stored
	seen := make(map[string]struct{}, len(batch))
	for i, a := range batch {
		seq := next + uint64(len(out))
		if !a.Test {
			if _, dup := m.byTxID[a.TxID]; dup {
				continue
			}
			if _, dup := seen[a.TxID]; dup {
				continue
			}
			seen[a.TxID] = struct{}{}
			m.byTxID[a.TxID] = seq
		}
		out = append(out, alert.Stored{Seq: seq, Data: encoded[i]})
		m.alerts = append(m.alerts, alert.Stored{Seq: seq, Data: bytes.Clone(encoded[i])})
	}
	return out, nil
}

// Range implements Store.
func (m *Memory) Range(after uint64, limit int) ([]alert.Stored, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()

	if m.failed != nil {
		return nil, fmt.Errorf("persistence: range after %d: %w", after, m.failed)
	}
	if m.closed {
		return nil, fmt.Errorf("persistence: range after %d: %w", after, ErrClosed)
	}
	last := uint64(len(m.alerts))
	if limit <= 0 || after >= last {
		return nil, nil
	}

	page := m.alerts[after:min(last, after+uint64(limit))]
	out := make([]alert.Stored, len(page))
	for i, s := range page {
		out[i] = alert.Stored{Seq: s.Seq, Data: bytes.Clone(s.Data)}
	}
	return out, nil
}

// LastSeq implements Store.
func (m *Memory) LastSeq() uint64 {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return uint64(len(m.alerts))
}

// Count implements Store. Memory keeps every alert, so it equals LastSeq.
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

// Close implements Store. The alerts stay readable through LastSeq and Count only.
func (m *Memory) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	return nil
}
