package transport

import (
	"fmt"
	"time"
)

// Defaults of Timeouts for plain HTTP requests.
const (
	// RequestReadTimeout bounds the reading of one request, headers and body.
	RequestReadTimeout = 10 * time.Second
	// ResponseWriteTimeout bounds the answer to one request, from the end of its headers: a
	// client that pipelines requests and reads no answer holds its socket's buffers this
	// long at most.
	ResponseWriteTimeout = 15 * time.Second
	// IdleTimeout closes a keep-alive connection that sends no new request.
	IdleTimeout = 30 * time.Second
)

// Defaults of Timeouts for WebSocket connections.
const (
	// PingInterval is how long a WebSocket may be silent before the engine pings it.
	PingInterval = 30 * time.Second
	// KeepAliveTimeout drops a WebSocket that sent neither a complete message nor a pong for
	// this long: a dead peer, or a message whose fragments never end.
	KeepAliveTimeout = 75 * time.Second
)

// Timeouts are the timers of the HTTP server and of its WebSocket connections. The zero value
// of each field means the default named beside it; none can be turned off.
type Timeouts struct {
	// Read bounds the reading of one plain HTTP request (default RequestReadTimeout, 10 s).
	Read time.Duration
	// Write bounds the answer to one plain HTTP request (default ResponseWriteTimeout, 15 s).
	// An upgraded WebSocket is free of it: net/http and gorilla clear the socket's deadlines
	// when they hand the connection over, and its frames have FrameWrite instead.
	Write time.Duration
	// Idle closes a keep-alive connection without a new request (default IdleTimeout, 30 s).
	Idle time.Duration
	// Ping is how long a WebSocket may be silent before the engine pings it (default
	// PingInterval, 30 s).
	Ping time.Duration
	// KeepAlive drops a WebSocket that sent no complete message and no pong for this long
	// (default KeepAliveTimeout, 75 s). It must be longer than Ping.
	KeepAlive time.Duration
	// FrameWrite is the deadline of one WebSocket frame write (default WriteTimeout, 10 s).
	FrameWrite time.Duration
	// CloseGrace is how long a closing WebSocket waits for the client's close reply, and how
	// long a write blocked on a client that reads nothing may go on once its connection is
	// closed (default CloseGrace, 2 s).
	CloseGrace time.Duration
}

// withDefaults fills the zero fields.
func (t Timeouts) withDefaults() Timeouts {
	def := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	def(&t.Read, RequestReadTimeout)
	def(&t.Write, ResponseWriteTimeout)
	def(&t.Idle, IdleTimeout)
	def(&t.Ping, PingInterval)
	def(&t.KeepAlive, KeepAliveTimeout)
	def(&t.FrameWrite, WriteTimeout)
	def(&t.CloseGrace, CloseGrace)
	return t
}

// check refuses negative timeouts and a keep-alive that would drop a connection before its
// first ping could be answered.
func (t Timeouts) check() error {
	for _, d := range []time.Duration{t.Read, t.Write, t.Idle, t.Ping, t.KeepAlive,
		t.FrameWrite, t.CloseGrace} {
		if d < 0 {
			return fmt.Errorf("%w: negative timeout", ErrConfig)
		}
	}
	if t := t.withDefaults(); t.KeepAlive <= t.Ping {
		return fmt.Errorf("%w: keep-alive timeout %v is not longer than the ping interval %v",
			ErrConfig, t.KeepAlive, t.Ping)
	}
	return nil
}
