package persistence

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"time"
)

// auditField names one string field of an AuditEvent, as error messages call it.
type auditField struct {
	name  string
	value *string
}

// auditFields returns the free-text fields of e, Type excluded.
func auditFields(e *AuditEvent) [6]auditField {
	return [6]auditField{
		{"client", &e.Client}, {"remote", &e.Remote}, {"reason", &e.Reason},
		{"key_id", &e.KeyID}, {"token_id", &e.TokenID}, {"detail", &e.Detail},
	}
}

// CheckAuditEvent returns nil when AppendAudit would accept e, or an error wrapping
// ErrInvalidBatch that names the field at fault, never its value. A field may hold at most
// MaxAuditFieldLen bytes of printable UTF-8 (no line breaks or other control or format
// characters); a field that looks like a JWT or an API key is refused with an error that
// wraps ErrLooksSecret too. Type must be 1 to MaxAuditTypeLen lowercase ASCII letters,
// digits and underscores, Remote empty or an IP address, and Time zero or within the years
// 0 to 9999.
func CheckAuditEvent(e AuditEvent) error {
	if !validAuditType(e.Type) {
		return fmt.Errorf("persistence: audit type of %d bytes is not 1 to %d lowercase "+
			"letters, digits or underscores: %w", len(e.Type), MaxAuditTypeLen, ErrInvalidBatch)
	}
	for _, f := range auditFields(&e) {
		problem, secret := textProblem(*f.value, MaxAuditFieldLen)
		switch {
		case secret:
			return fmt.Errorf("persistence: audit field %s %s: %w: %w",
				f.name, problem, ErrInvalidBatch, ErrLooksSecret)
		case problem != "":
			return fmt.Errorf("persistence: audit field %s %s: %w", f.name, problem,
				ErrInvalidBatch)
		}
	}
	if e.Remote != "" && !isIP(e.Remote) {
		return fmt.Errorf("persistence: audit field remote is not an IP address: %w",
			ErrInvalidBatch)
	}
	if !encodableTime(e.Time) {
		return fmt.Errorf("persistence: audit time in year %d: %w", e.Time.Year(),
			ErrInvalidBatch)
	}
	return nil
}

// RedactAuditEvent returns a copy of e that AppendAudit accepts whenever e.Type is valid,
// so that an event whose fields came from a client is recorded rather than lost: a field
// that looks like a JWT or an API key becomes "[redacted]", invalid UTF-8 and characters
// that are not printable become '?', a field over MaxAuditFieldLen bytes is cut, a Remote
// that is not an IP address is cleared and a Time that cannot be stored is zeroed (so
// AppendAudit stamps the current time).
func RedactAuditEvent(e AuditEvent) AuditEvent {
	for _, f := range auditFields(&e) {
		*f.value = redactText(*f.value, MaxAuditFieldLen)
	}
	if e.Remote != "" && !isIP(e.Remote) {
		e.Remote = ""
	}
	if !encodableTime(e.Time) {
		e.Time = time.Time{}
	}
	return e
}

func validAuditType(t string) bool {
	if t == "" || len(t) > MaxAuditTypeLen {
		return false
	}
	for i := range len(t) {
		c := t[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

func isIP(s string) bool {
	_, err := netip.ParseAddr(s)
	return err == nil
}

// encodableTime reports whether t is zero or has a year that encoding/json can write.
func encodableTime(t time.Time) bool {
	y := t.UTC().Year()
	return t.IsZero() || (y >= 0 && y <= 9999)
}

// auditRecord is the stored form of an AuditEvent; the seq is in the key.
type auditRecord struct {
	Time    time.Time `json:"time"`
	Type    string    `json:"type"`
	Client  string    `json:"client,omitempty"`
	Remote  string    `json:"remote,omitempty"`
	Reason  string    `json:"reason,omitempty"`
	KeyID   string    `json:"key_id,omitempty"`
	TokenID string    `json:"token_id,omitempty"`
	Detail  string    `json:"detail,omitempty"`
}

// prepareAudit validates a batch, numbers it from first, stamps a zero Time with now and
// encodes each event once. It returns ErrInvalidBatch for anything refused before storage.
func prepareAudit(events []AuditEvent, first uint64, now time.Time) ([]AuditEvent, [][]byte,
	error) {
	if len(events) > MaxAuditBatch {
		return nil, nil, fmt.Errorf("persistence: audit batch of %d events exceeds %d: %w",
			len(events), MaxAuditBatch, ErrInvalidBatch)
	}

	out := make([]AuditEvent, len(events))
	encoded := make([][]byte, len(events))
	for i, e := range events {
		if err := CheckAuditEvent(e); err != nil {
			return nil, nil, fmt.Errorf("persistence: audit event %d of batch: %w", i, err)
		}
		e.Seq = first + uint64(i)
		e.Time = e.Time.UTC()
		if e.Time.IsZero() {
			e.Time = now.UTC()
		}
		data, err := encodeAudit(e)
		if err != nil {
			return nil, nil, fmt.Errorf("persistence: audit event %d of batch: %w: %w",
				i, ErrInvalidBatch, err)
		}
		out[i], encoded[i] = e, data
	}
	return out, encoded, nil
}

// encodeAudit writes e without escaping <, > and &: the log is not HTML, and escaping them
// would make a field up to six times longer, so that the largest batch could approach
// Badger's transaction limit.
func encodeAudit(e AuditEvent) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	err := enc.Encode(auditRecord{
		Time: e.Time, Type: e.Type, Client: e.Client, Remote: e.Remote,
		Reason: e.Reason, KeyID: e.KeyID, TokenID: e.TokenID, Detail: e.Detail,
	})
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), err
}

// decodeAudit reads a stored audit event.
func decodeAudit(seq uint64, data []byte) (AuditEvent, error) {
	var r auditRecord
	if err := json.Unmarshal(data, &r); err != nil {
		return AuditEvent{}, fmt.Errorf("decode audit event %d: %w: %v", seq, ErrCorrupt, err)
	}
	return AuditEvent{
		Seq: seq, Time: r.Time, Type: r.Type, Client: r.Client, Remote: r.Remote,
		Reason: r.Reason, KeyID: r.KeyID, TokenID: r.TokenID, Detail: r.Detail,
	}, nil
}
