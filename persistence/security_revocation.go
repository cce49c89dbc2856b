package persistence

import (
	"encoding/json"
	"fmt"
	"time"
)

// checkRevocation validates r and returns it with its times in UTC.
func checkRevocation(r Revocation) (Revocation, error) {
	if r.Kind != RevokeJTI && r.Kind != RevokeClient {
		return r, fmt.Errorf("persistence: revocation kind of %d bytes is not %q or %q: %w",
			len(r.Kind), RevokeJTI, RevokeClient, ErrInvalidRecord)
	}
	if r.Value == "" {
		return r, fmt.Errorf("persistence: %s revocation without a value: %w",
			r.Kind, ErrInvalidRecord)
	}
	if err := checkRecordText(r.Kind+" revocation value", r.Value, MaxAuditFieldLen); err != nil {
		return r, err
	}

	switch {
	case r.At.IsZero() || r.Until.IsZero():
		return r, fmt.Errorf("persistence: %s revocation without At or Until: %w",
			r.Kind, ErrInvalidRecord)
	case r.Until.Before(r.At):
		return r, fmt.Errorf("persistence: %s revocation until %v, before it was made at %v: %w",
			r.Kind, r.Until, r.At, ErrInvalidRecord)
	case !encodableTime(r.At) || !encodableTime(r.Until):
		return r, fmt.Errorf("persistence: %s revocation time past year 9999: %w",
			r.Kind, ErrInvalidRecord)
	}
	r.At, r.Until = r.At.UTC(), r.Until.UTC()
	return r, nil
}

// checkRecordText validates one text field of a revocation or an API key.
func checkRecordText(field, s string, maxLen int) error {
	problem, secret := textProblem(s, maxLen)
	switch {
	case secret:
		return fmt.Errorf("persistence: %s %s: %w: %w", field, problem, ErrInvalidRecord,
			ErrLooksSecret)
	case problem != "":
		return fmt.Errorf("persistence: %s %s: %w", field, problem, ErrInvalidRecord)
	}
	return nil
}

// mergeRevocation combines a stored revocation with a new one for the same kind and value:
// the later At and the later Until, so that a repeat never narrows what is revoked. changed
// reports whether the result differs from old.
func mergeRevocation(old, r Revocation) (merged Revocation, changed bool) {
	merged = old
	if r.At.After(merged.At) {
		merged.At = r.At
	}
	if r.Until.After(merged.Until) {
		merged.Until = r.Until
	}
	return merged, !merged.At.Equal(old.At) || !merged.Until.Equal(old.Until)
}

// expiresAt is the unix second from which a record kept until t is gone: t rounded up, so
// it is kept at least until t. Badger hides an entry once the current unix second reaches
// its ExpiresAt; Memory applies the same rule through live.
func expiresAt(t time.Time) uint64 {
	sec := t.Unix()
	if t.Nanosecond() > 0 {
		sec++
	}
	return uint64(max(sec, 0))
}

// live reports whether a record kept until t is still there at now.
func live(t, now time.Time) bool {
	return uint64(max(now.Unix(), 0)) < expiresAt(t)
}

// revocationRecord is the stored form of a Revocation; kind and value are in the key.
type revocationRecord struct {
	At    time.Time `json:"at"`
	Until time.Time `json:"until"`
}

func encodeRevocation(r Revocation) ([]byte, error) {
	return json.Marshal(revocationRecord{At: r.At, Until: r.Until})
}

func decodeRevocation(kind, value string, data []byte) (Revocation, error) {
	var rec revocationRecord
	if err := json.Unmarshal(data, &rec); err != nil {
		return Revocation{}, fmt.Errorf("decode %s revocation: %w: %v", kind, ErrCorrupt, err)
	}
	return Revocation{Kind: kind, Value: value, At: rec.At, Until: rec.Until}, nil
}
