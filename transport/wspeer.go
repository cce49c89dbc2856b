package transport

import (
	"bufio"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
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
	// that time is disconnected. Once the connection is closing, every frame still queued
	// must be written within one WriteTimeout in all.
	WriteTimeout = 10 * time.Second
	// SocketSendBuffer is the kernel's send buffer of a WebSocket connection (SO_SNDBUF;
	// Linux doubles it for its bookkeeping). Left to itself the kernel grows a connection's
	// buffer to 4 MiB, and a client that stops reading would hide that much behind
	// MaxQueuedBytes before the engine noticed it was slow.
	SocketSendBuffer = 64 << 10
	// CloseGrace is how long a closing connection waits for the client's close reply, and
	// how long a write blocked on a client that reads nothing may go on once the connection
	// is closed with a stuck queue.
	CloseGrace = 2 * time.Second
)

// peerEnv is what every connection of a server shares.
type peerEnv struct {
	times Timeouts
	log   *slog.Logger
	stats *actors.Stats
	// root sends client frames to the sessions.
	root *actor.RootContext
	// release is called once a connection has ended, with its client's address.
	release func(ip netip.Addr)
	// epoch is when the server was built; peers keep times as monotonic offsets from it.
	epoch time.Time
}

// wsPeer implements actors.Peer over a gorilla connection. One goroutine at a time reads
// the connection, from its start to its end (wspeer_read.go); a writer goroutine exists only
// while frames are queued, and a timer whose callback runs only when it fires pings the
// client when it is silent.
type wsPeer struct {
	conn *websocket.Conn
	// batch is the connection gorilla writes to, when it batches (see batchConn).
	batch *batchConn
	// br is the buffer gorilla reads the connection through; raw waits for the socket to
	// become readable, or is nil where that cannot be done (see watch).
	br      *bufio.Reader
	raw     syscall.RawConn
	ip      netip.Addr
	env     *peerEnv
	session *actor.PID

	mu          sync.Mutex
	queue       [][]byte
	queuedBytes int
	closeCode   int
	closeReason string
	// final is written right before the close frame (CloseWith).
	final []byte
	// closeBy, once closing, is the latest deadline of any frame write.
	closeBy time.Time
	pinger  *time.Timer
	writing bool
	closing bool
	broken  bool
	// stalled: a write timed out before any close was asked for; the client stopped reading.
	stalled bool

	// heardAt is when the client last sent a complete message or a pong, as an offset
	// from env.epoch.
	heardAt atomic.Int64
	// controls counts the client's control frames in the second from controlsFrom. Only
	// the reader goroutine touches them.
	controls     int
	controlsFrom time.Time

	// inflight counts client frames handed to the session and not yet released; the
	// reader waits on slotFreed, made when it has to, past MaxInflightFrames.
	inflight  int
	slotFreed chan struct{}
	// ended is set once the connection's reading is over and it has been released.
	ended atomic.Bool
}

func newWSPeer(conn *websocket.Conn, br *bufio.Reader, ip netip.Addr, env *peerEnv) *wsPeer {
	batch, _ := conn.NetConn().(*batchConn)
	socket := socketOf(conn.NetConn())
	limitSendBuffer(socket)
	return &wsPeer{
		conn:  conn,
		batch: batch,
		br:    br,
		raw:   rawConn(socket),
		ip:    ip,
		env:   env,
	}
}

// limitSendBuffer sets c's kernel send buffer to SocketSendBuffer, through TLS if need be.
func limitSendBuffer(c net.Conn) {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(SocketSendBuffer)
	}
}

// Remote implements actors.Peer.
func (p *wsPeer) Remote() string { return p.ip.String() }

// Queued implements actors.Peer.
func (p *wsPeer) Queued() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.queue)
}

// Released implements actors.Peer.
func (p *wsPeer) Released() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.inflight > 0 {
		p.inflight--
	}
	if p.slotFreed != nil {
		close(p.slotFreed)
		p.slotFreed = nil
	}
}

// Send implements actors.Peer.
func (p *wsPeer) Send(frame []byte) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closing || p.broken {
		return false
	}
	if len(p.queue) >= MaxQueuedFrames || p.queuedBytes+len(frame) > MaxQueuedBytes {
		p.env.stats.FramesDropped(actors.DropQueueFull, 1)
		return false
	}
	p.queue = append(p.queue, frame)
	p.queuedBytes += len(frame)
	p.startWriter()
	return true
}

// Close implements actors.Peer. A full queue is dropped so that a stuck client learns the close
// code at once instead of after every queued frame. If a write is then still blocked on the
// client, it gets CloseGrace to finish before the socket is closed under it: waiting for its
// own deadline would hold the socket and its buffers for a client that reads nothing.
func (p *wsPeer) Close(code int, reason string) {
	p.CloseWith(nil, code, reason)
}

// CloseWith implements actors.Peer.
func (p *wsPeer) CloseWith(final []byte, code int, reason string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closing || p.broken {
		return
	}
	p.closing = true
	p.closeCode, p.closeReason, p.final = code, reason, final
	p.closeBy = time.Now().Add(p.env.times.FrameWrite)
	if len(p.queue) >= MaxQueuedFrames || p.queuedBytes >= MaxQueuedBytes/2 {
		p.env.stats.FramesDropped(actors.DropDiscarded, len(p.queue))
		p.queue, p.queuedBytes = nil, 0
		if p.writing {
			time.AfterFunc(p.env.times.CloseGrace, p.cutStuckWrite)
		}
	}
	p.startWriter()
}

// cutStuckWrite closes the socket if the writer is still on a data frame, CloseGrace after
// a stuck queue was closed. A shorter write deadline could not do it reliably: the writer
// sets a new deadline with every frame. A writer that reached the close frame has a
// deadline of CloseGrace already and is left alone.
func (p *wsPeer) cutStuckWrite() {
	p.mu.Lock()
	stuck := p.writing && !p.broken
	p.mu.Unlock()
	if stuck {
		p.env.log.Debug("websocket write stuck after close", "remote", p.ip)
		p.fail()
	}
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
			closing, code, reason, final := p.closing, p.closeCode, p.closeReason, p.final
			p.final = nil
			p.mu.Unlock()
			if closing {
				p.writeClose(final, code, reason)
			}
			return
		}
		// The frames up to maxBatchBytes (at least one) go in one write. Send only appends
		// past them, so the batch is read without the lock.
		n, size := 1, len(p.queue[0])
		for n < len(p.queue) && size+len(p.queue[n]) <= maxBatchBytes {
			size += len(p.queue[n])
			n++
		}
		batch := p.queue[:n]
		p.queue = p.queue[n:]
		p.queuedBytes -= size
		if len(p.queue) == 0 {
			p.queue = nil
		}
		deadline := time.Now().Add(p.env.times.FrameWrite)
		if p.closing && p.closeBy.Before(deadline) {
			deadline = p.closeBy
		}
		p.mu.Unlock()

		if err := p.writeBatch(batch, deadline); err != nil {
			p.failWrite(err)
			return
		}
	}
}

// writeBatch writes frames, in one system call when the connection batches.
func (p *wsPeer) writeBatch(frames [][]byte, deadline time.Time) error {
	_ = p.conn.SetWriteDeadline(deadline)
	durableAt := p.env.stats.DurableAt(frames)
	batched := len(frames) > 1 && p.batch != nil
	if batched {
		p.batch.hold(deadline)
	}
	var err error
	for i, frame := range frames {
		frames[i] = nil
		if err == nil {
			err = p.conn.WriteMessage(websocket.TextMessage, frame)
		}
	}
	if batched {
		if ferr := p.batch.flush(); err == nil {
			err = ferr
		}
	}
	if err == nil {
		p.env.stats.ObserveDelivered(durableAt)
	}
	return err
}

// writeClose sends final, if any, and the close frame, and gives the client CloseGrace to
// answer; the reader closes the socket when the answer (or the deadline) comes. Reading on
// until then keeps unread client bytes from turning the close into a reset that would hide
// the code.
func (p *wsPeer) writeClose(final []byte, code int, reason string) {
	msg := websocket.FormatCloseMessage(code, reason)
	deadline := time.Now().Add(p.env.times.CloseGrace)
	if final != nil {
		_ = p.conn.SetWriteDeadline(deadline)
		if err := p.conn.WriteMessage(websocket.TextMessage, final); err != nil {
			p.fail()
			return
		}
	}
	if err := p.conn.WriteControl(websocket.CloseMessage, msg, deadline); err != nil {
		p.fail()
		return
	}
	// Under mu: the reader extends its deadline under mu only while not closing, so this
	// one is never moved later.
	p.mu.Lock()
	_ = p.conn.SetReadDeadline(deadline)
	p.mu.Unlock()
}

// failWrite ends the connection after a failed write. A write that timed out while no close
// was asked for means the client stopped reading: the reader's PeerGone then says so.
func (p *wsPeer) failWrite(err error) {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		p.mu.Lock()
		p.stalled = !p.closing
		p.mu.Unlock()
	}
	p.fail()
}

// fail marks the connection broken and closes the socket; the reader then reports PeerGone.
func (p *wsPeer) fail() {
	p.mu.Lock()
	p.broken = true
	p.writing = false
	p.env.stats.FramesDropped(actors.DropDiscarded, len(p.queue))
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

// remoteIP returns the host part of a connection's peer address.
func remoteIP(addr net.Addr) string {
	host, _, err := net.SplitHostPort(addr.String())
	if err != nil {
		return addr.String()
	}
	return host
}
