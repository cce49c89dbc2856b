package transport

import (
	"fmt"
	"net"
	"syscall"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/gorilla/websocket"

	"github.com/whalecast/whalecast/actors"
)

// The read side of a connection. Most connections are idle most of the time, and what an
// idle connection costs is mostly the goroutine waiting for its client and the buffer it
// reads through. A goroutine that has run gorilla's read path, a dozen calls deep, has a
// 4 KiB stack, and the runtime never shrinks it while it waits down there. So reading and
// waiting take turns on two goroutines, one alive at a time: read reads while there are
// bytes, then gives its read buffer back (readbuf.go), starts watch and returns; watch
// waits for the socket a few calls deep, on a 2 KiB stack, then starts read and returns.
// Pings and pongs between messages are read without gorilla (pingPong), which would keep
// the reader waiting, deep, for the next message. Over a TLS or a wrapped connection, which
// hide the socket, read does the waiting itself, inside gorilla, and keeps its buffer.

// serve starts reading the connection for session, and keeps it alive as
// wspeer_keepalive.go says. It returns at once; the connection's end is reported to the
// session (PeerGone) and to env.release.
func (p *wsPeer) serve(session *actor.PID) {
	p.session = session
	p.startKeepAlive()
	if p.raw == nil {
		go p.read()
		return
	}
	returnReadBuffer(p.br)
	go p.watch()
}

// read forwards client frames to the session until the bytes already received are used up,
// then hands over to watch; it ends the connection when the socket fails or closes. Every
// turn starts and ends between two messages, where gorilla is waiting for a frame header.
func (p *wsPeer) read() {
	woken := p.raw != nil
	if woken {
		takeReadBuffer(p.br)
		p.br.Reset(socketOf(p.conn.NetConn()))
	}
	for {
		if p.raw != nil {
			if !woken && p.br.Buffered() == 0 {
				p.park()
				return
			}
			woken = false
			idle, err := p.pingPong()
			if err != nil {
				p.gone(err)
				return
			}
			if idle {
				p.park()
				return
			}
		}

		if !p.acquire() {
			p.end()
			return
		}
		typ, data, err := p.conn.ReadMessage()
		if err != nil {
			p.gone(err)
			return
		}
		if p.isClosing() {
			p.Released()
			continue
		}
		p.heard()
		p.env.root.Send(p.session, &actors.ClientFrame{Data: data,
			Binary: typ == websocket.BinaryMessage})
	}
}

// park gives the read buffer back and hands the wait for the client's next bytes to watch.
func (p *wsPeer) park() {
	returnReadBuffer(p.br)
	go p.watch()
}

// watch waits until the client's next bytes arrive, the read deadline passes or the socket
// is closed, then starts read, which finds out which. It must stay shallow: a deeper call
// here would grow the stack of every idle connection.
func (p *wsPeer) watch() {
	_ = p.raw.Read(readable)
	go p.read()
}

// gone ends a connection whose read failed, and tells the session.
func (p *wsPeer) gone(err error) {
	p.fail()
	p.mu.Lock()
	stalled := p.stalled
	p.mu.Unlock()
	if stalled {
		err = fmt.Errorf("%w (%v)", actors.ErrClientStalled, err)
	}
	p.env.root.Send(p.session, &actors.PeerGone{Err: err})
	p.end()
}

// end releases what the connection holds once its reading is over.
func (p *wsPeer) end() {
	p.stopKeepAlive()
	_ = p.conn.Close()
	p.env.release(p.ip)
	p.ended.Store(true)
}

// acquire takes an inflight slot, waiting while the session is busy; it gives up when the
// connection is closing and the session will not release slots any more.
func (p *wsPeer) acquire() bool {
	var t *time.Timer
	for {
		p.mu.Lock()
		if p.inflight < MaxInflightFrames {
			p.inflight++
			p.mu.Unlock()
			if t != nil {
				t.Stop()
				// The engine, not the client, kept the reader waiting: the time spent
				// here does not count against the client's keep-alive.
				p.extendReadDeadline()
			}
			return true
		}
		if p.slotFreed == nil {
			p.slotFreed = make(chan struct{})
		}
		freed := p.slotFreed
		p.mu.Unlock()

		if t == nil {
			t = time.NewTimer(p.env.times.CloseGrace)
		}
		select {
		case <-freed:
		case <-t.C:
			if p.isClosing() {
				return false
			}
			t.Reset(p.env.times.CloseGrace)
		}
	}
}

// rawConn returns the socket of a plain TCP connection, for watch, or nil: a TLS connection
// keeps records of its own, so a quiet socket does not mean there is nothing to read.
func rawConn(c net.Conn) syscall.RawConn {
	tc, ok := c.(*net.TCPConn)
	if !ok || !canPeek {
		return nil
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return nil
	}
	return raw
}
