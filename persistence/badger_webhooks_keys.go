package persistence

import (
	"bytes"
	"encoding/binary"
)

// Sub-families of prefixWebhook. A webhook id has a fixed length (WebhookIDLen), so the seq
// or log number that follows it in a key needs no separator. None of these keys expires:
// each webhook bounds its own (see WebhookKeep and the actor's outbox bound) and
// DeleteWebhook removes them all.
var (
	// prefixWebhookRecord + id -> webhook JSON (its secret included).
	prefixWebhookRecord = webhookFamily('h')
	// prefixWebhookCursor + id -> 8-byte big-endian highest record seq considered.
	prefixWebhookCursor = webhookFamily('c')
	// prefixWebhookOutbox + id + 8-byte seq -> delivery JSON.
	prefixWebhookOutbox = webhookFamily('o')
	// prefixWebhookDead + id + 8-byte seq -> delivery JSON (a dead letter).
	prefixWebhookDead = webhookFamily('d')
	// prefixWebhookLog + id + 8-byte log number -> log entry JSON.
	prefixWebhookLog = webhookFamily('l')
	// prefixWebhookLogLast + id -> 8-byte big-endian highest log number assigned.
	prefixWebhookLogLast = webhookFamily('n')
)

// webhookFamily returns "w/<letter>/".
func webhookFamily(letter byte) []byte {
	return append(append(append([]byte(nil), prefixWebhook...), letter), '/')
}

// webhookKey returns family + id.
func webhookKey(family []byte, id string) []byte {
	k := make([]byte, 0, len(family)+len(id)+8)
	return append(append(k, family...), id...)
}

// webhookSeqKey returns family + id + 8-byte big-endian n.
func webhookSeqKey(family []byte, id string, n uint64) []byte {
	return binary.BigEndian.AppendUint64(webhookKey(family, id), n)
}

// parseWebhookSeqKey returns the number at the end of a family + id + n key, or false for a
// key of another shape.
func parseWebhookSeqKey(family []byte, id string, k []byte) (uint64, bool) {
	prefix := webhookKey(family, id)
	if len(k) != len(prefix)+8 || !bytes.HasPrefix(k, prefix) {
		return 0, false
	}
	return binary.BigEndian.Uint64(k[len(prefix):]), true
}

// parseWebhookRecordKey returns the id of a webhook record key, or false.
func parseWebhookRecordKey(k []byte) (string, bool) {
	id, ok := bytes.CutPrefix(k, prefixWebhookRecord)
	if !ok || !ValidWebhookID(string(id)) {
		return "", false
	}
	return string(id), true
}
