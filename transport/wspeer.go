package transport

import (
	"net"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/gorilla/websocket"

	"github.com/whalecast/whalecast/actors"
)

// Queue and timing limits of one WebSocket connection.
const (
	// MaxQueuedFrames bounds a connection's outbound queue in frames.
	MaxQueuedFrames = 1024
	// MaxQueuedBytes bounds a connection's outbound queue in bytes.
	MaxQueuedBytes = 1 << 20
	// MaxInflightFrames bounds client frames read but not yet handled by the session; the
	// reader waits past it, so a flooding client is slowed by TCP, not by our memory.
	MaxInflightFrames = 8
	// WriteTimeout is the deadline of one frame write; a client that cannot take a frame in
	// that time is disconnected.
	WriteTimeout = 10 * time.Second
	// CloseGrace is how long a closing connection waits for the client's close reply.
	CloseGrace = 2 * time.Second
)

// wsPeer implements actors.Peer over a gorilla connection. One reader goroutine lives as long
// as the connection; a writer goroutine exists only while frames are queued.
type wsPeer struct {
	conn   *websocket.Conn
	remote string

	mu          sync.Mutex
	queue       [][]byte
	queuedBytes int
	writing     bool
	closeCode   int
	closeReason string
	closing     bool
	broken      bool

	inflight chan struct{}
	done     chan struct{}
}

func newWSPeer(conn *websocket.Conn, remote string) *wsPeer {
	return &wsPeer{
		conn:     conn,
		remote:   remote,
		inflight: make(chan struct{}, MaxInflightFrames),
		done:     make(chan struct{}),
	}
}

// Remote implements actors.Peer.
func (p *wsPeer) Remote() string { return p.remote }

// Queued implements actors.Peer.
func (p *wsPeer) Queued() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.queue)
}

// Released implements actors.Peer.
func (p *wsPeer) Released() {
	select {
	case <-p.inflight:
	default:
	}
}

// Send implements actors.Peer.
func (p *wsPeer) Send(frame []byte) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closing || p.broken || len(p.queue) >= MaxQueuedFrames ||
		p.queuedBytes+len(frame) > MaxQueuedBytes {
		return false
	}
	p.queue = append(p.queue, frame)
	p.queuedBytes += len(frame)
	p.startWriter()
	return true
}

// Close implements actors.Peer. A full queue is dropped so that a stuck client learns the close
// code at once instead of after every queued frame.
func (p *wsPeer) Close(code int, reason string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closing || p.broken {
		return
	}
	p.closing = true
	p.closeCode, p.closeReason = code, reason
	if len(p.queue) >= MaxQueuedFrames || p.queuedBytes >= MaxQueuedBytes/2 {
		p.queue, p.queuedBytes = nil, 0
	}
	p.startWriter()
}

// startWriter runs the writer unless it runs already. Called with mu held.
func (p *wsPeer) startWriter() {
	if p.writing || p.broken {
		return
	}
	p.writing = true
	go p.writeLoop()
}

// writeLoop writes queued frames, then the close frame if one was asked for, and exits when
// there is nothing left to write.
func (p *wsPeer) writeLoop() {
	for {
		p.mu.Lock()
		if len(p.queue) == 0 {
			p.writing = false
			closing, code, reason := p.closing, p.closeCode, p.closeReason
			p.mu.Unlock()
			if closing {
				p.writeClose(code, reason)
			}
			return
		}
		frame := p.queue[0]
		p.queue[0] = nil
		p.queue = p.queue[1:]
		p.queuedBytes -= len(frame)
		if len(p.queue) == 0 {
			p.queue = nil
		}
		p.mu.Unlock()

		_ = p.conn.SetWriteDeadline(time.Now().Add(WriteTimeout))
		if err := p.conn.WriteMessage(websocket.TextMessage, frame); err != nil {
			p.fail()
			return
		}
	}
}

// writeClose sends the close frame and gives the client CloseGrace to answer; the reader
// closes the socket when the answer (or the deadline) comes. Reading on until then keeps
// unread client bytes from turning the close into a reset that would hide the code.
func (p *wsPeer) writeClose(code int, reason string) {
	msg := websocket.FormatCloseMessage(code, reason)
	deadline := time.Now().Add(CloseGrace)
	if err := p.conn.WriteControl(websocket.CloseMessage, msg, deadline); err != nil {
		p.fail()
		return
	}
	_ = p.conn.SetReadDeadline(deadline)
}

// fail marks the connection broken and closes the socket; the reader then reports PeerGone.
func (p *wsPeer) fail() {
	p.mu.Lock()
	p.broken = true
	p.writing = false
	p.queue, p.queuedBytes = nil, 0
	p.mu.Unlock()
	_ = p.conn.Close()
}

// Closed implements actors.Peer.
func (p *wsPeer) Closed() bool { return p.isClosing() }

func (p *wsPeer) isClosing() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closing || p.broken
}

// readLoop forwards client frames to the session until the connection ends. It runs in the
// connection's goroutine and returns when the socket is closed.
func (p *wsPeer) readLoop(root *actor.RootContext, session *actor.PID) {
	defer close(p.done)
	defer p.conn.Close()
	for {
		if !p.acquire() {
			return
		}
		typ, data, err := p.conn.ReadMessage()
		if err != nil {
			p.fail()
			root.Send(session, &actors.PeerGone{Err: err})
			return
		}
		if p.isClosing() {
			p.Released()
			continue
		}
		root.Send(session, &actors.ClientFrame{Data: data, Binary: typ == websocket.BinaryMessage})
	}
}

// acquire takes an inflight slot, waiting while the session is busy; it gives up when the
// connection is closing and the session will not release slots any more.
func (p *wsPeer) acquire() bool {
	select {
	case p.inflight <- struct{}{}:
		return true
	default:
	}
	t := time.NewTimer(CloseGrace)
	defer t.Stop()
	for {
		select {
		case p.inflight <- struct{}{}:
			return true
		case <-t.C:
			if p.isClosing() {
				return false
			}
			t.Reset(CloseGrace)
		}
	}
}

// remoteIP returns the host part of a connection's peer address.
func remoteIP(addr net.Addr) string {
	host, _, err := net.SplitHostPort(addr.String())
	if err != nil {
		return addr.String()
	}
	return host
}
