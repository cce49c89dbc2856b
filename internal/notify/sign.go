package notify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// SignatureHeader is the HTTP header that carries a webhook body's signature.
const SignatureHeader = "Whalecast-Signature"

// DefaultTolerance is the recommended largest gap between a signature's timestamp and the
// receiver's clock, either way.
const DefaultTolerance = 5 * time.Minute

// Limits of what Verify parses, so a hostile header costs little.
const (
	maxSignatureHeader = 4096
	maxSignatures      = 8
)

// Sign returns the SignatureHeader value for body sent at ts:
// "t=<unix seconds>,v1=<hex HMAC-SHA256 of "<unix seconds>.<body>" keyed with secret>".
//
// A sender rotating its secret may send one header with a v1 entry per secret, joining the
// values: Sign(old, ts, body) + ",v1=" + the v1 of Sign(new, ts, body).
func Sign(secret []byte, ts time.Time, body []byte) string {
	unix := strconv.FormatInt(ts.Unix(), 10)
	return "t=" + unix + ",v1=" + hex.EncodeToString(mac(secret, unix, body))
}

// mac returns HMAC-SHA256 over "<unix>.<body>".
func mac(secret []byte, unix string, body []byte) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(unix))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// Verify checks a SignatureHeader value against body, as a receiver does. It fails with
// ErrSignatureMalformed unless the header holds exactly one t entry (unix seconds) and one
// to eight v1 entries (64 hex digits each; unknown entries are ignored); with
// ErrSignatureExpired if t is older than now by more than tolerance, ErrSignatureFuture if
// it is ahead of now by more than tolerance; and with ErrSignatureMismatch unless some v1
// entry is the HMAC of the body keyed with secret, compared in constant time. A tolerance
// that is not positive means DefaultTolerance. An empty secret never verifies.
func Verify(secret []byte, header string, body []byte, now time.Time,
	tolerance time.Duration) error {
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}

	unix, sigs, err := parseSignature(header)
	if err != nil {
		return err
	}

	ts, _ := strconv.ParseInt(unix, 10, 64)
	age := now.Sub(time.Unix(ts, 0))
	switch {
	case age > tolerance:
		return fmt.Errorf("%w: %v old, tolerance %v", ErrSignatureExpired,
			age.Truncate(time.Second), tolerance)
	case -age > tolerance:
		return fmt.Errorf("%w: %v ahead, tolerance %v", ErrSignatureFuture,
			(-age).Truncate(time.Second), tolerance)
	}

	if len(secret) == 0 {
		return fmt.Errorf("%w: empty secret", ErrSignatureMismatch)
	}
	want := mac(secret, unix, body)
	matched := 0
	for _, sig := range sigs {
		matched |= boolInt(hmac.Equal(sig, want))
	}
	if matched == 0 {
		return ErrSignatureMismatch
	}
	return nil
}

// parseSignature splits a header into its timestamp (decimal digits, validated as an
// int64) and its decoded v1 signatures.
func parseSignature(header string) (string, [][]byte, error) {
	if len(header) > maxSignatureHeader {
		return "", nil, fmt.Errorf("%w: %d bytes", ErrSignatureMalformed, len(header))
	}

	var unix string
	var sigs [][]byte
	for entry := range strings.SplitSeq(header, ",") {
		key, value, ok := strings.Cut(strings.TrimSpace(entry), "=")
		if !ok {
			return "", nil, fmt.Errorf("%w: entry without '='", ErrSignatureMalformed)
		}
		switch key {
		case "t":
			if unix != "" || !isDigits(value) {
				return "", nil, fmt.Errorf("%w: bad or repeated t", ErrSignatureMalformed)
			}
			if _, err := strconv.ParseInt(value, 10, 64); err != nil {
				return "", nil, fmt.Errorf("%w: t out of range", ErrSignatureMalformed)
			}
			unix = value
		case "v1":
			sig, err := hex.DecodeString(value)
			if err != nil || len(sig) != sha256.Size || len(sigs) == maxSignatures {
				return "", nil, fmt.Errorf("%w: bad v1 or more than %d", ErrSignatureMalformed,
					maxSignatures)
			}
			sigs = append(sigs, sig)
		}
	}

	if unix == "" || len(sigs) == 0 {
		return "", nil, fmt.Errorf("%w: needs t and v1", ErrSignatureMalformed)
	}
	return unix, sigs, nil
}

// isDigits reports whether s is a non-empty run of ASCII decimal digits.
func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// boolInt returns 1 for true and 0 for false.
func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
