package persistence

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/dgraph-io/badger/v4"
)

var _ WebhookStore = (*Badger)(nil)

// maxLogTrim bounds how many old log entries one append deletes; one is the usual number.
const maxLogTrim = 64

// webhookRecord is the stored form of a Webhook.
type webhookRecord struct {
	ID        string    `json:"id"`
	Owner     string    `json:"owner"`
	URL       string    `json:"url"`
	Secret    []byte    `json:"secret"`
	MinSat    int64     `json:"min_sat"`
	Detectors []string  `json:"detectors,omitempty"`
	Statuses  []string  `json:"statuses,omitempty"`
	Created   time.Time `json:"created"`
	TokenID   string    `json:"token_id,omitempty"`
	APIKeyID  string    `json:"api_key_id,omitempty"`
	Suspended time.Time `json:"suspended,omitzero"`
	Reason    string    `json:"suspend_reason,omitempty"`
}

// recordOf returns the stored form of w.
func recordOf(w Webhook) webhookRecord {
	return webhookRecord{ID: w.ID, Owner: w.Owner, URL: w.URL, Secret: w.Secret.Reveal(),
		MinSat: w.MinSat, Detectors: w.Detectors, Statuses: w.Statuses,
		Created: w.Created.UTC(), TokenID: w.TokenID, APIKeyID: w.APIKeyID,
		Suspended: w.Suspended.UTC(), Reason: w.SuspendReason}
}

// deliveryRecord is the stored form of a Delivery.
type deliveryRecord struct {
	Seq        uint64    `json:"seq"`
	Attempts   int       `json:"attempts"`
	Created    time.Time `json:"created"`
	Next       time.Time `json:"next"`
	LastStatus int       `json:"last_status,omitempty"`
	LastError  string    `json:"last_error,omitempty"`
	DeadAt     time.Time `json:"dead_at,omitzero"`
}

// logRecord is the stored form of a DeliveryLogEntry.
type logRecord struct {
	Time       time.Time `json:"time"`
	Seq        uint64    `json:"seq"`
	Attempt    int       `json:"attempt"`
	Outcome    string    `json:"outcome"`
	Status     int       `json:"status,omitempty"`
	Error      string    `json:"error,omitempty"`
	DurationMS int64     `json:"duration_ms"`
}

// writeWebhooks runs fn in a write transaction under the writer lock, like every other write
// of the store, so that nothing reaches Badger after a failed write and concurrent webhook
// writes (a delivery's outcome, a deletion) never interleave.
func (s *Badger) writeWebhooks(op string, fn func(txn *badger.Txn) error) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	s.closeMu.RLock()
	defer s.closeMu.RUnlock()

	if err := s.readable(); err != nil {
		return fmt.Errorf("persistence: %s: %w", op, err)
	}
	return s.update(op, fn)
}

// PutWebhook implements WebhookStore.
func (s *Badger) PutWebhook(w Webhook, cursor uint64) error {
	if err := checkWebhook(w); err != nil {
		return err
	}
	data, err := json.Marshal(recordOf(w))
	if err != nil {
		return fmt.Errorf("persistence: encode webhook %s: %w: %w", w.ID, ErrInvalidRecord, err)
	}

	return s.writeWebhooks("put webhook "+w.ID, func(txn *badger.Txn) error {
		key := webhookKey(prefixWebhookRecord, w.ID)
		found, err := exists(txn, key)
		if err != nil {
			return err
		}
		if found {
			return fmt.Errorf("a webhook with this id is stored: %w", ErrExists)
		}
		if err := txn.Set(key, data); err != nil {
			return fmt.Errorf("write: %w", err)
		}
		return txn.Set(webhookKey(prefixWebhookCursor, w.ID), encodeSeq(cursor))
	})
}

// Webhooks implements WebhookStore.
func (s *Badger) Webhooks() (out []Webhook, err error) {
	err = s.view("list webhooks", func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefixWebhookRecord,
			PrefetchValues: true, PrefetchSize: maxPrefetch})
		defer it.Close()

		for it.Rewind(); it.Valid(); it.Next() {
			id, ok := parseWebhookRecordKey(it.Item().Key())
			if !ok {
				return fmt.Errorf("malformed webhook key %q: %w", it.Item().Key(), ErrCorrupt)
			}
			data, err := it.Item().ValueCopy(nil)
			if err != nil {
				return fmt.Errorf("read webhook %s: %w", id, err)
			}
			w, err := decodeWebhook(id, data)
			if err != nil {
				return err
			}
			out = append(out, w)
		}
		return nil
	})
	return out, err
}

// Webhook implements WebhookStore.
func (s *Badger) Webhook(id string) (w Webhook, err error) {
	if !ValidWebhookID(id) {
		return Webhook{}, fmt.Errorf("persistence: webhook with a malformed id: %w",
			ErrNotFound)
	}
	err = s.view("read webhook "+id, func(txn *badger.Txn) error {
		w, err = getWebhook(txn, id)
		return err
	})
	return w, err
}

// getWebhook reads one webhook, or returns ErrNotFound.
func getWebhook(txn *badger.Txn, id string) (Webhook, error) {
	item, err := txn.Get(webhookKey(prefixWebhookRecord, id))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return Webhook{}, fmt.Errorf("no webhook %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Webhook{}, fmt.Errorf("read webhook %s: %w", id, err)
	}
	data, err := item.ValueCopy(nil)
	if err != nil {
		return Webhook{}, fmt.Errorf("read webhook %s: %w", id, err)
	}
	return decodeWebhook(id, data)
}

func decodeWebhook(id string, data []byte) (Webhook, error) {
	var r webhookRecord
	if err := json.Unmarshal(data, &r); err != nil || r.ID != id {
		return Webhook{}, fmt.Errorf("persistence: webhook %s does not decode: %w", id,
			ErrCorrupt)
	}
	return Webhook{ID: r.ID, Owner: r.Owner, URL: r.URL, Secret: r.Secret, MinSat: r.MinSat,
		Detectors: r.Detectors, Statuses: r.Statuses, Created: r.Created, TokenID: r.TokenID,
		APIKeyID: r.APIKeyID, Suspended: r.Suspended, SuspendReason: r.Reason}, nil
}

// SuspendWebhook implements WebhookStore.
func (s *Badger) SuspendWebhook(id string, at time.Time, reason string) error {
	if !ValidWebhookID(id) {
		return fmt.Errorf("persistence: webhook with a malformed id: %w", ErrNotFound)
	}
	if at.IsZero() || len(reason) > MaxSuspendReason {
		return fmt.Errorf("persistence: suspend webhook %s: no time, or a reason over %d "+
			"bytes: %w", id, MaxSuspendReason, ErrInvalidRecord)
	}
	return s.writeWebhooks("suspend webhook "+id, func(txn *badger.Txn) error {
		w, err := getWebhook(txn, id)
		if err != nil || !w.Suspended.IsZero() {
			return err
		}
		w.Suspended, w.SuspendReason = at.UTC(), reason
		data, err := json.Marshal(recordOf(w))
		if err != nil {
			return fmt.Errorf("encode: %w: %w", ErrInvalidRecord, err)
		}
		if err := txn.Set(webhookKey(prefixWebhookRecord, id), data); err != nil {
			return fmt.Errorf("write: %w", err)
		}
		return nil
	})
}

// requireWebhook returns ErrNotFound when the webhook is not stored.
func requireWebhook(txn *badger.Txn, id string) error {
	found, err := exists(txn, webhookKey(prefixWebhookRecord, id))
	switch {
	case err != nil:
		return err
	case !found:
		return fmt.Errorf("no webhook %s: %w", id, ErrNotFound)
	}
	return nil
}

// DeleteWebhook implements WebhookStore.
func (s *Badger) DeleteWebhook(id string) error {
	if !ValidWebhookID(id) {
		return fmt.Errorf("persistence: webhook with a malformed id: %w", ErrNotFound)
	}
	return s.writeWebhooks("delete webhook "+id, func(txn *badger.Txn) error {
		if err := requireWebhook(txn, id); err != nil {
			return err
		}
		keys := [][]byte{webhookKey(prefixWebhookRecord, id),
			webhookKey(prefixWebhookCursor, id), webhookKey(prefixWebhookLogLast, id)}
		for _, family := range [][]byte{prefixWebhookOutbox, prefixWebhookDead,
			prefixWebhookLog} {
			keys = append(keys, keysUnder(txn, webhookKey(family, id), -1)...)
		}
		for _, k := range keys {
			if err := txn.Delete(k); err != nil {
				return fmt.Errorf("delete: %w", err)
			}
		}
		return nil
	})
}

// keysUnder returns copies of the keys under prefix, at most limit of them (all when limit
// is negative), in order. It reads keys only.
func keysUnder(txn *badger.Txn, prefix []byte, limit int) [][]byte {
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
	defer it.Close()

	var keys [][]byte
	for it.Rewind(); it.Valid() && (limit < 0 || len(keys) < limit); it.Next() {
		keys = append(keys, it.Item().KeyCopy(nil))
	}
	return keys
}

// countUnder returns how many keys are under prefix.
func countUnder(txn *badger.Txn, prefix []byte) int {
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
	defer it.Close()

	n := 0
	for it.Rewind(); it.Valid(); it.Next() {
		n++
	}
	return n
}

// WebhookCursor implements WebhookStore.
func (s *Badger) WebhookCursor(id string) (cursor uint64, err error) {
	if !ValidWebhookID(id) {
		return 0, fmt.Errorf("persistence: webhook with a malformed id: %w", ErrNotFound)
	}
	err = s.view("read webhook cursor "+id, func(txn *badger.Txn) error {
		if err := requireWebhook(txn, id); err != nil {
			return err
		}
		cursor, err = readCounter(txn, webhookKey(prefixWebhookCursor, id), "webhook cursor")
		return err
	})
	return cursor, err
}

// Enqueue implements WebhookStore.
func (s *Badger) Enqueue(items []WebhookEnqueue) error {
	if len(items) == 0 {
		return nil
	}
	return s.writeWebhooks(fmt.Sprintf("enqueue for %d webhooks", len(items)),
		func(txn *badger.Txn) error {
			for _, item := range items {
				found, err := exists(txn, webhookKey(prefixWebhookRecord, item.ID))
				if err != nil {
					return err
				}
				if !found {
					continue
				}
				for _, d := range item.Deliveries {
					if err := putDelivery(txn, prefixWebhookOutbox, item.ID, d); err != nil {
						return err
					}
				}
				err = txn.Set(webhookKey(prefixWebhookCursor, item.ID), encodeSeq(item.Cursor))
				if err != nil {
					return fmt.Errorf("write cursor of %s: %w", item.ID, err)
				}
			}
			return nil
		})
}

func putDelivery(txn *badger.Txn, family []byte, id string, d Delivery) error {
	data, err := json.Marshal(deliveryRecord{Seq: d.Seq, Attempts: d.Attempts,
		Created: d.Created.UTC(), Next: d.Next.UTC(), LastStatus: d.LastStatus,
		LastError: clipError(d.LastError), DeadAt: d.DeadAt.UTC()})
	if err != nil {
		return fmt.Errorf("encode delivery %d of %s: %w: %w", d.Seq, id, ErrInvalidRecord, err)
	}
	if err := txn.Set(webhookSeqKey(family, id, d.Seq), data); err != nil {
		return fmt.Errorf("write delivery %d of %s: %w", d.Seq, id, err)
	}
	return nil
}

func decodeDelivery(id string, data []byte) (Delivery, error) {
	var r deliveryRecord
	if err := json.Unmarshal(data, &r); err != nil {
		return Delivery{}, fmt.Errorf("persistence: delivery of webhook %s does not decode: %w",
			id, ErrCorrupt)
	}
	return Delivery{Seq: r.Seq, Attempts: r.Attempts, Created: r.Created, Next: r.Next,
		LastStatus: r.LastStatus, LastError: r.LastError, DeadAt: r.DeadAt}, nil
}

// Outbox implements WebhookStore.
func (s *Badger) Outbox(id string) ([]Delivery, error) {
	return s.deliveries("read outbox of "+id, prefixWebhookOutbox, id, 0, -1)
}

// DeadLetters implements WebhookStore.
func (s *Badger) DeadLetters(id string, after uint64, limit int) ([]Delivery, error) {
	if limit <= 0 {
		return nil, nil
	}
	return s.deliveries("read dead letters of "+id, prefixWebhookDead, id, after, limit)
}

// deliveries reads up to limit (all when negative) deliveries of family with seq > after.
func (s *Badger) deliveries(op string, family []byte, id string, after uint64, limit int) (
	out []Delivery, err error) {
	if !ValidWebhookID(id) {
		return nil, fmt.Errorf("persistence: webhook with a malformed id: %w", ErrNotFound)
	}
	err = s.view(op, func(txn *badger.Txn) error {
		if err := requireWebhook(txn, id); err != nil {
			return err
		}
		prefix := webhookKey(family, id)
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: true,
			PrefetchSize: maxPrefetch})
		defer it.Close()

		for it.Seek(webhookSeqKey(family, id, after+1)); it.Valid() &&
			(limit < 0 || len(out) < limit); it.Next() {
			if _, ok := parseWebhookSeqKey(family, id, it.Item().Key()); !ok {
				return fmt.Errorf("malformed delivery key %q: %w", it.Item().Key(), ErrCorrupt)
			}
			data, err := it.Item().ValueCopy(nil)
			if err != nil {
				return fmt.Errorf("read delivery: %w", err)
			}
			d, err := decodeDelivery(id, data)
			if err != nil {
				return err
			}
			out = append(out, d)
		}
		return nil
	})
	return out, err
}

// trimDead deletes the lowest dead letters of id past keep.
func trimDead(txn *badger.Txn, id string, keep int) error {
	prefix := webhookKey(prefixWebhookDead, id)
	extra := countUnder(txn, prefix) - keep
	if extra <= 0 {
		return nil
	}
	for _, k := range keysUnder(txn, prefix, extra) {
		if err := txn.Delete(k); err != nil {
			return fmt.Errorf("drop dead letter: %w", err)
		}
	}
	return nil
}

// appendLog numbers entry after the webhook's last log entry, stamps it, writes it and
// drops the entries that fall out of the last keep.
func appendLog(txn *badger.Txn, id string, entry DeliveryLogEntry, keep int) (
	DeliveryLogEntry, error) {
	lastKey := webhookKey(prefixWebhookLogLast, id)
	last, err := readCounter(txn, lastKey, "webhook log counter")
	if err != nil {
		return entry, err
	}
	entry.N = last + 1
	if entry.Time.IsZero() {
		entry.Time = time.Now()
	}
	entry.Time = entry.Time.UTC()
	entry.Error = clipError(entry.Error)
	data, err := json.Marshal(logRecord{Time: entry.Time, Seq: entry.Seq,
		Attempt: entry.Attempt, Outcome: entry.Outcome, Status: entry.Status,
		Error: entry.Error, DurationMS: entry.DurationMS})
	if err != nil {
		return entry, fmt.Errorf("encode log entry: %w: %w", ErrInvalidRecord, err)
	}
	if err := txn.Set(webhookSeqKey(prefixWebhookLog, id, entry.N), data); err != nil {
		return entry, fmt.Errorf("write log entry: %w", err)
	}
	if err := txn.Set(lastKey, encodeSeq(entry.N)); err != nil {
		return entry, fmt.Errorf("write log counter: %w", err)
	}
	if entry.N <= uint64(keep) {
		return entry, nil
	}

	oldest := entry.N - uint64(keep) // the newest entry to drop
	for _, k := range keysUnder(txn, webhookKey(prefixWebhookLog, id), maxLogTrim) {
		n, ok := parseWebhookSeqKey(prefixWebhookLog, id, k)
		if !ok || n > oldest {
			break
		}
		if err := txn.Delete(k); err != nil {
			return entry, fmt.Errorf("drop log entry: %w", err)
		}
	}
	return entry, nil
}

// ReplayDeadLetters implements WebhookStore.
func (s *Badger) ReplayDeadLetters(id string, seqs []uint64, limit int, now time.Time,
	keep WebhookKeep) (moved []Delivery, err error) {
	if !ValidWebhookID(id) {
		return nil, fmt.Errorf("persistence: webhook with a malformed id: %w", ErrNotFound)
	}
	keep = keep.withDefaults()
	err = s.writeWebhooks("replay dead letters of "+id, func(txn *badger.Txn) error {
		moved = nil
		if err := requireWebhook(txn, id); err != nil {
			return err
		}
		picked, err := pickDead(txn, id, seqs, limit)
		if err != nil {
			return err
		}
		for _, d := range picked {
			if err := txn.Delete(webhookSeqKey(prefixWebhookDead, id, d.Seq)); err != nil {
				return fmt.Errorf("delete dead letter: %w", err)
			}
			d = Delivery{Seq: d.Seq, Created: now, Next: now}
			if err := putDelivery(txn, prefixWebhookOutbox, id, d); err != nil {
				return err
			}
			_, err := appendLog(txn, id, DeliveryLogEntry{Time: now, Seq: d.Seq,
				Outcome: OutcomeReplayed}, keep.Log)
			if err != nil {
				return err
			}
			moved = append(moved, d)
		}
		return nil
	})
	return moved, err
}

// pickDead reads the dead letters a replay moves: those of seqs that exist, or the lowest
// ones when seqs is nil; at most limit.
func pickDead(txn *badger.Txn, id string, seqs []uint64, limit int) ([]Delivery, error) {
	if limit <= 0 {
		return nil, nil
	}
	var out []Delivery
	read := func(item *badger.Item) error {
		data, err := item.ValueCopy(nil)
		if err != nil {
			return fmt.Errorf("read dead letter: %w", err)
		}
		d, err := decodeDelivery(id, data)
		if err == nil {
			out = append(out, d)
		}
		return err
	}

	if seqs == nil {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: webhookKey(prefixWebhookDead, id),
			PrefetchValues: true, PrefetchSize: min(limit, maxPrefetch)})
		defer it.Close()
		for it.Rewind(); it.Valid() && len(out) < limit; it.Next() {
			if err := read(it.Item()); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	seen := map[uint64]bool{}
	for _, seq := range seqs {
		if seen[seq] || len(out) >= limit {
			continue
		}
		seen[seq] = true
		item, err := txn.Get(webhookSeqKey(prefixWebhookDead, id, seq))
		if errors.Is(err, badger.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read dead letter %d: %w", seq, err)
		}
		if err := read(item); err != nil {
			return nil, err
		}
	}
	slices.SortFunc(out, func(a, b Delivery) int { return cmpSeq(a.Seq, b.Seq) })
	return out, nil
}

func cmpSeq(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// DeliveryLog implements WebhookStore.
func (s *Badger) DeliveryLog(id string, after uint64, limit int) (
	out []DeliveryLogEntry, err error) {
	if !ValidWebhookID(id) {
		return nil, fmt.Errorf("persistence: webhook with a malformed id: %w", ErrNotFound)
	}
	if limit <= 0 {
		return nil, nil
	}
	err = s.view("read delivery log of "+id, func(txn *badger.Txn) error {
		if err := requireWebhook(txn, id); err != nil {
			return err
		}
		it := txn.NewIterator(badger.IteratorOptions{Prefix: webhookKey(prefixWebhookLog, id),
			PrefetchValues: true, PrefetchSize: min(limit, maxPrefetch)})
		defer it.Close()

		for it.Seek(webhookSeqKey(prefixWebhookLog, id, after+1)); it.Valid() &&
			len(out) < limit; it.Next() {
			n, ok := parseWebhookSeqKey(prefixWebhookLog, id, it.Item().Key())
			if !ok {
				return fmt.Errorf("malformed log key %q: %w", it.Item().Key(), ErrCorrupt)
			}
			data, err := it.Item().ValueCopy(nil)
			if err != nil {
				return fmt.Errorf("read log entry %d: %w", n, err)
			}
			var r logRecord
			if err := json.Unmarshal(data, &r); err != nil {
				return fmt.Errorf("log entry %d does not decode: %w", n, ErrCorrupt)
			}
			out = append(out, DeliveryLogEntry{N: n, Time: r.Time, Seq: r.Seq,
				Attempt: r.Attempt, Outcome: r.Outcome, Status: r.Status, Error: r.Error,
				DurationMS: r.DurationMS})
		}
		return nil
	})
	return out, err
}

// WebhookCounts implements WebhookStore.
func (s *Badger) WebhookCounts(id string) (outbox, dead int, err error) {
	if !ValidWebhookID(id) {
		return 0, 0, fmt.Errorf("persistence: webhook with a malformed id: %w", ErrNotFound)
	}
	err = s.view("count deliveries of "+id, func(txn *badger.Txn) error {
		if err := requireWebhook(txn, id); err != nil {
			return err
		}
		outbox = countUnder(txn, webhookKey(prefixWebhookOutbox, id))
		dead = countUnder(txn, webhookKey(prefixWebhookDead, id))
		return nil
	})
	return outbox, dead, err
}
