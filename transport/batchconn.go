package transport

import (
	"net"
	"sync"
	"time"
)

// maxBatchBytes bounds the frames a connection's writer sends in one write: about the
// kernel send buffer (SocketSendBuffer), so one write seldom blocks half way.
const maxBatchBytes = 64 << 10

// batchConn is the connection gorilla writes to. Outside a batch a write goes straight to
// the socket; inside one (between hold and flush) writes are kept in memory and sent
// together by flush, so that the frames queued for a client during a burst cost one
// system call instead of one each. gorilla still frames every message; a control frame
// (a pong) written during a batch joins it, in order. The buffer exists only during a
// batch: an idle connection holds none.
//
// gorilla serializes its own writes, but a flush runs outside its lock, so batchConn
// serializes the socket's writes itself and owns their deadlines: a write deadline gorilla
// sets is applied just before that write, under the same lock, and a flush runs under the
// deadline given to hold. A pong written with a one-second deadline therefore waits for
// a batch in flight instead of cutting it short.
type batchConn struct {
	net.Conn

	mu sync.Mutex
	// deadline is the write deadline gorilla last set, for the next write outside a batch.
	deadline time.Time
	holding  bool
	// batchDeadline bounds the flush of the batch being held.
	batchDeadline time.Time
	buf           []byte
}

// batchBuffers recycles the buffers of batches.
var batchBuffers = sync.Pool{New: func() any {
	b := make([]byte, 0, maxBatchBytes+4096)
	return &b
}}

// SetWriteDeadline implements net.Conn: it applies to the next write, not to one in flight.
func (c *batchConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.deadline = t
	return nil
}

// SetDeadline implements net.Conn: the read deadline at once, the write deadline as
// SetWriteDeadline does.
func (c *batchConn) SetDeadline(t time.Time) error {
	if err := c.Conn.SetReadDeadline(t); err != nil {
		return err
	}
	return c.SetWriteDeadline(t)
}

// Write implements net.Conn.
func (c *batchConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.holding {
		c.buf = append(c.buf, p...)
		return len(p), nil
	}
	if err := c.Conn.SetWriteDeadline(c.deadline); err != nil {
		return 0, err
	}
	return c.Conn.Write(p)
}

// hold starts a batch, to be written by flush before deadline.
func (c *batchConn) hold(deadline time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.holding {
		c.holding, c.batchDeadline = true, deadline
		c.buf = (*batchBuffers.Get().(*[]byte))[:0]
	}
}

// flush ends the batch and writes it in one call. Other writes wait until it is done.
func (c *batchConn) flush() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	buf := c.buf
	c.buf, c.holding = nil, false
	if buf == nil {
		return nil
	}
	var err error
	if len(buf) > 0 {
		if err = c.Conn.SetWriteDeadline(c.batchDeadline); err == nil {
			_, err = c.Conn.Write(buf)
		}
	}
	if cap(buf) <= 4*maxBatchBytes {
		buf = buf[:0]
		batchBuffers.Put(&buf)
	}
	return err
}

// socketOf returns the connection under c's batching, if any.
func socketOf(c net.Conn) net.Conn {
	if bc, ok := c.(*batchConn); ok {
		return bc.Conn
	}
	return c
}
