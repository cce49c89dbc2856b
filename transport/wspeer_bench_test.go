package transport

import (
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// BenchmarkIdleEcho sends one message on a connection that waits idle between messages, and
// reads the echo: per op, the server wakes its reader (watch), takes a read buffer, reads
// the message, parks again, and writes the echo with a writer that exists while it is
// queued.
func BenchmarkIdleEcho(b *testing.B) {
	ls := startLive(b, nil, nil)
	c := dialWS(b, ls, nil)
	ls.nextPeer(b)
	msg := []byte(`{"type":"ping"}`)
	b.ReportAllocs()
	for b.Loop() {
		_ = c.SetWriteDeadline(time.Now().Add(waitTimeout))
		if err := c.WriteMessage(websocket.TextMessage, msg); err != nil {
			b.Fatalf("send: %v", err)
		}
		_ = c.SetReadDeadline(time.Now().Add(waitTimeout))
		if _, _, err := c.ReadMessage(); err != nil {
			b.Fatalf("read the echo: %v", err)
		}
	}
}

// BenchmarkPeerSendDrain queues one frame on a connection's peer and waits until the client
// has read it: the writer goroutine is started by the Send and exits once the queue is
// empty.
func BenchmarkPeerSendDrain(b *testing.B) {
	ls := startLive(b, nil, nil)
	c := dialWS(b, ls, nil)
	p := ls.nextPeer(b)
	frame := []byte(`{"type":"whale_alert","seq":1}`)
	b.ReportAllocs()
	for b.Loop() {
		if !p.Send(frame) {
			b.Fatalf("send refused")
		}
		_ = c.SetReadDeadline(time.Now().Add(waitTimeout))
		if _, _, err := c.ReadMessage(); err != nil {
			b.Fatalf("read: %v", err)
		}
	}
}
