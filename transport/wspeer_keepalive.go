package transport

import (
	"errors"
	"net"
	"time"

	"github.com/gorilla/websocket"

	"github.com/whalecast/whalecast/actors"
)

// MaxControlFrames is how many control frames (pings and pongs) a client may send per
// second. Past it the connection is closed with 4008: gorilla would otherwise answer every
// ping, and control frames never reach the session's rate limit.
const MaxControlFrames = 10

// pongTimeout bounds the wait to answer one client ping. The reader goroutine waits, so it is
// short; a pong that cannot be written in time is skipped.
const pongTimeout = time.Second

// Keep-alive. The read deadline is Timeouts.KeepAlive from the client's last complete message
// or pong: a message whose fragments never end, and a peer that died silently, are cut when
// it passes. A timer pings a client silent for Timeouts.Ping, so a live idle client (browsers
// and gorilla answer pings by themselves) always has a pong to send in time. The timer runs
// a callback, not a goroutine of its own.

// startKeepAlive installs the control frame handlers, the first read deadline and the ping
// timer. The reader goroutine calls it before its first read.
func (p *wsPeer) startKeepAlive() {
	p.conn.SetPingHandler(p.onPing)
	p.conn.SetPongHandler(p.onPong)
	p.heard()

	p.mu.Lock()
	defer p.mu.Unlock()
	p.pinger = time.AfterFunc(p.env.times.Ping, p.keepAlive)
}

// stopKeepAlive stops the ping timer when the connection ends.
func (p *wsPeer) stopKeepAlive() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pinger.Stop()
}

// heard records that the client sent a complete message or a pong, and extends the read
// deadline.
func (p *wsPeer) heard() {
	p.heardAt.Store(int64(time.Since(p.env.epoch)))
	p.extendReadDeadline()
}

// extendReadDeadline moves the read deadline to Timeouts.KeepAlive from now, unless the
// connection is closing: then writeClose set the last deadline it gets.
func (p *wsPeer) extendReadDeadline() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.closing && !p.broken {
		_ = p.conn.SetReadDeadline(time.Now().Add(p.env.times.KeepAlive))
	}
}

// keepAlive runs on the ping timer: it pings a client that has been silent for Timeouts.Ping
// and sets the timer again. A failed ping is left to the read deadline.
func (p *wsPeer) keepAlive() {
	p.mu.Lock()
	over := p.closing || p.broken
	p.mu.Unlock()
	if over {
		return
	}
	every := p.env.times.Ping
	silent := time.Since(p.env.epoch) - time.Duration(p.heardAt.Load())
	if silent < every {
		p.rearm(every - silent)
		return
	}
	_ = p.conn.WriteControl(websocket.PingMessage, nil,
		time.Now().Add(p.env.times.FrameWrite))
	p.rearm(every)
}

// rearm sets the ping timer to fire after d, unless the connection has ended.
func (p *wsPeer) rearm(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.closing && !p.broken {
		p.pinger.Reset(d)
	}
}

// onPing answers a client's ping within the control frame budget. Runs on the reader
// goroutine.
func (p *wsPeer) onPing(data string) error {
	if !p.controlFrame() {
		return nil
	}
	err := p.conn.WriteControl(websocket.PongMessage, []byte(data),
		time.Now().Add(pongTimeout))
	var ne net.Error
	if err == nil || errors.Is(err, websocket.ErrCloseSent) ||
		(errors.As(err, &ne) && ne.Timeout()) {
		return nil
	}
	return err
}

// onPong keeps the connection alive, within the control frame budget. Runs on the reader
// goroutine.
func (p *wsPeer) onPong(string) error {
	if p.controlFrame() {
		p.heard()
	}
	return nil
}

// controlFrame counts one control frame from the client and reports whether it is within
// MaxControlFrames this second. The first frame past it closes the connection with 4008;
// later ones are read and ignored until the connection ends.
func (p *wsPeer) controlFrame() bool {
	now := time.Now()
	if now.Sub(p.controlsFrom) >= time.Second {
		p.controlsFrom, p.controls = now, 0
	}
	p.controls++
	if p.controls <= MaxControlFrames {
		return true
	}
	if p.controls == MaxControlFrames+1 && !p.isClosing() {
		p.env.stats.RateLimited.Add(1)
		p.env.log.Debug("websocket control frame flood", "remote", p.ip)
		p.Close(actors.CloseRateLimitAbused, "rate limit exceeded: too many control frames")
	}
	return false
}
