package actors

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/whalecast/whalecast/internal/alert"
)

// Close codes a session ends a connection with. docs/protocol.md lists what a client should do
// with each.
const (
	CloseNormal          = 1000
	CloseGoingAway       = 1001 // the server is shutting down: reconnect with since
	CloseInternalError   = 1011 // the session failed: reconnect with since
	CloseMessageTooBig   = 1009 // a client message over the size limit
	CloseMalformed       = 4000 // the first message was not a well-formed auth message
	CloseAuthTimeout     = 4001 // no auth message within the auth timeout
	CloseAuthFailed      = 4003 // bad, expired or insufficient token
	CloseRateLimitAbused = 4008 // kept sending past the rate limit
	CloseSlowConsumer    = 4009 // fell too far behind: reconnect with since
)

// Error codes of {"type":"error"} messages that keep the connection open.
const (
	ErrCodeBadRequest      = "bad_request"
	ErrCodeForbidden       = "forbidden"
	ErrCodeRateLimited     = "rate_limited"
	ErrCodeRefreshTooEarly = "refresh_too_early"
)

// Error codes sent just before the connection is closed with 4003.
const (
	ErrCodeTokenExpired = "token_expired"
	ErrCodeTokenRevoked = "token_revoked"
)

// ErrCodeSlowConsumer is sent just before the connection is closed with 4009.
const ErrCodeSlowConsumer = "slow_consumer"

// slowConsumerFrame is written ahead of a 4009 close.
var slowConsumerFrame = errorFrame(ErrCodeSlowConsumer,
	"the client fell behind: reconnect and resume with since")

// MaxClientMessage is the largest client message accepted, in bytes; a larger one closes the
// connection with 1009.
const MaxClientMessage = 4096

// MaxBTC bounds thresholds a client may ask for: no more bitcoins will ever exist.
const MaxBTC = 21_000_000

// clientMessage is the union of every message a client may send.
type clientMessage struct {
	Type   string   `json:"type"`
	Token  string   `json:"token,omitempty"`
	Since  *uint64  `json:"since,omitempty"`
	MinBTC *float64 `json:"min_btc,omitempty"`
	// Detectors is nil when the field is absent; never empty when present.
	Detectors DetectorFilter `json:"detectors,omitempty"`
	// Statuses is nil when the field is absent; never empty when present.
	Statuses StatusFilter `json:"statuses,omitempty"`
}

// MaxDetectorFilter bounds how many detector names a subscribe message may list.
const MaxDetectorFilter = 16

var (
	errNotObject   = errors.New("message is not a JSON object with a type")
	errBadField    = errors.New("unknown, repeated or null field")
	errTrailing    = errors.New("data after the JSON object")
	errInvalidUTF8 = errors.New("message is not valid UTF-8")
)

// parseClientMessage decodes a client frame strictly: one JSON object, valid UTF-8, only the
// known field names in their exact case, each at most once and never null, nothing after it.
// Anything looser would let two parsers (ours and a proxy's or logger's) disagree.
func parseClientMessage(data []byte) (clientMessage, error) {
	var m clientMessage
	if !utf8.Valid(data) {
		return m, errInvalidUTF8
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return m, errNotObject
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		key, ok := tok.(string)
		if err != nil || !ok || seen[key] {
			return m, errBadField
		}
		seen[key] = true
		if err := decodeField(dec, key, &m); err != nil {
			return m, err
		}
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return m, errNotObject
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return m, errTrailing
	}
	if m.Type == "" {
		return m, errNotObject
	}
	return m, nil
}

// decodeField decodes the value of one known field into m.
func decodeField(dec *json.Decoder, key string, m *clientMessage) error {
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return errNotObject
	}
	if string(raw) == "null" {
		return errBadField
	}
	var dst any
	switch key {
	case "type":
		dst = &m.Type
	case "token":
		dst = &m.Token
	case "since":
		m.Since = new(uint64)
		dst = m.Since
	case "min_btc":
		m.MinBTC = new(float64)
		dst = m.MinBTC
	case "detectors":
		return decodeDetectors(raw, m)
	case "statuses":
		return decodeStatuses(raw, m)
	default:
		return errBadField
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		return fieldError{key: key}
	}
	return nil
}

// decodeDetectors reads the detectors field: an array of 1 to MaxDetectorFilter well-formed
// names. Whether each name is a detector the engine knows is the session's check.
func decodeDetectors(raw json.RawMessage, m *clientMessage) error {
	var names []string
	if err := json.Unmarshal(raw, &names); err != nil || len(names) == 0 ||
		len(names) > MaxDetectorFilter {
		return fieldError{key: "detectors"}
	}
	for _, n := range names {
		if !ValidDetectorName(n) {
			return fieldError{key: "detectors"}
		}
	}
	m.Detectors = names
	return nil
}

// decodeStatuses reads the statuses field: an array of distinct statuses, at least one.
func decodeStatuses(raw json.RawMessage, m *clientMessage) error {
	var names []string
	if err := json.Unmarshal(raw, &names); err != nil || len(names) == 0 ||
		len(names) > len(alert.Statuses) {
		return fieldError{key: "statuses"}
	}
	out := make(StatusFilter, 0, len(names))
	for _, n := range names {
		st, ok := alert.ParseStatus(n)
		if !ok || slices.Contains(out, st) {
			return fieldError{key: "statuses"}
		}
		out = append(out, st)
	}
	m.Statuses = out
	return nil
}

// fieldError is a known field whose value has the wrong type or range. Its text names the
// field and never repeats the value.
type fieldError struct{ key string }

// Error names the field and what it must hold.
func (e fieldError) Error() string {
	switch e.key {
	case "since":
		return "since must be a whole number, 0 or more"
	case "min_btc":
		return "min_btc must be a number from 0 to 21000000"
	case "detectors":
		return "detectors must be an array of 1 to " + strconv.Itoa(MaxDetectorFilter) +
			" detector names"
	case "statuses":
		return "statuses must be an array of distinct statuses: " + statusList
	default:
		return e.key + " must be a string"
	}
}

// describe turns a parse error into the message of a bad_request answer.
func describe(err error) string {
	var fe fieldError
	switch {
	case errors.As(err, &fe):
		return fe.Error()
	case errors.Is(err, errBadField):
		return "unknown, repeated or null field"
	default:
		return "messages are JSON objects with a type"
	}
}

// validMinBTC reports whether a client threshold is a finite amount between 0 and MaxBTC.
func validMinBTC(v float64) bool {
	return !math.IsNaN(v) && !math.IsInf(v, 0) && v >= 0 && v <= MaxBTC
}

// Server messages are small and built by hand so that each is one allocation with no
// reflection; the strings they embed are escaped with strconv.Quote-compatible JSON quoting.

func errorFrame(code, message string) []byte {
	return []byte(`{"type":"error","code":` + jsonString(code) + `,"message":` +
		jsonString(message) + `}`)
}

func authSuccessFrame(client string, perms []string, expires time.Time) []byte {
	p, _ := json.Marshal(perms)
	return []byte(`{"type":"auth_success","client_id":` + jsonString(client) +
		`,"permissions":` + string(p) + `,"expires_at":` +
		jsonString(expires.UTC().Format(time.RFC3339)) + `}`)
}

func welcomeFrame(version string, seq uint64) []byte {
	return []byte(`{"type":"welcome","version":` + jsonString(version) + `,"seq":` +
		strconv.FormatUint(seq, 10) + `}`)
}

func subscribedFrame(minBTC float64, detectors DetectorFilter, statuses StatusFilter) []byte {
	frame := `{"type":"subscribed","min_btc":` + strconv.FormatFloat(minBTC, 'f', -1, 64)
	if detectors != nil {
		d, _ := json.Marshal(detectors)
		frame += `,"detectors":` + string(d)
	}
	if statuses != nil {
		d, _ := json.Marshal(statuses)
		frame += `,"statuses":` + string(d)
	}
	return []byte(frame + `}`)
}

// statusList names every status, for error messages.
var statusList = func() string {
	names := make([]string, len(alert.Statuses))
	for i, st := range alert.Statuses {
		names[i] = string(st)
	}
	return strings.Join(names, ", ")
}()

var pongFrame = []byte(`{"type":"pong"}`)

func tokenRefreshedFrame(token string, expires time.Time) []byte {
	return []byte(`{"type":"token_refreshed","token":` + jsonString(token) +
		`,"expires_at":` + jsonString(expires.UTC().Format(time.RFC3339)) + `}`)
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
