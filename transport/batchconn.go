package transport

import (
	"net"
	"sync"
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
type batchConn struct {
	net.Conn

	mu      sync.Mutex
	holding bool
	buf     []byte
}

// batchBuffers recycles the buffers of batches.
var batchBuffers = sync.Pool{New: func() any {
	b := make([]byte, 0, maxBatchBytes+4096)
	return &b
}}

// Write implements net.Conn.
func (c *batchConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	if c.holding {
		c.buf = append(c.buf, p...)
		c.mu.Unlock()
		return len(p), nil
	}
	c.mu.Unlock()
	return c.Conn.Write(p)
}

// hold starts a batch.
func (c *batchConn) hold() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.holding {
		c.holding = true
		c.buf = (*batchBuffers.Get().(*[]byte))[:0]
	}
}

// flush ends the batch and writes it in one call, under the write deadline last set.
func (c *batchConn) flush() error {
	c.mu.Lock()
	buf := c.buf
	c.buf, c.holding = nil, false
	c.mu.Unlock()
	if buf == nil {
		return nil
	}
	var err error
	if len(buf) > 0 {
		_, err = c.Conn.Write(buf)
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
