package transport

import (
	"bytes"
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/whalecast/whalecast/actors"
)

// TestPingFloodClosed sends a burst of pings before any message, as an unauthenticated
// client could: a handful are answered, then the connection is closed with 4008.
func TestPingFloodClosed(t *testing.T) {
	ls := startLive(t, nil, nil)
	c := dialWS(t, ls, nil)
	var pongs atomic.Int64
	c.SetPongHandler(func(string) error { pongs.Add(1); return nil })

	const burst = 5 * MaxControlFrames
	for i := range burst {
		err := c.WriteControl(websocket.PingMessage, []byte("p"), time.Now().Add(waitTimeout))
		if err != nil {
			t.Logf("ping %d: %v (the server closed first)", i, err)
			break
		}
	}

	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _, err := c.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != actors.CloseRateLimitAbused {
		t.Fatalf("after %d pings: got %v with %d pongs, want close %d", burst, err,
			pongs.Load(), actors.CloseRateLimitAbused)
	}
	if got := pongs.Load(); got > MaxControlFrames {
		t.Errorf("pongs: got %d, want at most %d", got, MaxControlFrames)
	}
	if got := ls.srv.cfg.Stats.RateLimited.Load(); got != 1 {
		t.Errorf("rate_limited: got %d, want 1", got)
	}
}

// TestPingsWithinBudget pings at a steady pace under the budget: every ping is answered
// and the connection stays open.
func TestPingsWithinBudget(t *testing.T) {
	ls := startLive(t, nil, nil)
	c := dialWS(t, ls, nil)
	pongs := make(chan struct{}, 64)
	c.SetPongHandler(func(string) error { pongs <- struct{}{}; return nil })

	// Half the budget, for longer than a second: more pings than one second allows.
	const n = MaxControlFrames + 5
	for i := range n {
		if err := c.WriteControl(websocket.PingMessage, nil,
			time.Now().Add(waitTimeout)); err != nil {
			t.Fatalf("ping %d: %v", i, err)
		}
		time.Sleep(2 * time.Second / MaxControlFrames)
	}
	// The echo reads the pongs on its way; it must come back, not a close frame.
	echo(t, c, "still here")
	if got := len(pongs); got != n {
		t.Errorf("pongs: got %d, want %d", got, n)
	}
}

// TestIdleClientKeptAlive leaves a client that reads (and so answers pings) idle for several
// keep-alive timeouts: the engine pings it, and it stays connected.
func TestIdleClientKeptAlive(t *testing.T) {
	const ping, keepAlive = 100 * time.Millisecond, 400 * time.Millisecond
	ls := startLive(t, func(c *Config) {
		c.Timeouts.Ping, c.Timeouts.KeepAlive = ping, keepAlive
	}, nil)
	c := dialWS(t, ls, nil)
	p := ls.nextPeer(t)
	var pings atomic.Int64
	answer := c.PingHandler()
	c.SetPingHandler(func(data string) error { pings.Add(1); return answer(data) })

	// The client reads all along, as browsers do; its reader answers the pings.
	type result struct {
		data []byte
		err  error
	}
	read := make(chan result, 1)
	go func() {
		_ = c.SetReadDeadline(time.Now().Add(waitTimeout))
		_, data, err := c.ReadMessage()
		read <- result{data, err}
	}()

	time.Sleep(4 * keepAlive)
	if p.ended.Load() {
		t.Fatalf("the engine dropped an idle client that answers pings")
	}
	if got := pings.Load(); got < 2 {
		t.Errorf("pings from the engine: got %d in %v, want at least 2", got, 4*keepAlive)
	}

	_ = c.SetWriteDeadline(time.Now().Add(waitTimeout))
	if err := c.WriteMessage(websocket.TextMessage, []byte("still here")); err != nil {
		t.Fatalf("send: %v", err)
	}
	if r := <-read; r.err != nil || string(r.data) != "still here" {
		t.Errorf("echo: got %q, %v, want \"still here\"", r.data, r.err)
	}
}

// TestSilentPeerDropped connects a client that never reads, so never answers a ping: the
// engine drops it after the keep-alive timeout.
func TestSilentPeerDropped(t *testing.T) {
	const ping, keepAlive = 100 * time.Millisecond, 400 * time.Millisecond
	ls := startLive(t, func(c *Config) {
		c.Timeouts.Ping, c.Timeouts.KeepAlive = ping, keepAlive
	}, nil)
	dialWS(t, ls, nil)
	p := ls.nextPeer(t)
	if took := waitDone(t, p, keepAlive+3*time.Second); took > keepAlive+time.Second {
		t.Errorf("dropped after %v, want about %v", took, keepAlive)
	}
}

// TestEndlessFragmentedMessageCut sends the first fragment of a message and then empty
// continuation frames for ever, which gorilla's ReadMessage would wait on for ever: the
// keep-alive deadline, extended only by complete messages and pongs, cuts it.
func TestEndlessFragmentedMessageCut(t *testing.T) {
	const ping, keepAlive = 100 * time.Millisecond, 400 * time.Millisecond
	ls := startLive(t, func(c *Config) {
		c.Timeouts.Ping, c.Timeouts.KeepAlive = ping, keepAlive
	}, nil)
	c := dialWS(t, ls, nil)
	p := ls.nextPeer(t)
	raw := c.NetConn()

	stop := make(chan struct{})
	sent := make(chan int, 1)
	go func() {
		n := 0
		defer func() { sent <- n }()
		_ = raw.SetWriteDeadline(time.Now().Add(waitTimeout))
		if _, err := raw.Write(clientFrame(0x01, []byte("{"))); err != nil {
			return
		}
		empty := bytes.Repeat(clientFrame(0x00, nil), 100)
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			if _, err := raw.Write(empty); err != nil {
				return
			}
			n += 100
		}
	}()

	took := waitDone(t, p, keepAlive+3*time.Second)
	close(stop)
	n := <-sent
	if took > keepAlive+time.Second {
		t.Errorf("cut after %v, want about %v", took, keepAlive)
	}
	if n == 0 {
		t.Errorf("no continuation frame was sent")
	}
}

// TestStuckClientReleasedOnClose fills the queue of a client that reads nothing and closes
// it as a slow consumer: the write blocked on the client is cut after CloseGrace, not after
// the frame write deadline.
func TestStuckClientReleasedOnClose(t *testing.T) {
	const frameWrite, grace = 5 * time.Second, 200 * time.Millisecond
	ls := startLive(t, func(c *Config) {
		c.Timeouts.FrameWrite, c.Timeouts.CloseGrace = frameWrite, grace
	}, nil)
	c := dialWS(t, ls, nil)
	if tc, ok := c.NetConn().(*net.TCPConn); ok {
		_ = tc.SetReadBuffer(4096)
	}
	p := ls.nextPeer(t)

	// Fill the socket's buffers and the queue until the writer is blocked: the queue is
	// still full a while after it last refused a frame.
	frame := bytes.Repeat([]byte("w"), 64<<10)
	deadline := time.Now().Add(waitTimeout)
	for {
		for p.Send(frame) {
		}
		time.Sleep(100 * time.Millisecond)
		if !p.Send(frame) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the writer never blocked within %v", waitTimeout)
		}
	}
	p.mu.Lock()
	writing := p.writing
	p.mu.Unlock()
	if !writing {
		t.Fatalf("the queue is full but no write is in progress")
	}

	p.Close(actors.CloseSlowConsumer, "slow_consumer")
	if took := waitDone(t, p, frameWrite+3*time.Second); took > grace+time.Second {
		t.Errorf("released after %v, want about the close grace %v (not the frame write "+
			"deadline %v)", took, grace, frameWrite)
	}
}

// TestStalledClientReported leaves a client that reads nothing until a write to it times
// out: its session learns the client stalled (ErrClientStalled), so that it counts a slow
// consumer rather than a client that left.
func TestStalledClientReported(t *testing.T) {
	const frameWrite = 300 * time.Millisecond
	ls := startLive(t, func(c *Config) { c.Timeouts.FrameWrite = frameWrite }, nil)
	c := dialWS(t, ls, nil)
	if tc, ok := c.NetConn().(*net.TCPConn); ok {
		_ = tc.SetReadBuffer(4096)
	}
	p := ls.nextPeer(t)

	// A few frames, far below the queue's bound, but more than the socket buffers hold.
	frame := bytes.Repeat([]byte("s"), 64<<10)
	for range 8 {
		if !p.Send(frame) {
			t.Fatal("the queue refused a frame below its bound")
		}
	}
	select {
	case err := <-ls.gone:
		if !errors.Is(err, actors.ErrClientStalled) {
			t.Errorf("PeerGone error %v, want ErrClientStalled", err)
		}
	case <-time.After(waitTimeout):
		t.Fatalf("no PeerGone within %v of a stalled write", waitTimeout)
	}
}

// clientFrame returns a masked client frame with opcode op, FIN unset for a text start
// (0x01) or a continuation (0x00), and payload (under 126 bytes).
func clientFrame(op byte, payload []byte) []byte {
	key := []byte{1, 2, 3, 4}
	f := []byte{op, 0x80 | byte(len(payload))}
	f = append(f, key...)
	for i, b := range payload {
		f = append(f, b^key[i%4])
	}
	return f
}
