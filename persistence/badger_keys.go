package persistence

import (
	"bytes"
	"encoding/binary"

	"github.com/whalecast/whalecast/internal/alert"
)

// Key layout of the Badger store. Every key starts with a one-letter family and a slash. The
// security records' families are in badger_security_keys.go.
var (
	// prefixRecord + 8-byte big-endian seq -> kind byte + record JSON, with the retention
	// TTL. Alerts and updates share the family, so one seek pages through both.
	prefixRecord = []byte("a/")
	// prefixTxID + txid -> 8-byte big-endian seq of the alert, with the alert's TTL.
	prefixTxID = []byte("t/")
	// prefixState + txid -> the lifecycle tracker's state, with the TTL of the record it
	// was last written with.
	prefixState = []byte("s/")
	// keyLastSeq -> 8-byte big-endian highest seq ever assigned, without TTL.
	keyLastSeq = []byte("m/last_seq")
	// prefixWebhook is the family of the webhook records; badger_webhooks_keys.go lays out
	// its sub-families (webhook, cursor, outbox, dead letters, log), all without TTL.
	prefixWebhook = []byte("w/")
)

const recordKeyLen = 2 + 8

func recordKey(seq uint64) []byte {
	k := make([]byte, recordKeyLen)
	copy(k, prefixRecord)
	binary.BigEndian.PutUint64(k[len(prefixRecord):], seq)
	return k
}

// parseRecordKey returns the seq of a record key, or false for a malformed key.
func parseRecordKey(k []byte) (uint64, bool) {
	if len(k) != recordKeyLen || !bytes.HasPrefix(k, prefixRecord) {
		return 0, false
	}
	return binary.BigEndian.Uint64(k[len(prefixRecord):]), true
}

// recordValue returns the stored form of a record: its kind in one byte, then its JSON.
func recordValue(kind alert.Kind, data []byte) []byte {
	v := make([]byte, 0, 1+len(data))
	return append(append(v, byte(kind)), data...)
}

// parseRecordValue splits a stored record into its kind and JSON, or returns false for an
// unknown kind. A value that starts with '{' was written before records had kinds, when
// every record was an alert; it is read as one.
func parseRecordValue(v []byte) (alert.Kind, []byte, bool) {
	switch {
	case len(v) == 0:
		return 0, nil, false
	case v[0] == '{':
		return alert.KindAlert, v, true
	case alert.Kind(v[0]) == alert.KindAlert || alert.Kind(v[0]) == alert.KindUpdate:
		return alert.Kind(v[0]), v[1:], true
	}
	return 0, nil, false
}

func txIDKey(txid string) []byte {
	k := make([]byte, 0, len(prefixTxID)+len(txid))
	return append(append(k, prefixTxID...), txid...)
}

func stateKey(txid string) []byte {
	k := make([]byte, 0, len(prefixState)+len(txid))
	return append(append(k, prefixState...), txid...)
}

// parseStateKey returns the txid of a state key, or false for a malformed key.
func parseStateKey(k []byte) (string, bool) {
	txid, ok := bytes.CutPrefix(k, prefixState)
	if !ok || len(txid) == 0 {
		return "", false
	}
	return string(txid), true
}

func encodeSeq(seq uint64) []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8), seq)
}

// decodeSeq parses an 8-byte counter, or returns false when the value has another length.
func decodeSeq(v []byte) (uint64, bool) {
	if len(v) != 8 {
		return 0, false
	}
	return binary.BigEndian.Uint64(v), true
}
