package auth

import (
	"fmt"
	"log/slog"
)

// MinSecretLen is the shortest accepted secret, in bytes: HS256 wants a key at least as long
// as its 256-bit hash.
const MinSecretLen = 32

// redacted is what every formatting path of a Secret writes instead of its bytes.
const redacted = "[redacted]"

// Secret is the HMAC key that signs and verifies tokens. Its zero value holds no key and is
// refused by NewIssuer and NewVerifier.
//
// A Secret never reveals its bytes: fmt (every verb, %#v included), log/slog, encoding/json
// and encoding.TextMarshaler users all get "[redacted]". The bytes live inside a closure, so
// when fmt cannot call those methods (a Secret in an unexported field, printed with any verb,
// even a wrong one) it shows a function address, not the key; a mere pointer would not be
// enough, as fmt dereferences pointers when it reports a bad verb. There is no exported way
// to read the bytes, and Secrets cannot be compared with ==.
type Secret struct {
	key func() []byte
}

// NewSecret copies b into a Secret. It fails with ErrWeakSecret if b is shorter than
// MinSecretLen.
func NewSecret(b []byte) (Secret, error) {
	if len(b) < MinSecretLen {
		return Secret{}, fmt.Errorf("%w: %d bytes, need at least %d",
			ErrWeakSecret, len(b), MinSecretLen)
	}
	key := append([]byte(nil), b...)
	return Secret{key: func() []byte { return key }}, nil
}

// Len returns the length of the key in bytes; it is 0 for the zero Secret.
func (s Secret) Len() int {
	if s.key == nil {
		return 0
	}
	return len(s.key())
}

// bytes returns the key itself; callers must not modify or retain it beyond one use.
func (s Secret) bytes() []byte {
	if s.key == nil {
		return nil
	}
	return s.key()
}

// String returns "[redacted]".
func (s Secret) String() string { return redacted }

// GoString returns "[redacted]".
func (s Secret) GoString() string { return redacted }

// Format writes "[redacted]" whatever the verb and flags.
func (s Secret) Format(f fmt.State, _ rune) {
	_, _ = f.Write([]byte(redacted))
}

// LogValue returns "[redacted]" as a slog string.
func (s Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalJSON returns the JSON string "[redacted]".
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// MarshalText returns "[redacted]".
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }
