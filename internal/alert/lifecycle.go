package alert

import (
	"encoding/json"
	"fmt"
	"time"
)

// Status is where an alerted transaction stands. docs/mempool.md draws the transitions.
type Status string

// The statuses of an alert. An alert starts in StatusMempool; every change is stored and sent
// as an alert_update with its own seq.
const (
	// StatusMempool: the transaction waits in the mempool (again, after a drop or a reorg).
	StatusMempool Status = "mempool"
	// StatusConfirmed: a block on the best chain includes it.
	StatusConfirmed Status = "confirmed"
	// StatusReplaced: a transaction spending one of its inputs replaced it in the mempool
	// (BIP125 replace-by-fee or a full-RBF node).
	StatusReplaced Status = "replaced"
	// StatusConflicted: a block includes a transaction spending one of its inputs: a double
	// spend was mined, so it can never confirm on that chain.
	StatusConflicted Status = "conflicted"
	// StatusDropped: it left the mempool for another reason (expiry, size limit, a node
	// restart) and nothing spending its inputs was seen.
	StatusDropped Status = "dropped"
	// StatusReorged: the block that included it was disconnected. It waits for the
	// competing chain to include it again or a conflict.
	StatusReorged Status = "reorged"
)

// Statuses lists every status in the order the documentation gives them.
var Statuses = []Status{StatusMempool, StatusConfirmed, StatusReplaced, StatusConflicted,
	StatusDropped, StatusReorged}

// ParseStatus returns the status named s.
func ParseStatus(s string) (Status, bool) {
	for _, st := range Statuses {
		if string(st) == s {
			return st, true
		}
	}
	return "", false
}

// Kind tells which client message a stored record is.
type Kind uint8

// The kinds of stored records. The zero Kind is an alert.
const (
	// KindAlert is a whale_alert: a transaction a detector flagged.
	KindAlert Kind = iota
	// KindUpdate is an alert_update: a change of an alert's status.
	KindUpdate
)

// String returns the client message type of the kind.
func (k Kind) String() string {
	switch k {
	case KindAlert:
		return "whale_alert"
	case KindUpdate:
		return "alert_update"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Update is one status change of an alerted transaction: the data object of an alert_update
// message. It repeats the alert's detector and value so that a client filtering on them (or
// one that only wants confirmations) needs no other message.
type Update struct {
	// TxID is the alerted transaction.
	TxID string `json:"txid"`
	// AlertSeq is the seq of the whale_alert this update is about. The store fills it in.
	AlertSeq uint64 `json:"alert_seq"`
	// Status is the new status; Previous the one it left.
	Status   Status `json:"status"`
	Previous Status `json:"previous"`
	// Detector and ValueSat repeat the alert's.
	Detector string  `json:"detector"`
	ValueSat int64   `json:"value_sat"`
	ValueBTC float64 `json:"value_btc"`
	// Height and BlockHash name the block of a confirmation, or the disconnected block of a
	// reorg, or the block that mined a conflict.
	Height    int64  `json:"height,omitempty"`
	BlockHash string `json:"block_hash,omitempty"`
	// Confirmations counts the blocks on top of the including one, itself included.
	Confirmations int64 `json:"confirmations,omitempty"`
	// ReplacedBy is the replacing transaction of StatusReplaced.
	ReplacedBy string `json:"replaced_by,omitempty"`
	// ConflictedBy is the mined transaction of StatusConflicted.
	ConflictedBy string `json:"conflicted_by,omitempty"`
	// Final is set on the last update of an alert: the engine stops following it (its
	// outcome settled after the configured number of blocks).
	Final bool `json:"final"`
	// At is when the engine saw the change, in UTC.
	At time.Time `json:"at"`
}

// Record is one entry the store persists: exactly one of Alert and Update is set.
type Record struct {
	Alert  *Alert
	Update *Update
	// State is the lifecycle tracker's own state for the record's txid after this record,
	// written in the same transaction (opaque to the store). nil leaves the stored state as
	// it is; with ForgetState the stored state is deleted instead.
	State       []byte
	ForgetState bool
}

// TxID returns the transaction id of the record.
func (r Record) TxID() string {
	if r.Update != nil {
		return r.Update.TxID
	}
	if r.Alert != nil {
		return r.Alert.TxID
	}
	return ""
}

// AlertRecords wraps alerts into records without tracker state.
func AlertRecords(alerts []Alert) []Record {
	out := make([]Record, len(alerts))
	for i := range alerts {
		out[i] = Record{Alert: &alerts[i]}
	}
	return out
}

// EncodeUpdate returns the update's JSON encoding with ValueBTC filled in from ValueSat.
func EncodeUpdate(u Update) ([]byte, error) {
	u.ValueBTC = BTC(u.ValueSat)
	u.At = u.At.UTC()
	data, err := json.Marshal(u)
	if err != nil {
		return nil, fmt.Errorf("alert: encode update of %s: %w", u.TxID, err)
	}
	return data, nil
}

// DecodeUpdate parses the JSON encoding made by EncodeUpdate.
func DecodeUpdate(data []byte) (Update, error) {
	var u Update
	if err := json.Unmarshal(data, &u); err != nil {
		return Update{}, fmt.Errorf("alert: decode update: %w", err)
	}
	return u, nil
}
