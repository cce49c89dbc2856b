package load

import (
	"bytes"
	"encoding/json"
	"errors"
	"time"
)

// BenchDetector is the detector the load tool's alerts name; with test true, it tells them
// from every other alert a client receives.
const BenchDetector = "bench"

// frameKind says what a server message is to the load tool.
type frameKind uint8

const (
	frameOther      frameKind = iota // auth_success, subscribed, pong, ...
	frameWelcome                     // welcome: seq is the latest stored seq
	frameBenchAlert                  // a whale_alert of the load tool: seq and firstSeen set
	frameRecord                      // any other whale_alert or alert_update
	frameError                       // an error message: code set
)

// frame is what the load tool reads of a server message.
type frame struct {
	kind      frameKind
	seq       uint64
	firstSeen time.Time
	code      string
}

// The shape the engine and bench/floor give a whale_alert (alert.Frame), which parseFrame
// reads without a JSON decoder.
var (
	alertPrefix     = []byte(`{"type":"whale_alert","seq":`)
	dataPrefix      = []byte(`,"data":{`)
	firstSeenPrefix = []byte(`"first_seen":"`)
	benchMarker     = []byte(`"detector":"` + BenchDetector + `"`)
	testMarker      = []byte(`"test":true`)
)

var errFrame = errors.New("load: unreadable server message")

// parseFrame reads a server message. A whale_alert in the engine's own layout is read
// directly, as the load tool may read a hundred thousand of them a second; anything else
// goes through encoding/json.
func parseFrame(b []byte) (frame, error) {
	if f, ok := parseAlert(b); ok {
		return f, nil
	}
	var m struct {
		Type string `json:"type"`
		Seq  uint64 `json:"seq"`
		Code string `json:"code"`
		Data struct {
			FirstSeen time.Time `json:"first_seen"`
			Detector  string    `json:"detector"`
			Test      bool      `json:"test"`
		} `json:"data"`
	}
	if err := json.Unmarshal(b, &m); err != nil || m.Type == "" {
		return frame{}, errFrame
	}
	f := frame{seq: m.Seq, code: m.Code}
	switch {
	case m.Type == "welcome":
		f.kind = frameWelcome
	case m.Type == "error":
		f.kind = frameError
	case m.Type == "whale_alert" && m.Data.Detector == BenchDetector && m.Data.Test:
		f.kind, f.firstSeen = frameBenchAlert, m.Data.FirstSeen
	case m.Type == "whale_alert" || m.Type == "alert_update":
		f.kind = frameRecord
	}
	return f, nil
}

// parseAlert reads a whale_alert laid out as alert.Frame writes it: the type, the seq,
// then the data object. ok is false for anything else.
func parseAlert(b []byte) (f frame, ok bool) {
	rest, ok := bytes.CutPrefix(b, alertPrefix)
	if !ok {
		return frame{}, false
	}
	n := 0
	for n < len(rest) && n < 20 && rest[n] >= '0' && rest[n] <= '9' {
		f.seq = f.seq*10 + uint64(rest[n]-'0')
		n++
	}
	data, ok := bytes.CutPrefix(rest[n:], dataPrefix)
	if n == 0 || n == 20 || !ok {
		return frame{}, false
	}
	if !bytes.Contains(data, benchMarker) || !bytes.Contains(data, testMarker) {
		f.kind = frameRecord
		return f, true
	}
	_, after, found := bytes.Cut(data, firstSeenPrefix)
	stamp, _, closed := bytes.Cut(after, []byte(`"`))
	if !found || !closed {
		return frame{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, string(stamp))
	if err != nil {
		return frame{}, false
	}
	f.kind, f.firstSeen = frameBenchAlert, t
	return f, true
}
