// Package alert holds the whale alert record that flows from the detector to the store, the
// broadcaster and every client, and its wire encoding.
//
// An Alert is a plain value: it is built by a detector, numbered and persisted by the store,
// and then only read. Encoding happens once per alert (EncodeData at persist time, Frame when
// it is broadcast), never once per client.
package alert

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// SatPerBTC is the number of satoshis in one bitcoin.
const SatPerBTC = 100_000_000

// Alert describes one transaction that a detector flagged. Its JSON form is the "data" object
// of a whale_alert message (see docs/protocol.md).
type Alert struct {
	// TxID is the transaction id in display (RPC) byte order, hex encoded.
	TxID string `json:"txid"`
	// ValueSat is the sum of the transaction's outputs in satoshis, change included.
	ValueSat int64 `json:"value_sat"`
	// ValueBTC is ValueSat in bitcoins, for readers that do not want to divide.
	ValueBTC float64 `json:"value_btc"`
	// Outputs is the number of outputs.
	Outputs int `json:"outputs"`
	// LargestOutputSat is the value of the largest single output in satoshis.
	LargestOutputSat int64 `json:"largest_output_sat"`
	// VSize is the virtual size in vbytes (BIP141 weight divided by four, rounded up).
	VSize int64 `json:"vsize"`
	// RBF reports whether any input signals BIP125 replaceability.
	RBF bool `json:"rbf"`
	// FeeSat is the fee in satoshis as the node reports it; nil (null) when unknown. The
	// engine never guesses a fee: it needs the node's RPC (see docs/mempool.md).
	FeeSat *int64 `json:"fee_sat"`
	// FeeRate is FeeSat per virtual byte; nil (null) when the fee is unknown.
	FeeRate *float64 `json:"fee_rate_sat_vb"`
	// Status is the alert's status when it was raised: mempool. Later changes come as
	// alert_update messages.
	Status Status `json:"status"`
	// FirstSeen is when the engine first saw the transaction, in UTC.
	FirstSeen time.Time `json:"first_seen"`
	// Detector names the rule that raised the alert ("large_value", "test", ...).
	Detector string `json:"detector"`
	// Test marks a synthetic alert raised by --test or an operator drill; it is not a real
	// transaction and clients must not act on it.
	Test bool `json:"test"`
}

// Stored is a record as the store numbered it: Seq is dense (each is the previous plus one)
// across alerts and updates, Kind says which of the two it is and Data is its JSON
// encoding, made once.
type Stored struct {
	Seq  uint64
	Kind Kind
	Data []byte
}

// BTC converts satoshis to bitcoins.
func BTC(sat int64) float64 {
	return float64(sat) / SatPerBTC
}

// SatFromBTC converts a bitcoin amount to satoshis, rounding to the nearest satoshi.
func SatFromBTC(btc float64) int64 {
	if btc >= 0 {
		return int64(btc*SatPerBTC + 0.5)
	}
	return int64(btc*SatPerBTC - 0.5)
}

// EncodeData returns the alert's JSON encoding with ValueBTC filled in from ValueSat.
func EncodeData(a Alert) ([]byte, error) {
	a.ValueBTC = BTC(a.ValueSat)
	a.FirstSeen = a.FirstSeen.UTC()
	if a.Status == "" {
		a.Status = StatusMempool
	}
	data, err := json.Marshal(a)
	if err != nil {
		return nil, fmt.Errorf("alert: encode %s: %w", a.TxID, err)
	}
	return data, nil
}

// DecodeData parses the JSON encoding made by EncodeData.
func DecodeData(data []byte) (Alert, error) {
	var a Alert
	if err := json.Unmarshal(data, &a); err != nil {
		return Alert{}, fmt.Errorf("alert: decode: %w", err)
	}
	return a, nil
}

// Frame returns the message a client receives for a stored record: a whale_alert or an
// alert_update. The data bytes are embedded as they are, so a record is never encoded twice.
func Frame(s Stored) []byte {
	const head = `{"type":"","seq":`
	kind := s.Kind.String()
	buf := make([]byte, 0, len(head)+len(kind)+20+len(`,"data":}`)+len(s.Data))
	buf = append(buf, `{"type":"`...)
	buf = append(buf, kind...)
	buf = append(buf, `","seq":`...)
	buf = strconv.AppendUint(buf, s.Seq, 10)
	buf = append(buf, `,"data":`...)
	buf = append(buf, s.Data...)
	buf = append(buf, '}')
	return buf
}
