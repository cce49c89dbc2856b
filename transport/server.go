package transport

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/gorilla/websocket"

	"github.com/whalecast/whalecast/actors"
	"github.com/whalecast/whalecast/internal/auth"
	"github.com/whalecast/whalecast/internal/clock"
	"github.com/whalecast/whalecast/persistence"
)

// HTTP limits.
const (
	ReadHeaderTimeout = 5 * time.Second
	HandshakeTimeout  = 5 * time.Second
	MaxHeaderBytes    = 16 << 10
	// spawnTimeout bounds the wait for the sessions supervisor to start a session.
	spawnTimeout = 5 * time.Second
)

// Config holds what the HTTP layer serves from. Every field is required unless it says
// otherwise.
type Config struct {
	// Root sends messages into the actor system.
	Root *actor.RootContext
	// Sessions is the sessions supervisor.
	Sessions *actor.PID
	// Verifier checks Bearer tokens of REST calls.
	Verifier actors.TokenVerifier
	// NoAuth lets REST calls through without a token (development only, loopback only).
	NoAuth bool
	// Alerts reads stored alerts for GET /api/v1/alerts.
	Alerts actors.AlertReader
	// LastSeq returns the latest stored seq.
	LastSeq func() uint64
	// Stats is served by GET /api/v1/stats.
	Stats *actors.Stats
	// Health returns nil while the engine can take and persist alerts.
	Health func() error
	// Clock tells the time (uptime, token expiry).
	Clock clock.Clock
	// Logger receives request-level events.
	Logger *slog.Logger
	// Version is reported by /healthz.
	Version string

	// Security holds API keys and the audit log.
	Security persistence.SecurityStore
	// Guard caps connections per IP and in total, and bans IPs; nil admits everyone.
	Guard *Guard
	// Proxies are the trusted proxies whose X-Forwarded-For names the client.
	Proxies ProxyList
	// AllowedOrigins lists browser origins allowed besides the engine's own ("*": any).
	AllowedOrigins []string
	// Auditor receives security events (auth failures feed the guard's bans).
	Auditor actors.Auditor
	// Revoker revokes tokens and clients for the admin routes.
	Revoker Revoker
	// Keys lists the token keys for the admin routes.
	Keys KeyLister
	// RateLimit and RateWindow set each API key's and client's REST token bucket.
	RateLimit  int
	RateWindow time.Duration
}

// Revoker persists a revocation and applies it to live sessions; see system.
type Revoker interface {
	Revoke(kind, value string, until time.Time, by string) (persistence.Revocation, error)
}

// KeyLister lists the token keys without their material; *auth.Ring implements it.
type KeyLister interface {
	List() []auth.KeyInfo
}

// Server serves /ws, /healthz and /api/v1/ over one http.Server.
type Server struct {
	cfg      Config
	upgrader websocket.Upgrader
	http     *http.Server
	conns    sync.WaitGroup
}

// NewServer builds the server; it listens only when Serve is called.
func NewServer(cfg Config) *Server {
	s := &Server{cfg: cfg}
	s.upgrader = websocket.Upgrader{
		HandshakeTimeout: HandshakeTimeout,
		ReadBufferSize:   1024,
		WriteBufferSize:  1024,
		WriteBufferPool:  &sync.Pool{},
		CheckOrigin:      originChecker(cfg.AllowedOrigins),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ws", s.handleWS)
	mux.HandleFunc("GET /healthz", s.handleHealth)
	mux.HandleFunc("GET /api/v1/alerts", s.requireRead(s.handleAlerts))
	mux.HandleFunc("GET /api/v1/stats", s.requireRead(s.handleStats))
	s.http = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: ReadHeaderTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
		IdleTimeout:       60 * time.Second,
		ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn),
	}
	return s
}

// Handler returns the server's routes, for tests that bring their own listener.
func (s *Server) Handler() http.Handler { return s.http.Handler }

// Serve accepts connections on ln until Shutdown; it returns http.ErrServerClosed then.
func (s *Server) Serve(ln net.Listener) error {
	return s.http.Serve(ln)
}

// Shutdown stops accepting connections and waits for REST calls in progress. WebSocket
// connections are hijacked and closed by their sessions, not here.
func (s *Server) Shutdown(ctx context.Context) error {
	if err := s.http.Shutdown(ctx); err != nil {
		return fmt.Errorf("transport: shutdown: %w", err)
	}
	return nil
}

// WaitConns waits until every WebSocket connection has ended (their sessions close them), or
// until ctx ends.
func (s *Server) WaitConns(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		s.conns.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("transport: wait for connections: %w", ctx.Err())
	}
}

// handleWS upgrades a connection and starts its session actor.
func (s *Server) handleWS(w http.ResponseWriter, r *http.Request) {
	s.conns.Add(1)
	defer s.conns.Done()
	conn, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		s.cfg.Logger.Debug("websocket upgrade failed", "remote", r.RemoteAddr, "err", err)
		return
	}
	conn.SetReadLimit(actors.MaxClientMessage)
	peer := newWSPeer(conn, remoteIP(conn.RemoteAddr()))

	res, err := s.cfg.Root.RequestFuture(s.cfg.Sessions, &actors.StartSession{Peer: peer},
		spawnTimeout).Result()
	started, ok := res.(*actors.SessionStarted)
	if err != nil || !ok {
		s.cfg.Logger.Error("session not started", "remote", peer.remote, "err", err)
		peer.Close(actors.CloseGoingAway, "server shutting down")
		_ = conn.Close()
		return
	}
	peer.readLoop(s.cfg.Root, started.PID)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// apiError is the body of every REST error.
type apiError struct {
	Error   string `json:"error"`
	Message string `json:"message"`
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, apiError{Error: code, Message: msg})
}
