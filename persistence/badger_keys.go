package persistence

import "encoding/binary"

// Key layout of the Badger store. Every key starts with a one-letter family and a slash. The
// security records' families are in badger_security_keys.go.
var (
	// prefixAlert + 8-byte big-endian seq -> alert JSON, with the retention TTL.
	prefixAlert = []byte("a/")
	// prefixTxID + txid -> 8-byte big-endian seq, with the same TTL as the alert.
	prefixTxID = []byte("t/")
	// keyLastSeq -> 8-byte big-endian highest seq ever assigned, without TTL.
	keyLastSeq = []byte("m/last_seq")
)

const alertKeyLen = 2 + 8

func alertKey(seq uint64) []byte {
	k := make([]byte, alertKeyLen)
	copy(k, prefixAlert)
	binary.BigEndian.PutUint64(k[len(prefixAlert):], seq)
	return k
}

// parseAlertKey returns the seq of an alert key, or false for a malformed key.
func parseAlertKey(k []byte) (uint64, bool) {
	if len(k) != alertKeyLen || string(k[:len(prefixAlert)]) != string(prefixAlert) {
		return 0, false
	}
	return binary.BigEndian.Uint64(k[len(prefixAlert):]), true
}

func txIDKey(txid string) []byte {
	k := make([]byte, 0, len(prefixTxID)+len(txid))
	return append(append(k, prefixTxID...), txid...)
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
