package persistence

import (
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"
)

// MaxResolveBatch bounds the outcomes one ResolveAttempts call takes.
const MaxResolveBatch = 4096

// ResolveAttempt implements WebhookStore: ResolveAttempts with one item.
func (s *Badger) ResolveAttempt(id string, d Delivery, entry DeliveryLogEntry,
	keep WebhookKeep) (DeliveryLogEntry, error) {
	out, err := s.ResolveAttempts([]AttemptResult{{ID: id, Delivery: d, Entry: entry}}, keep)
	switch {
	case err != nil:
		return entry, err
	case out[0].N == 0:
		return entry, fmt.Errorf("persistence: resolve delivery %d of %s: no webhook: %w",
			d.Seq, id, ErrNotFound)
	}
	return out[0], nil
}

// ResolveAttempts implements WebhookStore.
func (s *Badger) ResolveAttempts(items []AttemptResult, keep WebhookKeep) (
	[]DeliveryLogEntry, error) {
	if len(items) == 0 {
		return nil, nil
	}
	op := fmt.Sprintf("resolve %d attempts", len(items))
	if len(items) > MaxResolveBatch {
		return nil, fmt.Errorf("persistence: %s: over %d: %w", op, MaxResolveBatch,
			ErrInvalidRecord)
	}
	for _, it := range items {
		switch it.Entry.Outcome {
		case OutcomeDelivered, OutcomeRetry, OutcomeDeadLetter:
		default:
			return nil, fmt.Errorf("persistence: %s: delivery %d of %s: unknown outcome %q: %w",
				op, it.Delivery.Seq, it.ID, it.Entry.Outcome, ErrInvalidRecord)
		}
	}
	keep = keep.withDefaults()

	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	s.closeMu.RLock()
	defer s.closeMu.RUnlock()
	if err := s.readable(); err != nil {
		return nil, fmt.Errorf("persistence: %s: %w", op, err)
	}

	out := make([]DeliveryLogEntry, len(items))
	for start := 0; start < len(items); {
		n, err := s.resolveChunk(items[start:], out[start:], keep)
		if err != nil {
			return nil, s.webhookWriteFailed(op, err)
		}
		start += n
	}
	return out, nil
}

// resolveChunk writes as many of items as one Badger transaction holds, all of them
// usually, and returns how many it wrote. When the transaction grows too big it is thrown
// away and the items before the one that did not fit are written alone.
func (s *Badger) resolveChunk(items []AttemptResult, out []DeliveryLogEntry,
	keep WebhookKeep) (int, error) {
	n, err := s.resolveTxn(items, out, keep)
	if !errors.Is(err, badger.ErrTxnTooBig) {
		return n, err
	}
	if n == 0 {
		return 0, fmt.Errorf("delivery %d of %s alone: %w: %w", items[0].Delivery.Seq,
			items[0].ID, ErrInvalidRecord, err)
	}
	return s.resolveTxn(items[:n], out, keep)
}

// resolveTxn applies items in order in one transaction and commits it. On ErrTxnTooBig it
// commits nothing and returns the index of the item that did not fit.
func (s *Badger) resolveTxn(items []AttemptResult, out []DeliveryLogEntry,
	keep WebhookKeep) (int, error) {
	txn := s.db.NewTransaction(true)
	defer txn.Discard()

	stored := map[string]bool{}
	for i, it := range items {
		found, ok := stored[it.ID]
		if !ok {
			var err error
			found, err = ValidWebhookID(it.ID), nil
			if found {
				found, err = exists(txn, webhookKey(prefixWebhookRecord, it.ID))
			}
			if err != nil {
				return i, err
			}
			stored[it.ID] = found
		}
		out[i] = DeliveryLogEntry{}
		if !found {
			continue // deleted meanwhile: nothing to write
		}
		entry, err := resolveOne(txn, it, keep)
		if err != nil {
			return i, fmt.Errorf("delivery %d of %s: %w", it.Delivery.Seq, it.ID, err)
		}
		out[i] = entry
	}
	if err := txn.Commit(); err != nil {
		return 0, fmt.Errorf("commit: %w", err)
	}
	return len(items), nil
}

// resolveOne adds one outcome to txn: OutcomeDelivered removes the delivery from the
// outbox, OutcomeRetry rewrites it, OutcomeDeadLetter moves it to the dead letters; each
// appends the log entry.
func resolveOne(txn *badger.Txn, it AttemptResult, keep WebhookKeep) (DeliveryLogEntry,
	error) {
	id, d := it.ID, it.Delivery
	outboxKey := webhookSeqKey(prefixWebhookOutbox, id, d.Seq)
	switch it.Entry.Outcome {
	case OutcomeDelivered:
		if err := txn.Delete(outboxKey); err != nil {
			return it.Entry, fmt.Errorf("delete: %w", err)
		}
	case OutcomeRetry:
		if err := putDelivery(txn, prefixWebhookOutbox, id, d); err != nil {
			return it.Entry, err
		}
	case OutcomeDeadLetter:
		if err := txn.Delete(outboxKey); err != nil {
			return it.Entry, fmt.Errorf("delete: %w", err)
		}
		if err := putDelivery(txn, prefixWebhookDead, id, d); err != nil {
			return it.Entry, err
		}
		if err := trimDead(txn, id, keep.Dead); err != nil {
			return it.Entry, err
		}
	default:
		return it.Entry, fmt.Errorf("unknown outcome %q: %w", it.Entry.Outcome,
			ErrInvalidRecord)
	}
	return appendLog(txn, id, it.Entry, keep.Log)
}

// webhookWriteFailed wraps the error of a webhook write like update does: a refused write
// leaves the store working, any other error fails it.
func (s *Badger) webhookWriteFailed(op string, err error) error {
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrExists) ||
		errors.Is(err, ErrInvalidRecord) || errors.Is(err, ErrCorrupt) {
		return fmt.Errorf("persistence: %s: %w", op, err)
	}
	return s.fail(fmt.Errorf("persistence: %s: %w: %w", op, ErrFailed, err))
}
