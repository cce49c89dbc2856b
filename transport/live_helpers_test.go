package transport

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/gorilla/websocket"

	"github.com/whalecast/whalecast/actors"
)

// liveServer is a Server behind Serve on a real 127.0.0.1 listener, with an actor system
// whose sessions echo every client frame. The peers of its WebSockets are handed to the test
// as their sessions start.
type liveServer struct {
	*fixture
	srv   *Server
	addr  string
	peers chan *wsPeer
	// gone receives the error of each PeerGone a session gets.
	gone chan error

	mu  sync.Mutex
	all []*wsPeer
}

// startLive serves a fixture's Server with Serve; edit may change its Config, wrap (when not
// nil) the listener. Everything is stopped when the test ends.
func startLive(tb testing.TB, edit func(*Config),
	wrap func(net.Listener) net.Listener) *liveServer {
	tb.Helper()
	sys := actor.NewActorSystemWithConfig(actor.Configure(
		actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
			return slog.New(slog.DiscardHandler)
		}),
		actor.WithDeadLetterRequestLogging(false),
	))
	ls := &liveServer{peers: make(chan *wsPeer, 64), gone: make(chan error, 64)}
	sessions := sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor {
		return &echoSessions{live: ls}
	}))
	f, cfg := fixtureConfig(tb, func(c *Config) {
		c.Root, c.Sessions = sys.Root, sessions
		if edit != nil {
			edit(c)
		}
	})
	srv, err := NewServer(cfg)
	if err != nil {
		sys.Shutdown()
		tb.Fatalf("NewServer: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		sys.Shutdown()
		tb.Fatalf("listen: %v", err)
	}
	ls.fixture, ls.srv, ls.addr = f, srv, ln.Addr().String()
	f.url = "http://" + ls.addr
	if wrap != nil {
		ln = wrap(ln)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	tb.Cleanup(func() { ls.stop(tb, served, sys) })
	return ls
}

// stop shuts the server down, ends the WebSockets still open, and stops the actor system.
func (ls *liveServer) stop(tb testing.TB, served <-chan error, sys *actor.ActorSystem) {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := ls.srv.Shutdown(ctx); err != nil {
		tb.Errorf("shutdown: %v", err)
	}
	ls.mu.Lock()
	for _, p := range ls.all {
		p.fail()
	}
	ls.mu.Unlock()
	if err := ls.srv.WaitConns(ctx); err != nil {
		tb.Errorf("wait for connections: %v", err)
	}
	select {
	case err := <-served:
		if !errors.Is(err, http.ErrServerClosed) {
			tb.Errorf("serve: got %v, want %v", err, http.ErrServerClosed)
		}
	case <-ctx.Done():
		tb.Errorf("serve did not return after shutdown")
	}
	sys.Shutdown()
}

// nextPeer returns the peer of the next WebSocket whose session started.
func (ls *liveServer) nextPeer(tb testing.TB) *wsPeer {
	tb.Helper()
	select {
	case p := <-ls.peers:
		return p
	case <-time.After(waitTimeout):
		tb.Fatalf("no session started within %v", waitTimeout)
		return nil
	}
}

// echoSessions plays the sessions supervisor: each connection gets an echoSession.
type echoSessions struct{ live *liveServer }

func (e *echoSessions) Receive(ctx actor.Context) {
	start, ok := ctx.Message().(*actors.StartSession)
	if !ok {
		return
	}
	peer := start.Peer
	pid := ctx.Spawn(actor.PropsFromProducer(func() actor.Actor {
		return &echoSession{peer: peer, live: e.live}
	}))
	if p, ok := peer.(*wsPeer); ok {
		e.live.mu.Lock()
		e.live.all = append(e.live.all, p)
		e.live.mu.Unlock()
		select {
		case e.live.peers <- p:
		default:
		}
	}
	ctx.Respond(&actors.SessionStarted{PID: pid})
}

// echoSession sends every client frame back and stops when its connection ends.
type echoSession struct {
	peer actors.Peer
	live *liveServer
}

func (e *echoSession) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actors.ClientFrame:
		e.peer.Send(m.Data)
		e.peer.Released()
	case *actors.PeerGone:
		select {
		case e.live.gone <- m.Err:
		default:
		}
		ctx.Stop(ctx.Self())
	}
}

// dialWS opens a WebSocket to ls with header (nil: none); it is closed when the test ends.
func dialWS(tb testing.TB, ls *liveServer, header http.Header) *websocket.Conn {
	tb.Helper()
	c, status, err := tryDialWS(ls, header)
	if err != nil {
		tb.Fatalf("dial: status %d: %v", status, err)
	}
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// tryDialWS attempts an upgrade and returns the connection, or the HTTP status and error.
func tryDialWS(ls *liveServer, header http.Header) (*websocket.Conn, int, error) {
	d := websocket.Dialer{HandshakeTimeout: waitTimeout}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	c, resp, err := d.DialContext(ctx, "ws://"+ls.addr+"/ws", header)
	status := 0
	if resp != nil {
		status = resp.StatusCode
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
		_ = resp.Body.Close()
	}
	return c, status, err
}

// echo sends msg and waits for it to come back.
func echo(tb testing.TB, c *websocket.Conn, msg string) {
	tb.Helper()
	_ = c.SetWriteDeadline(time.Now().Add(waitTimeout))
	if err := c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		tb.Fatalf("send %q: %v", msg, err)
	}
	_ = c.SetReadDeadline(time.Now().Add(waitTimeout))
	_, got, err := c.ReadMessage()
	if err != nil {
		tb.Fatalf("read the echo of %q: %v", msg, err)
	}
	if string(got) != msg {
		tb.Fatalf("echo: got %q, want %q", got, msg)
	}
}

// waitDone waits up to within for the peer's reader to end, and returns how long it took.
func waitDone(tb testing.TB, p *wsPeer, within time.Duration) time.Duration {
	tb.Helper()
	start := time.Now()
	for !p.ended.Load() {
		if time.Since(start) > within {
			tb.Fatalf("the connection was still open after %v", within)
		}
		time.Sleep(time.Millisecond)
	}
	return time.Since(start)
}

// trackingListener hands the test every connection it accepts, with a small send buffer so
// that a client that reads nothing blocks the server's writes quickly.
type trackingListener struct {
	net.Listener
	accepted chan *trackedConn
}

func trackConns(ln net.Listener) *trackingListener {
	return &trackingListener{Listener: ln, accepted: make(chan *trackedConn, 64)}
}

func (l *trackingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(4096)
	}
	t := &trackedConn{Conn: c, closed: make(chan struct{})}
	select {
	case l.accepted <- t:
	default:
	}
	return t, nil
}

// next returns the next accepted connection.
func (l *trackingListener) next(tb testing.TB) *trackedConn {
	tb.Helper()
	select {
	case c := <-l.accepted:
		return c
	case <-time.After(waitTimeout):
		tb.Fatalf("no connection accepted within %v", waitTimeout)
		return nil
	}
}

// trackedConn reports when the server closes it.
type trackedConn struct {
	net.Conn
	once   sync.Once
	closed chan struct{}
}

func (c *trackedConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return c.Conn.Close()
}

// dialTCP opens a plain TCP connection to ls whose receive buffer is small; it is closed
// when the test ends.
func dialTCP(tb testing.TB, ls *liveServer) *net.TCPConn {
	tb.Helper()
	d := net.Dialer{Timeout: waitTimeout}
	c, err := d.Dial("tcp", ls.addr)
	if err != nil {
		tb.Fatalf("dial: %v", err)
	}
	tc := c.(*net.TCPConn)
	_ = tc.SetReadBuffer(4096)
	tb.Cleanup(func() { _ = tc.Close() })
	return tc
}

// pipelined returns n GET requests for path, back to back, with host as their Host.
func pipelined(path, host string, n int) []byte {
	req := "GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\n\r\n"
	return []byte(strings.Repeat(req, n))
}
