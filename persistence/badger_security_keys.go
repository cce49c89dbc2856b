package persistence

import (
	"bytes"
	"encoding/binary"
)

// Key families of the security records, next to the alert families in badger_keys.go. Each
// is a letter no other family uses, followed by a slash, so that no key of one family can
// start with another family's prefix; the audit counter is a second key of the meta family.
var (
	// prefixAudit + 8-byte big-endian audit seq -> audit event JSON, with the retention TTL.
	prefixAudit = []byte("l/")
	// prefixRevocation + kind + "/" + value -> revocation JSON, expiring at its Until.
	prefixRevocation = []byte("r/")
	// prefixAPIKey + 32-byte SHA-256 of the key -> API key JSON, without TTL.
	prefixAPIKey = []byte("k/")
	// prefixAPIKeyID + public id -> 32-byte hash of that id's key, without TTL.
	prefixAPIKeyID = []byte("i/")
	// keyAuditLastSeq -> 8-byte big-endian highest audit seq ever assigned, without TTL.
	keyAuditLastSeq = []byte("m/audit_last_seq")
)

const auditKeyLen = 2 + 8

func auditKey(seq uint64) []byte {
	k := make([]byte, 0, auditKeyLen)
	return binary.BigEndian.AppendUint64(append(k, prefixAudit...), seq)
}

// parseAuditKey returns the seq of an audit key, or false for a malformed key.
func parseAuditKey(k []byte) (uint64, bool) {
	if len(k) != auditKeyLen || !bytes.HasPrefix(k, prefixAudit) {
		return 0, false
	}
	return binary.BigEndian.Uint64(k[len(prefixAudit):]), true
}

// revocationKey is unambiguous because a kind never contains a slash.
func revocationKey(kind, value string) []byte {
	k := make([]byte, 0, len(prefixRevocation)+len(kind)+1+len(value))
	k = append(append(append(k, prefixRevocation...), kind...), '/')
	return append(k, value...)
}

// parseRevocationKey returns the kind and value of a revocation key, or false for a
// malformed key.
func parseRevocationKey(k []byte) (kind, value string, ok bool) {
	rest, ok := bytes.CutPrefix(k, prefixRevocation)
	if !ok {
		return "", "", false
	}
	kindB, valueB, ok := bytes.Cut(rest, []byte("/"))
	kind = string(kindB)
	if !ok || (kind != RevokeJTI && kind != RevokeClient) || len(valueB) == 0 {
		return "", "", false
	}
	return kind, string(valueB), true
}

func apiKeyKey(hash [32]byte) []byte {
	k := make([]byte, 0, len(prefixAPIKey)+len(hash))
	return append(append(k, prefixAPIKey...), hash[:]...)
}

func apiKeyIDKey(id string) []byte {
	k := make([]byte, 0, len(prefixAPIKeyID)+len(id))
	return append(append(k, prefixAPIKeyID...), id...)
}
