package transport

import (
	"bytes"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestPingOrPong reads the frames that pingPong answers itself, and those it leaves to
// gorilla: anything but a complete, well-formed, masked ping or pong.
func TestPingOrPong(t *testing.T) {
	long := bytes.Repeat([]byte("x"), maxControlSize)
	tests := []struct {
		name        string
		frame       []byte
		wantOK      bool
		wantOp      byte
		wantPayload string
	}{
		{"ping", clientFrame(0x89, []byte("abc")), true, opcodePing, "abc"},
		{"empty pong", clientFrame(0x8a, nil), true, opcodePong, ""},
		{"ping of 125 bytes", clientFrame(0x89, long), true, opcodePing, string(long)},
		{"ping, then a text frame", append(clientFrame(0x89, []byte("p")),
			clientFrame(0x81, []byte("hi"))...), true, opcodePing, "p"},
		{"incomplete ping", clientFrame(0x89, []byte("abc"))[:8], false, 0, ""},
		{"first byte only", []byte{0x89}, false, 0, ""},
		{"text", clientFrame(0x81, []byte("hi")), false, 0, ""},
		{"close", clientFrame(0x88, nil), false, 0, ""},
		{"continuation", clientFrame(0x80, []byte("x")), false, 0, ""},
		{"ping without FIN", clientFrame(0x09, []byte("p")), false, 0, ""},
		{"ping with RSV1", clientFrame(0xc9, []byte("p")), false, 0, ""},
		{"unmasked ping", []byte{0x89, 0x01, 'p'}, false, 0, ""},
		{"ping of 126 bytes", append([]byte{0x89, 0x80 | 126, 0, 126, 1, 2, 3, 4},
			bytes.Repeat([]byte("x"), 126)...), false, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			op, payload, ok := pingOrPong(bytes.Clone(tt.frame))
			if ok != tt.wantOK || op != tt.wantOp || string(payload) != tt.wantPayload {
				t.Errorf("got %v, op %#x, payload %q; want %v, op %#x, payload %q", ok, op,
					payload, tt.wantOK, tt.wantOp, tt.wantPayload)
			}
		})
	}
}

// TestIdleReaderWaitsInWatch pings an idle client that answers: once its pongs are read,
// the connection's reader waits in watch, and not inside gorilla's read, whose deeper
// stack every idle connection would keep (wspeer_read.go).
func TestIdleReaderWaitsInWatch(t *testing.T) {
	if !canPeek {
		t.Skip("the shallow wait is done on Linux only")
	}
	const ping, keepAlive = 150 * time.Millisecond, time.Second
	ls := startLive(t, func(c *Config) {
		c.Timeouts.Ping, c.Timeouts.KeepAlive = ping, keepAlive
	}, nil)
	c := dialWS(t, ls, nil)
	ls.nextPeer(t)
	var pings atomic.Int64
	answer := c.PingHandler()
	c.SetPingHandler(func(data string) error { pings.Add(1); return answer(data) })
	go func() {
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				return
			}
		}
	}()

	deadline := time.Now().Add(waitTimeout)
	for pings.Load() < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("pings from the engine: got %d, want 3", pings.Load())
		}
		time.Sleep(ping / 5)
	}
	stacks := make([]byte, 1<<20)
	for {
		all := string(stacks[:runtime.Stack(stacks, true)])
		watching := strings.Count(all, "transport.(*wsPeer).watch(")
		reading := strings.Count(all, "transport.(*wsPeer).read(")
		if watching == 1 && reading == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("readers: %d in watch, %d in read; want 1 in watch", watching, reading)
		}
		time.Sleep(ping / 10)
	}
}
