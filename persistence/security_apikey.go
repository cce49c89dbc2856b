package persistence

import (
	"cmp"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"time"
)

// APIKeyPrefix starts every API key that NewAPIKey makes, so that people, secret scanners
// and the audit guard recognise one.
const APIKeyPrefix = "wck_"

const (
	// apiKeyRandomLen is the number of random bytes in a key: 256 bits.
	apiKeyRandomLen = 32
	// apiKeyLen is the length of a key: the prefix and 43 unpadded base64url characters.
	apiKeyLen = len(APIKeyPrefix) + (apiKeyRandomLen*8+5)/6
	// apiKeyIDRandomLen is the number of random bytes in a public id, written as hex.
	apiKeyIDRandomLen = 8
)

// APIKeySecret is the plaintext of a new API key, which is shown to its owner once and
// never stored. It prints, logs and marshals as "[redacted]" whatever the verb; only Reveal
// returns the key. The text lives in a closure, so that even fmt printing an unexported
// field holding it, which cannot call its methods, shows a function address, not the key.
type APIKeySecret struct {
	text func() string
}

// NewAPIKey draws a new API key: APIKeyPrefix followed by 32 random bytes in unpadded
// base64url. It also returns a public id for the key, 8 further random bytes in hex, which
// says nothing about the key: an id derived from the key would give away part of it (or of
// its hash) wherever ids are shown. Pass the id and key.Hash() to PutAPIKey.
func NewAPIKey() (key APIKeySecret, id string) {
	var b [apiKeyRandomLen + apiKeyIDRandomLen]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails: it crashes the process instead
	text := APIKeyPrefix + base64.RawURLEncoding.EncodeToString(b[:apiKeyRandomLen])
	id = hex.EncodeToString(b[apiKeyRandomLen:])
	clear(b[:])
	return APIKeySecret{text: func() string { return text }}, id
}

// Reveal returns the plaintext key, for the one place that shows it to its owner.
func (k APIKeySecret) Reveal() string {
	if k.text == nil {
		return ""
	}
	return k.text()
}

// Hash returns the SHA-256 hash of the key, under which PutAPIKey stores it.
func (k APIKeySecret) Hash() [32]byte {
	return sha256.Sum256([]byte(k.Reveal()))
}

// String returns "[redacted]".
func (k APIKeySecret) String() string { return redactedText }

// GoString returns "[redacted]".
func (k APIKeySecret) GoString() string { return redactedText }

// Format writes "[redacted]" whatever the verb and flags.
func (k APIKeySecret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redactedText)) }

// LogValue returns "[redacted]" as a slog string.
func (k APIKeySecret) LogValue() slog.Value { return slog.StringValue(redactedText) }

// MarshalJSON returns the JSON string "[redacted]".
func (k APIKeySecret) MarshalJSON() ([]byte, error) {
	return []byte(`"` + redactedText + `"`), nil
}

// MarshalText returns "[redacted]".
func (k APIKeySecret) MarshalText() ([]byte, error) { return []byte(redactedText), nil }

// HashAPIKey returns the hash under which the key a client presented is stored, for
// APIKeyByHash. It returns ErrMalformedAPIKey, without quoting key, when key is not shaped
// like a key from NewAPIKey, so garbage never reaches the store.
//
// A plain SHA-256 is enough here, unlike for passwords: a key holds 256 random bits, so
// nobody can find it from its hash by trying candidates, and a slow or salted hash would
// only cost time on every request. Being unsalted, the hash can be the lookup key itself:
// the store finds a key by its hash and never compares plaintexts, so there is no
// comparison whose timing could leak a stored key. The lookup's timing depends only on the
// hash, which tells an attacker nothing about any key's plaintext.
func HashAPIKey(key string) ([32]byte, error) {
	if len(key) != apiKeyLen || key[:len(APIKeyPrefix)] != APIKeyPrefix {
		return [32]byte{}, fmt.Errorf("persistence: api key of %d bytes: %w", len(key),
			ErrMalformedAPIKey)
	}
	for i := len(APIKeyPrefix); i < len(key); i++ {
		if !isBase64URL(key[i]) {
			return [32]byte{}, fmt.Errorf("persistence: api key has a character outside "+
				"base64url: %w", ErrMalformedAPIKey)
		}
	}
	return sha256.Sum256([]byte(key)), nil
}

// checkAPIKey validates a new key and returns it with Created in UTC and Perms copied.
func checkAPIKey(k APIKey, hash [32]byte) (APIKey, error) {
	if !validAPIKeyID(k.ID) {
		return k, fmt.Errorf("persistence: api key id of %d bytes is not 1 to %d letters, "+
			"digits, '-' or '_': %w", len(k.ID), MaxAPIKeyIDLen, ErrInvalidRecord)
	}
	if err := checkRecordText("api key id", k.ID, MaxAPIKeyIDLen); err != nil {
		return k, err
	}
	if hash == ([32]byte{}) {
		return k, fmt.Errorf("persistence: api key %s with a zero hash: %w", k.ID,
			ErrInvalidRecord)
	}
	if k.Client == "" {
		return k, fmt.Errorf("persistence: api key %s without a client: %w", k.ID,
			ErrInvalidRecord)
	}
	if err := checkRecordText("api key client", k.Client, MaxAuditFieldLen); err != nil {
		return k, fmt.Errorf("persistence: api key %s: %w", k.ID, err)
	}
	if err := checkPerms(k.Perms); err != nil {
		return k, fmt.Errorf("persistence: api key %s: %w", k.ID, err)
	}

	switch {
	case k.Created.IsZero() || !encodableTime(k.Created):
		return k, fmt.Errorf("persistence: api key %s without a storable creation time: %w",
			k.ID, ErrInvalidRecord)
	case k.Revoked || !k.RevokedAt.IsZero():
		return k, fmt.Errorf("persistence: new api key %s is marked revoked: %w", k.ID,
			ErrInvalidRecord)
	}
	k.Created = k.Created.UTC()
	k.Perms = slices.Clone(k.Perms)
	return k, nil
}

func validAPIKeyID(id string) bool {
	if id == "" || len(id) > MaxAPIKeyIDLen {
		return false
	}
	for i := range len(id) {
		if !isBase64URL(id[i]) {
			return false
		}
	}
	return true
}

func checkPerms(perms []string) error {
	if len(perms) == 0 || len(perms) > MaxAPIKeyPerms {
		return fmt.Errorf("persistence: %d permissions, want 1 to %d: %w",
			len(perms), MaxAPIKeyPerms, ErrInvalidRecord)
	}
	for i, p := range perms {
		if !validPerm(p) {
			return fmt.Errorf("persistence: permission %d of %d bytes is not 1 to %d "+
				"lowercase letters, digits or underscores: %w", i, len(p), MaxPermLen,
				ErrInvalidRecord)
		}
		if slices.Contains(perms[:i], p) {
			return fmt.Errorf("persistence: permission %s listed twice: %w", p,
				ErrInvalidRecord)
		}
	}
	return nil
}

func validPerm(p string) bool {
	return len(p) <= MaxPermLen && validAuditType(p)
}

// revoke marks k revoked at now, unless it already was.
func (k APIKey) revoke(now time.Time) (APIKey, bool) {
	if k.Revoked {
		return k, false
	}
	k.Revoked, k.RevokedAt = true, now.UTC()
	return k, true
}

// apiKeyRecord is the stored form of an APIKey; the hash is in the key.
type apiKeyRecord struct {
	ID        string    `json:"id"`
	Client    string    `json:"client"`
	Perms     []string  `json:"perms"`
	Created   time.Time `json:"created"`
	Revoked   bool      `json:"revoked,omitempty"`
	RevokedAt time.Time `json:"revoked_at,omitzero"`
}

func encodeAPIKey(k APIKey) ([]byte, error) {
	return json.Marshal(apiKeyRecord{
		ID: k.ID, Client: k.Client, Perms: k.Perms, Created: k.Created,
		Revoked: k.Revoked, RevokedAt: k.RevokedAt,
	})
}

func decodeAPIKey(data []byte) (APIKey, error) {
	var r apiKeyRecord
	if err := json.Unmarshal(data, &r); err != nil {
		return APIKey{}, fmt.Errorf("decode api key: %w: %v", ErrCorrupt, err)
	}
	return APIKey{
		ID: r.ID, Client: r.Client, Perms: r.Perms, Created: r.Created,
		Revoked: r.Revoked, RevokedAt: r.RevokedAt,
	}, nil
}

// sortAPIKeys orders keys by Created, then ID.
func sortAPIKeys(keys []APIKey) {
	slices.SortFunc(keys, func(a, b APIKey) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
}
