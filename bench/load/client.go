package load

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// Limits of a client connection.
const (
	// maxFrame is the largest server message a client reads.
	maxFrame = 64 << 10
	// closeWait is how long a client waits for the server's answer to its close frame.
	closeWait = 2 * time.Second
)

// client is one WebSocket connection of a run. Its goroutine dials, authenticates and reads
// until the run stops it or the server ends the connection; rec is its own until done is
// closed, and the run reads only the atomics before that.
type client struct {
	id   int
	conn atomic.Pointer[websocket.Conn]
	done chan struct{}

	// welcomed is set once the client has its welcome, and base with it.
	welcomed atomic.Bool
	base     atomic.Uint64
	// received counts the distinct load alerts received, for the drain.
	received atomic.Uint64

	rec receipts
	// ready is set once the handshake is over: the client is counted, and owes alerts.
	ready bool
	// dropped is set when the server ended the connection before the run stopped it;
	// dropCause says how.
	dropped   bool
	dropCause string
	// stalled: the client read nothing after its welcome (Config.Stalled).
	stalled bool
}

// dialer returns the WebSocket dialer of the run's clients: small buffers, as a run holds
// many connections that each read small messages.
func (r *run) dialer() *websocket.Dialer {
	return &websocket.Dialer{
		HandshakeTimeout: r.cfg.HandshakeTimeout,
		ReadBufferSize:   2048,
		WriteBufferSize:  512,
		WriteBufferPool:  &sync.Pool{},
	}
}

// runClient is the goroutine of client c: dial, authenticate, subscribe, then read. It
// holds a place in dials until its handshake is over.
func (r *run) runClient(ctx context.Context, c *client, dials <-chan struct{}) {
	defer close(c.done)
	err := r.connect(ctx, c)
	<-dials
	if err != nil {
		if conn := c.conn.Load(); conn != nil {
			_ = conn.Close()
		}
		if ctx.Err() == nil && !r.stopping.Load() {
			r.connectFailed(err)
		}
		return
	}
	c.ready = true
	r.welcomed.Add(1)
	r.connected.Add(1)
	r.updatePeak()
	if c.stalled {
		r.stall(c)
	} else {
		r.read(c)
	}
	r.connected.Add(-1)
	_ = c.conn.Load().Close()
}

// stalledReceiveBuffer is a stalled client's socket receive buffer: small, so that its
// server's queue, not the kernel, holds what it does not read.
const stalledReceiveBuffer = 4096

// dialSmallReceiveBuffer dials TCP with a receive buffer of stalledReceiveBuffer bytes.
func dialSmallReceiveBuffer(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetReadBuffer(stalledReceiveBuffer)
	}
	return conn, nil
}

// stall reads nothing until the run stops, then reads what the server sent meanwhile to
// learn whether, and how, it ended the connection. A server that closes a client which
// reads nothing can seldom send its close frame (its write is stuck behind the unread
// data), so a reset or an end of stream counts as a close too; only the answer to the
// run's own close frame, or no answer at all, means the server kept the client.
func (r *run) stall(c *client) {
	<-r.stopped
	conn := c.conn.Load()
	_ = conn.SetReadDeadline(time.Now().Add(closeWait))
	for {
		_, _, err := conn.NextReader()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		var ne net.Error
		kept := (errors.As(err, &ce) && ce.Code == websocket.CloseNormalClosure) ||
			(errors.As(err, &ne) && ne.Timeout())
		if !kept {
			c.dropped, c.dropCause = true, causeOf(err)
		}
		return
	}
}

// connect dials and authenticates c, and returns once it has its welcome and has sent its
// subscription.
func (r *run) connect(ctx context.Context, c *client) error {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.HandshakeTimeout)
	defer cancel()
	token := ""
	if mint := r.cfg.Credentials.ClientToken; mint != nil {
		t, err := mint(c.id)
		if err != nil {
			return fmt.Errorf("mint token: %w", err)
		}
		token = t
	}
	header := http.Header{}
	if token != "" && r.cfg.Auth == AuthHeader {
		header.Set("Authorization", "Bearer "+token)
	}

	dialer := r.dialer()
	if c.stalled {
		dialer.NetDialContext = dialSmallReceiveBuffer
	}
	conn, resp, err := dialer.DialContext(ctx, r.cfg.URL, header)
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	if err != nil {
		if resp != nil {
			return httpStatusError(resp.StatusCode)
		}
		return err
	}
	conn.SetReadLimit(maxFrame)
	c.conn.Store(conn)
	if r.stopping.Load() {
		return errStopped
	}
	deadline, _ := ctx.Deadline()
	_ = conn.SetReadDeadline(deadline)
	_ = conn.SetWriteDeadline(deadline)
	if token != "" && r.cfg.Auth == AuthMessage {
		msg := `{"type":"auth","token":` + strconv.Quote(token) + `}`
		if err := conn.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
			return err
		}
	}

	if err := r.awaitWelcome(c, conn); err != nil {
		return err
	}
	sub := []byte(`{"type":"subscribe","min_btc":0}`)
	if err := conn.WriteMessage(websocket.TextMessage, sub); err != nil {
		return err
	}
	_ = conn.SetReadDeadline(time.Time{})
	_ = conn.SetWriteDeadline(time.Time{})
	return nil
}

// awaitWelcome reads until the welcome, which sets the client's base seq.
func (r *run) awaitWelcome(c *client, conn *websocket.Conn) error {
	for {
		_, data, err := conn.ReadMessage()
		if err != nil {
			return err
		}
		f, err := parseFrame(data)
		if err != nil {
			return err
		}
		switch f.kind {
		case frameWelcome:
			c.rec.base = f.seq
			c.base.Store(f.seq)
			c.welcomed.Store(true)
			return nil
		case frameError:
			return fmt.Errorf("error %s before the welcome", f.code)
		}
	}
}

// read handles the client's messages until its connection ends.
func (r *run) read(c *client) {
	conn := c.conn.Load()
	buf := make([]byte, 0, 1024)
	for {
		_, rd, err := conn.NextReader()
		if err == nil {
			buf, err = readFrame(rd, buf[:0])
		}
		if err != nil {
			if !r.stopping.Load() {
				c.dropped, c.dropCause = true, causeOf(err)
			}
			return
		}
		r.handle(c, buf, time.Now())
	}
}

// readFrame appends the message of rd to buf.
func readFrame(rd io.Reader, buf []byte) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := rd.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// handle counts one message received at now.
func (r *run) handle(c *client, data []byte, now time.Time) {
	f, err := parseFrame(data)
	switch {
	case err != nil:
		r.badFrames.Add(1)
	case f.kind == frameBenchAlert:
		if c.rec.add(f.seq) {
			c.received.Add(1)
			r.delivered.Add(1)
			r.hist.Record(now.Sub(f.firstSeen))
			r.noteReceipt(now)
		}
	case f.kind == frameError:
		r.errorFrames.Add(1)
	default:
		r.otherFrames.Add(1)
	}
}

// noteReceipt raises lastReceipt to now.
func (r *run) noteReceipt(now time.Time) {
	ns := now.UnixNano()
	for {
		old := r.lastReceipt.Load()
		if ns <= old || r.lastReceipt.CompareAndSwap(old, ns) {
			return
		}
	}
}

// stop closes c's connection: a close frame, then, if the server does not answer within
// closeWait, the socket.
func (c *client) stop() {
	conn := c.conn.Load()
	if conn == nil {
		return
	}
	deadline := time.Now().Add(closeWait)
	msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "load test over")
	_ = conn.WriteControl(websocket.CloseMessage, msg, deadline)
	_ = conn.SetReadDeadline(deadline)
}

// errStopped ends a handshake that the run's stop overtook.
var errStopped = errors.New("load: run stopped")

// httpStatusError is an upgrade refused with an HTTP status.
type httpStatusError int

func (e httpStatusError) Error() string { return "http " + strconv.Itoa(int(e)) }

// causeOf names how a connection failed, in a few words that group alike failures: the
// close code, the HTTP status of a refused upgrade, a timeout, a refused connection.
func causeOf(err error) string {
	var ce *websocket.CloseError
	var hs httpStatusError
	var ne net.Error
	switch {
	case errors.As(err, &ce) && ce.Text != "":
		return "close " + strconv.Itoa(ce.Code) + " " + truncate(ce.Text, 60)
	case errors.As(err, &ce):
		return "close " + strconv.Itoa(ce.Code)
	case errors.As(err, &hs):
		return hs.Error()
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, errFrame):
		return "unreadable message"
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "connection closed"
	}
	var op *net.OpError
	if errors.As(err, &op) {
		return op.Op + " error"
	}
	return "other"
}

// truncate cuts s to at most n bytes.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
