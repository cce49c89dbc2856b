package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// maxRecorded bounds the records one recorder keeps.
const maxRecorded = 200_000

// seenRecord is a record (whale_alert or alert_update) as a client received it.
type seenRecord struct {
	seq   uint64
	frame []byte
}

// recorder is a client that authenticates with since and then records every record it
// receives, in order, until its connection ends or it has stopAt. It checks the stream as
// it reads: each record's seq must be the previous one plus one, starting at since+1, and
// no other message may come.
type recorder struct {
	conn   *websocket.Conn
	since  uint64
	stopAt uint64 // 0: read until the connection ends
	done   chan struct{}

	mu        sync.Mutex
	records   []seenRecord
	bad       error // the first violation of the stream's order, or an unexpected message
	closeCode int   // the close code the server sent, or 0
	end       error // how reading ended
}

// record dials wsURL, authenticates with tok and since, reads auth_success and welcome,
// and records the stream in a goroutine of its own. stopAt > 0 stops it once it has that
// seq; 0 reads until the connection ends.
func record(tb testing.TB, wsURL, tok string, since, stopAt uint64) *recorder {
	tb.Helper()
	auth := fmt.Sprintf(`{"type":"auth","token":%q,"since":%d}`, tok, since)
	return startRecorder(tb, wsURL, auth, &since, stopAt)
}

// recordLive is record without since: the stream starts after the welcome's seq.
func recordLive(tb testing.TB, wsURL, tok string) *recorder {
	tb.Helper()
	return startRecorder(tb, wsURL, fmt.Sprintf(`{"type":"auth","token":%q}`, tok), nil, 0)
}

// startRecorder dials wsURL, sends auth, reads auth_success and welcome and starts
// recording; since nil takes the welcome's seq.
func startRecorder(tb testing.TB, wsURL, auth string, since *uint64,
	stopAt uint64) *recorder {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	c, resp, err := websocket.DefaultDialer.DialContext(ctx, wsURL, nil)
	if err != nil {
		tb.Fatalf("dial %s: %v", wsURL, err)
	}
	_ = resp.Body.Close()
	tb.Cleanup(func() { _ = c.Close() })
	_ = c.SetWriteDeadline(time.Now().Add(waitTimeout))
	if err := c.WriteMessage(websocket.TextMessage, []byte(auth)); err != nil {
		tb.Fatalf("send auth: %v", err)
	}
	if m := readMsg(tb, c); m.Type != "auth_success" {
		tb.Fatalf("after auth: got type %q, want auth_success", m.Type)
	}
	welcome := readMsg(tb, c)
	if welcome.Type != "welcome" {
		tb.Fatalf("after auth_success: got type %q, want welcome", welcome.Type)
	}
	if since == nil {
		since = &welcome.Seq
	}
	_ = c.SetReadDeadline(time.Time{})

	r := &recorder{conn: c, since: *since, stopAt: stopAt, done: make(chan struct{})}
	go r.read()
	return r
}

// read records messages until the connection ends, stopAt is reached or maxRecorded are kept.
func (r *recorder) read() {
	defer close(r.done)
	last := r.since
	for range maxRecorded {
		_, data, err := r.conn.ReadMessage()
		if err != nil {
			r.ended(err)
			return
		}
		seq, ok := recordSeq(data)
		if !ok {
			r.violation(fmt.Errorf("after seq %d: got %.200s, want only records", last, data))
			continue
		}
		if seq != last+1 {
			r.violation(fmt.Errorf("seq %d follows %d: gap, repeat or disorder", seq, last))
		}
		last = seq
		r.mu.Lock()
		r.records = append(r.records, seenRecord{seq: seq, frame: data})
		r.mu.Unlock()
		if r.stopAt > 0 && seq >= r.stopAt {
			_ = r.conn.Close()
			return
		}
	}
	r.violation(fmt.Errorf("more than %d records", maxRecorded))
}

// recordSeq returns the seq of a whale_alert or alert_update message; ok is false for any
// other message. Records start with their type and seq (alert.Frame), which spares a
// recorder the decoding of thousands of messages a second.
func recordSeq(data []byte) (seq uint64, ok bool) {
	for _, typ := range []string{"whale_alert", "alert_update"} {
		rest, found := bytes.CutPrefix(data, []byte(`{"type":"`+typ+`","seq":`))
		if !found {
			continue
		}
		end := bytes.IndexByte(rest, ',')
		if end < 0 {
			return 0, false
		}
		seq, err := strconv.ParseUint(string(rest[:end]), 10, 64)
		return seq, err == nil
	}
	return 0, false
}

func (r *recorder) violation(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.bad == nil {
		r.bad = err
	}
}

func (r *recorder) ended(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.end = err
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		r.closeCode = ce.Code
	}
}

// count returns how many records the recorder has.
func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.records)
}

// wait waits until the recorder stopped reading and returns what it recorded; it fails tb
// on any violation of the stream.
func (r *recorder) wait(tb testing.TB, within time.Duration) []seenRecord {
	tb.Helper()
	select {
	case <-r.done:
	case <-time.After(within):
		_ = r.conn.Close()
		<-r.done
		tb.Fatalf("client (since %d) still reading after %v, with %d records", r.since,
			within, r.count())
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.bad != nil {
		tb.Fatalf("client (since %d): %v", r.since, r.bad)
	}
	return r.records
}
