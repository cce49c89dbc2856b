package actors

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"

	"github.com/go-zeromq/zmq4"
	"github.com/go-zeromq/zmq4/transport"

	"github.com/whalecast/whalecast/internal/bitcoin"
)

// guardedTCP is zmq4's TCP transport with two changes: a dialled connection is closed when
// the dial's context ends, so that a handshake cannot outlive the session that started it;
// and the peer's frames are capped at maxZMQFrame, since zmq4 allocates whatever size a
// frame header announces.
type guardedTCP struct {
	transport.Transport
}

// guardedScheme names guardedTCP in zmq4's transport registry.
const guardedScheme = "whalecast-tcp"

// maxZMQFrame caps one frame from the publisher: a block, the largest body Bitcoin Core
// sends, is at most 4 MB.
const maxZMQFrame = bitcoin.MaxRecordSize

var registerGuarded sync.Once

// Dial implements transport.Transport.
func (g guardedTCP) Dial(ctx context.Context, d transport.Dialer, addr string) (net.Conn,
	error) {
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	context.AfterFunc(ctx, func() { _ = conn.Close() })
	hook, _ := ctx.Value(oversizeHookKey{}).(func())
	return &zmtpLimit{Conn: conn, max: maxZMQFrame, greeting: zmtpGreetingLen,
		onOversize: hook}, nil
}

// oversizeHookKey keys the function a dial's context carries for zmtpLimit to call when it
// drops the connection: the transport is registered once per process, so per-feed state
// travels with the context.
type oversizeHookKey struct{}

// withOversizeHook returns ctx carrying hook for the connections dialled with it.
func withOversizeHook(ctx context.Context, hook func()) context.Context {
	return context.WithValue(ctx, oversizeHookKey{}, hook)
}

// guardedEndpoint turns tcp://HOST:PORT into the same address on guardedTCP, registering
// the transport on first use (zmq4's registry is process-wide).
func guardedEndpoint(endpoint string) string {
	registerGuarded.Do(func() {
		_ = zmq4.RegisterTransport(guardedScheme, guardedTCP{transport.New("tcp")})
	})
	return guardedScheme + strings.TrimPrefix(endpoint, "tcp")
}

// ZMTP 3 framing, as far as the limit needs it: a 64-byte greeting, then frames of a flags
// byte, a size (one byte, or eight big-endian when the long flag is set) and the body.
const (
	zmtpGreetingLen = 64
	zmtpFlagMore    = 0x01
	zmtpFlagLong    = 0x02
	zmtpFlagCommand = 0x04
)

// Bitcoin Core's messages are three frames (topic, body, counter). A message that breaks the
// framing but stays small is read whole and skipped as corrupt; one that never ends (every
// frame flagged "more") would pile up frames under the per-frame cap, so a message is also
// bounded in frames and, with zmqMessageSlack for the two small frames, in bytes.
const (
	maxZMQFrames    = 64
	zmqMessageSlack = 4096
)

// errZMQFrameTooLarge ends a connection whose peer announced a frame over the cap.
var errZMQFrameTooLarge = errors.New("actors: zmq frame over the size cap")

// zmtpLimit follows the ZMTP framing of what the peer sends and fails the connection at the
// first frame header announcing more than max bytes, before zmq4 allocates them.
type zmtpLimit struct {
	net.Conn
	max      uint64
	greeting int    // greeting bytes still to come
	sizeLeft int    // size bytes still to come of the current header
	size     uint64 // the size read so far
	flags    byte   // the current frame's flags
	body     uint64 // body bytes still to come of the current frame
	frames   int    // frames of the current message so far
	msgBytes uint64 // body bytes of the current message so far
	err      error
	// onOversize, if set, is called once when a frame over the cap ends the connection.
	onOversize func()
}

// Read implements net.Conn.
func (c *zmtpLimit) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.Conn.Read(p)
	if serr := c.scan(p[:n]); serr != nil {
		c.err = serr
		_ = c.Conn.Close()
		if c.onOversize != nil {
			c.onOversize()
		}
		return 0, serr
	}
	return n, err
}

// countFrame adds the frame whose header was just read to its message and checks the
// message's bounds. Command frames (the handshake) belong to no message.
func (c *zmtpLimit) countFrame() error {
	if c.flags&zmtpFlagCommand != 0 {
		return nil
	}
	c.frames++
	c.msgBytes += c.size
	if c.frames > maxZMQFrames || c.msgBytes > c.max+zmqMessageSlack {
		return fmt.Errorf("%w: a message of %d frames and %d bytes so far, cap %d and %d",
			errZMQFrameTooLarge, c.frames, c.msgBytes, maxZMQFrames, c.max+zmqMessageSlack)
	}
	if c.flags&zmtpFlagMore == 0 {
		c.frames, c.msgBytes = 0, 0
	}
	return nil
}

// scan advances the framing state over b.
func (c *zmtpLimit) scan(b []byte) error {
	for len(b) > 0 {
		switch {
		case c.greeting > 0:
			k := min(c.greeting, len(b))
			c.greeting -= k
			b = b[k:]
		case c.body > 0:
			k := min(c.body, uint64(len(b)))
			c.body -= k
			b = b[k:]
		case c.sizeLeft > 0:
			c.size = c.size<<8 | uint64(b[0])
			c.sizeLeft--
			b = b[1:]
			if c.sizeLeft > 0 {
				continue
			}
			if c.size > c.max {
				return fmt.Errorf("%w: %d bytes announced, cap %d", errZMQFrameTooLarge,
					c.size, c.max)
			}
			if err := c.countFrame(); err != nil {
				return err
			}
			c.body, c.size = c.size, 0
		default:
			c.flags = b[0]
			c.sizeLeft = 1
			if b[0]&zmtpFlagLong != 0 {
				c.sizeLeft = 8
			}
			b = b[1:]
		}
	}
	return nil
}
