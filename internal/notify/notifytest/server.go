package notifytest

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"slices"
	"sync"
	"testing"
	"time"
)

// Defaults used for a zero Options field.
const (
	// DefaultMaxConns is the default number of connections a Server serves in its life.
	DefaultMaxConns = 64
	// DefaultMaxMessages is the default number of messages a Server keeps.
	DefaultMaxMessages = 100
	// DefaultMaxMessageSize is the default largest message, in bytes.
	DefaultMaxMessageSize = 1 << 20
	// DefaultTimeout is the default bound on one session.
	DefaultTimeout = 10 * time.Second
)

// Options shape what a Server offers and how it answers. The zero value is a clear-text
// server that accepts any sender and recipients, within the default bounds.
type Options struct {
	// StartTLS offers STARTTLS on a clear connection.
	StartTLS bool
	// ImplicitTLS speaks TLS from the first byte.
	ImplicitTLS bool
	// Auth offers AUTH PLAIN once the connection is encrypted; it accepts User and Password
	// only.
	Auth           bool
	User, Password string
	// RcptReply, when set, answers every RCPT instead of "250 ok": "450 4.2.1 try later".
	RcptReply string
	// Silent accepts connections but never greets.
	Silent bool

	// MaxConns is how many connections the server serves in its life; it closes later ones
	// at once. Zero means DefaultMaxConns (64).
	MaxConns int
	// MaxMessages is how many messages the server keeps; DATA then answers 452. Zero means
	// DefaultMaxMessages (100).
	MaxMessages int
	// MaxMessageSize is the largest message accepted, in bytes after dot-unstuffing; DATA
	// answers 552 to a larger one and the session ends. Zero means DefaultMaxMessageSize
	// (1 MiB).
	MaxMessageSize int
	// Timeout bounds each session from its first byte. Zero means DefaultTimeout (10s).
	Timeout time.Duration
}

// Mail is one message a Server accepted.
type Mail struct {
	// From is the envelope sender (MAIL FROM), without its angle brackets.
	From string
	// To holds the envelope recipients (RCPT TO), without angle brackets, in order.
	To []string
	// Data is the message, headers and body, with line ends turned into "\n".
	Data string
	// TLS reports whether the session was encrypted when the message was sent.
	TLS bool
	// AuthUser is the user the session authenticated as; empty when it did not.
	AuthUser string
}

// Server is a fake ESMTP server on 127.0.0.1. Create one with Start.
type Server struct {
	ln    net.Listener
	opts  Options
	tls   *tls.Config
	roots *x509.CertPool

	mu       sync.Mutex
	conns    []net.Conn
	accepted int
	mails    []Mail
	changed  chan struct{} // closed and replaced when a message arrives

	wg        sync.WaitGroup
	closeOnce sync.Once
}

// Start starts a server with opts on 127.0.0.1 and a port of its own; it is closed when the
// test ends. It fails tb when it cannot listen or make its certificate.
func Start(tb testing.TB, opts Options) *Server {
	tb.Helper()
	s, err := start(opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Close)
	return s
}

func start(opts Options) (*Server, error) {
	opts.MaxConns = cmp.Or(opts.MaxConns, DefaultMaxConns)
	opts.MaxMessages = cmp.Or(opts.MaxMessages, DefaultMaxMessages)
	opts.MaxMessageSize = cmp.Or(opts.MaxMessageSize, DefaultMaxMessageSize)
	opts.Timeout = cmp.Or(opts.Timeout, DefaultTimeout)
	cert, roots, err := selfSigned()
	if err != nil {
		return nil, err
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("notifytest: listen: %w", err)
	}
	s := &Server{ln: ln, opts: opts, roots: roots, changed: make(chan struct{}),
		tls: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}}
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

// Addr returns the server's host:port.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// RootCAs returns a pool that trusts the server's certificate, for MailConfig.RootCAs.
func (s *Server) RootCAs() *x509.CertPool { return s.roots }

// Accepted returns how many connections the server accepted, including those it closed at
// once for being over MaxConns.
func (s *Server) Accepted() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accepted
}

// Received returns a copy of the messages accepted so far, in order.
func (s *Server) Received() []Mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.mails)
}

// Wait blocks until the server accepted at least n messages and returns them; when ctx ends
// first, it returns those accepted so far and an error naming how many came.
func (s *Server) Wait(ctx context.Context, n int) ([]Mail, error) {
	for {
		s.mu.Lock()
		mails, changed := slices.Clone(s.mails), s.changed
		s.mu.Unlock()
		if len(mails) >= n {
			return mails, nil
		}

		select {
		case <-changed:
		case <-ctx.Done():
			return mails, fmt.Errorf("notifytest: %d of %d messages arrived: %w",
				len(mails), n, ctx.Err())
		}
	}
}

// Close stops listening, closes every connection and waits for their goroutines. It may be
// called more than once.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		_ = s.ln.Close()
		s.mu.Lock()
		for _, c := range s.conns {
			_ = c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
}

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			return
		}

		s.mu.Lock()
		s.accepted++
		over := len(s.conns) >= s.opts.MaxConns
		if !over {
			s.conns = append(s.conns, conn)
			s.wg.Add(1)
		}
		s.mu.Unlock()
		if over {
			_ = conn.Close()
			continue
		}
		go s.serve(conn)
	}
}

// store keeps m unless MaxMessages are kept already, and reports whether it did.
func (s *Server) store(m Mail) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.mails) >= s.opts.MaxMessages {
		return false
	}
	s.mails = append(s.mails, m)
	close(s.changed)
	s.changed = make(chan struct{})
	return true
}
