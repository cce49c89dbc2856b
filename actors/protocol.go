package actors

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
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
	ErrCodeBadRequest  = "bad_request"
	ErrCodeForbidden   = "forbidden"
	ErrCodeRateLimited = "rate_limited"
)

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
}

var errNotObject = errors.New("message is not a JSON object with a type")

// parseClientMessage decodes a client frame strictly: one JSON object, known fields only.
func parseClientMessage(data []byte) (clientMessage, error) {
	var m clientMessage
	if !json.Valid(data) {
		return m, errNotObject
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return m, fmt.Errorf("decode message: %w", err)
	}
	if m.Type == "" {
		return m, errNotObject
	}
	return m, nil
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

func subscribedFrame(minBTC float64) []byte {
	return []byte(`{"type":"subscribed","min_btc":` +
		strconv.FormatFloat(minBTC, 'f', -1, 64) + `}`)
}

var pongFrame = []byte(`{"type":"pong"}`)

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
