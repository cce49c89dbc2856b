package persistence

import (
	"errors"
	"fmt"

	"github.com/whalecast/whalecast/internal/alert"
)

// checked is one record of a batch that passed validation, encoded once.
type checked struct {
	kind   alert.Kind
	txid   string
	index  bool         // a real alert: deduplicated by txid and entered in the txid index
	update alert.Update // the caller's update, copied, for KindUpdate
	data   []byte       // the alert's encoding, or the update's with AlertSeq 0
	state  []byte
	forget bool
}

// write is one record as the store writes it: numbered, finally encoded, with the tracker
// state change that goes with it.
type write struct {
	alert.Stored
	txid   string
	index  bool
	state  []byte
	forget bool
}

// indexLookup returns the seq that the stored txid index holds for txid; ok is false when
// the txid is not indexed. Its errors are storage errors.
type indexLookup func(txid string) (seq uint64, ok bool, err error)

// checkBatch validates a batch and encodes each record once. It returns ErrInvalidBatch for
// anything that must be refused before storage is touched.
func checkBatch(batch []alert.Record) ([]checked, error) {
	if len(batch) > MaxBatch {
		return nil, fmt.Errorf("persistence: batch of %d records exceeds %d: %w",
			len(batch), MaxBatch, ErrInvalidBatch)
	}

	out := make([]checked, len(batch))
	stateLen := 0
	for i, r := range batch {
		c, err := checkRecord(r)
		if err != nil {
			return nil, fmt.Errorf("persistence: record %d of batch: %v: %w",
				i, err, ErrInvalidBatch)
		}
		stateLen += len(r.State)
		if stateLen > MaxBatchStateLen {
			return nil, fmt.Errorf("persistence: tracker states of batch exceed %d bytes at "+
				"record %d: %w", MaxBatchStateLen, i, ErrInvalidBatch)
		}
		out[i] = c
	}
	return out, nil
}

// checkRecord validates one record and encodes it.
func checkRecord(r alert.Record) (checked, error) {
	switch {
	case r.Alert != nil && r.Update != nil:
		return checked{}, errors.New("carries both an alert and an update")
	case r.Alert == nil && r.Update == nil:
		return checked{}, errors.New("carries neither an alert nor an update")
	case len(r.State) > 0 && r.ForgetState:
		return checked{}, errors.New("sets State and ForgetState")
	case len(r.State) > MaxStateLen:
		return checked{}, fmt.Errorf("tracker state of %d bytes exceeds %d",
			len(r.State), MaxStateLen)
	}
	c := checked{txid: r.TxID(), state: r.State, forget: r.ForgetState}
	if len(r.State) > 0 || r.ForgetState {
		if err := checkTxID(c.txid); err != nil {
			return checked{}, fmt.Errorf("changes tracker state but %w", err)
		}
	}

	if r.Alert != nil {
		return checkAlert(c, *r.Alert)
	}
	return checkUpdate(c, *r.Update)
}

func checkTxID(txid string) error {
	if txid == "" {
		return errors.New("has no txid")
	}
	if len(txid) > MaxTxIDLen {
		return fmt.Errorf("has a %d-byte txid", len(txid))
	}
	return nil
}

func checkAlert(c checked, a alert.Alert) (checked, error) {
	if !a.Test {
		if err := checkTxID(a.TxID); err != nil {
			return checked{}, fmt.Errorf("alert %w", err)
		}
	}
	data, err := alert.EncodeData(a)
	if err != nil {
		return checked{}, err
	}

	c.kind, c.index, c.data = alert.KindAlert, !a.Test, data
	return c, nil
}

func checkUpdate(c checked, u alert.Update) (checked, error) {
	if err := checkTxID(u.TxID); err != nil {
		return checked{}, fmt.Errorf("update %w", err)
	}
	if _, ok := alert.ParseStatus(string(u.Status)); !ok {
		return checked{}, fmt.Errorf("update of %s has unknown status %q", u.TxID, u.Status)
	}
	if _, ok := alert.ParseStatus(string(u.Previous)); u.Previous != "" && !ok {
		return checked{}, fmt.Errorf("update of %s has unknown previous status %q",
			u.TxID, u.Previous)
	}

	u.AlertSeq = 0
	data, err := alert.EncodeUpdate(u)
	if err != nil {
		return checked{}, err
	}
	c.kind, c.update, c.data = alert.KindUpdate, u, data
	return c, nil
}

// planBatch numbers the records of a checked batch from first. It skips every alert whose
// txid is in the index or earlier in the batch, and fills each update's AlertSeq from the
// same two places (0 when neither knows the txid). It returns nothing when every record is
// a skipped alert. An error of lookup is returned as it is.
func planBatch(recs []checked, first uint64, lookup indexLookup) ([]write, error) {
	inBatch := make(map[string]uint64, len(recs))
	find := func(txid string) (uint64, bool, error) {
		if seq, ok := inBatch[txid]; ok {
			return seq, true, nil
		}
		return lookup(txid)
	}

	var out []write
	for _, c := range recs {
		w := write{
			Stored: alert.Stored{Seq: first + uint64(len(out)), Kind: c.kind, Data: c.data},
			txid:   c.txid, index: c.index, state: c.state, forget: c.forget,
		}
		switch {
		case c.index:
			_, dup, err := find(c.txid)
			if err != nil {
				return nil, err
			}
			if dup {
				continue
			}
			inBatch[c.txid] = w.Seq
		case c.kind == alert.KindUpdate:
			alertSeq, ok, err := find(c.txid)
			if err != nil {
				return nil, err
			}
			if ok {
				if w.Data, err = encodeFilled(c.update, alertSeq); err != nil {
					return nil, err
				}
			}
		}
		out = append(out, w)
	}
	return out, nil
}

// encodeFilled encodes an update that checkUpdate already encoded with AlertSeq 0; only
// the seq differs, so it cannot fail where that did not. Should it, the batch is refused.
func encodeFilled(u alert.Update, alertSeq uint64) ([]byte, error) {
	u.AlertSeq = alertSeq
	data, err := alert.EncodeUpdate(u)
	if err != nil {
		return nil, fmt.Errorf("persistence: update of %s: %v: %w", u.TxID, err, ErrInvalidBatch)
	}
	return data, nil
}
