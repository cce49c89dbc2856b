package transport

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
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
	// Verifier checks Bearer tokens of REST calls and WebSocket upgrades.
	Verifier actors.TokenVerifier
	// NoAuth lets calls without a credential through as an anonymous reader and writer
	// (development only, loopback only). A credential that is presented is still checked.
	NoAuth bool
	// Alerts reads stored alerts for GET /api/v1/alerts.
	Alerts actors.AlertReader
	// LastSeq returns the latest stored seq.
	LastSeq func() uint64
	// Stats is served by GET /api/v1/stats.
	Stats *actors.Stats
	// Health returns nil while the engine can take and persist alerts.
	Health func() error
	// Clock tells the time (uptime, token expiry, rate limits).
	Clock clock.Clock
	// Logger receives request-level events. Nothing logged holds a URL query or a
	// credential, and a failure a client can repeat is logged at debug or throttled.
	Logger *slog.Logger
	// Version is reported by /api/v1/stats.
	Version string

	// Security holds API keys, revocations and the audit log.
	Security persistence.SecurityStore
	// Guard caps connections per IP and in total, and bans IPs; nil admits everyone.
	Guard *Guard
	// Proxies are the trusted proxies whose X-Forwarded-For names the client.
	Proxies ProxyList
	// AllowedOrigins lists browser origins allowed besides the engine's own ("*": any).
	AllowedOrigins []string
	// Auditor receives security events (auth failures feed the guard's bans); nil records
	// nothing.
	Auditor actors.Auditor
	// Revoker revokes tokens and clients for the admin routes; nil refuses them (503).
	Revoker Revoker
	// Keys lists the token keys for the admin routes; nil lists none.
	Keys KeyLister
	// Publisher injects test alerts for POST /api/v1/admin/publish; nil refuses it (503).
	Publisher Publisher
	// Webhooks serves the /api/v1/webhooks routes; nil refuses them (503).
	Webhooks Webhooks
	// RateLimit and RateWindow set each API key's and each token client's REST token
	// bucket: RateLimit calls per RateWindow, refilled continuously. Zero means 100 and
	// 60 s.
	RateLimit  int
	RateWindow time.Duration
	// SourceStats returns the source's own counters for /api/v1/stats; nil for none.
	SourceStats func() any
	// Metrics is served by GET /metrics (read permission): the engine's own registry,
	// never the global default one; nil answers 404.
	Metrics Gatherer
	// TLS, when set, serves https and wss only (see LoadTLS); nil serves plain HTTP.
	TLS *tls.Config
	// AllowedHosts lists Host header values (name or IP, optionally with :port; see
	// CheckHosts) served besides localhost and loopback IP literals. A non-empty list turns
	// the Host check on whatever the listen address; see Serve.
	AllowedHosts []string
	// Timeouts sets the HTTP server's and the WebSocket connections' timers; the zero value
	// is the defaults.
	Timeouts Timeouts
}

// Default REST rate limit, when Config leaves it zero.
const (
	DefaultRateLimit  = 100
	DefaultRateWindow = time.Minute
)

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
	cfg         Config
	upgrader    websocket.Upgrader
	checkOrigin func(r *http.Request) bool
	limiters    *limiterTable
	http        *http.Server
	conns       sync.WaitGroup
	// live holds the WebSocket connections being served, for CutConns.
	live liveConns
	// peers is what every WebSocket connection shares: timers, logger, counters.
	peers *peerEnv

	hosts hostList
	// hostCheck refuses requests for foreign Host names; Serve turns it on.
	hostCheck atomic.Bool

	storeLog   *throttle // failed store calls
	healthLog  *throttle // an unhealthy /healthz
	sessionLog *throttle // sessions that could not be started
}

// NewServer builds the server; it listens only when Serve is called.
func NewServer(cfg Config) (*Server, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if cfg.RateLimit == 0 {
		cfg.RateLimit = DefaultRateLimit
	}
	if cfg.RateWindow == 0 {
		cfg.RateWindow = DefaultRateWindow
	}
	limiters, err := newLimiterTable(cfg.RateLimit, cfg.RateWindow, cfg.Clock, MaxRateLimiters)
	if err != nil {
		return nil, err
	}
	cfg.Timeouts = cfg.Timeouts.withDefaults()
	s := &Server{
		cfg:      cfg,
		limiters: limiters,
		hosts:    newHostList(cfg.AllowedHosts),
		peers: &peerEnv{times: cfg.Timeouts, log: cfg.Logger, stats: cfg.Stats,
			root: cfg.Root, epoch: time.Now()},
		storeLog:   newThrottle(errorLogEvery, cfg.Clock),
		healthLog:  newThrottle(healthLogEvery, cfg.Clock),
		sessionLog: newThrottle(errorLogEvery, cfg.Clock),
	}
	s.peers.release = s.releaseConn
	s.hostCheck.Store(len(cfg.AllowedHosts) > 0)
	s.checkOrigin = originChecker(cfg.AllowedOrigins, s.trustedHost)
	s.upgrader = websocket.Upgrader{
		HandshakeTimeout: HandshakeTimeout,
		// ReadBufferSize 0: gorilla reads through the buffer upgrade hands it.
		WriteBufferSize: 1024,
		WriteBufferPool: &sync.Pool{},
		CheckOrigin:     s.checkOrigin,
	}
	// The read and write timeouts bound plain requests only: hijacking a connection for a
	// WebSocket clears its deadlines (net/http does, and gorilla again after the handshake).
	s.http = &http.Server{
		Handler:           limitConnUse(s.checkHost(s.routes())),
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       cfg.Timeouts.Read,
		WriteTimeout:      cfg.Timeouts.Write,
		IdleTimeout:       cfg.Timeouts.Idle,
		MaxHeaderBytes:    MaxHeaderBytes,
		ConnContext:       trackConn,
		ErrorLog:          newErrorLog(cfg.Logger, cfg.Clock),
	}
	if cfg.TLS != nil {
		// WebSockets need HTTP/1.1; HTTP/2 would only add attack surface here.
		s.http.TLSConfig = cfg.TLS
		s.http.Protocols = new(http.Protocols)
		s.http.Protocols.SetHTTP1(true)
	}
	return s, nil
}

// check reports the first required field of c that is missing.
func (c Config) check() error {
	missing := ""
	switch {
	case c.Root == nil:
		missing = "Root"
	case c.Sessions == nil:
		missing = "Sessions"
	case c.Verifier == nil:
		missing = "Verifier"
	case c.Alerts == nil:
		missing = "Alerts"
	case c.LastSeq == nil:
		missing = "LastSeq"
	case c.Stats == nil:
		missing = "Stats"
	case c.Health == nil:
		missing = "Health"
	case c.Clock == nil:
		missing = "Clock"
	case c.Logger == nil:
		missing = "Logger"
	case c.Security == nil:
		missing = "Security"
	}
	if missing != "" {
		return fmt.Errorf("%w: %s is required", ErrConfig, missing)
	}
	if c.RateLimit < 0 || c.RateWindow < 0 {
		return fmt.Errorf("%w: negative REST rate limit", ErrConfig)
	}
	if err := CheckHosts(c.AllowedHosts); err != nil {
		return fmt.Errorf("%w: allowed hosts: %v", ErrConfig, err)
	}
	return c.Timeouts.check()
}

// routes returns the server's routes. Every route under /api/ authenticates its caller.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ws", s.handleWS)
	mux.HandleFunc("GET /healthz", s.handleHealth)
	s.dashboardRoutes(mux)
	mux.HandleFunc("GET /api/v1/alerts", s.api(auth.PermRead, s.handleAlerts))
	mux.HandleFunc("GET /api/v1/stats", s.api(auth.PermRead, s.handleStats))
	mux.HandleFunc("GET /metrics", s.api(auth.PermRead, s.metricsHandler()))

	admin := func(h apiHandler) http.HandlerFunc { return s.api(auth.PermAdmin, h) }
	mux.HandleFunc("POST /api/v1/admin/revocations", admin(s.handleRevoke))
	mux.HandleFunc("GET /api/v1/admin/revocations", admin(s.handleRevocations))
	mux.HandleFunc("POST /api/v1/admin/apikeys", admin(s.handleCreateAPIKey))
	mux.HandleFunc("GET /api/v1/admin/apikeys", admin(s.handleAPIKeys))
	mux.HandleFunc("DELETE /api/v1/admin/apikeys/{id}", admin(s.handleRevokeAPIKey))
	mux.HandleFunc("GET /api/v1/admin/audit", admin(s.handleAudit))
	mux.HandleFunc("GET /api/v1/admin/keys", admin(s.handleKeys))
	mux.HandleFunc("POST /api/v1/admin/publish", admin(s.handlePublish))
	s.webhookRoutes(mux)
	mux.HandleFunc("/api/", s.api("", s.handleNoRoute))
	return mux
}

// Handler returns the server's routes, for tests that bring their own listener.
func (s *Server) Handler() http.Handler { return s.http.Handler }

// Serve accepts connections on ln until Shutdown; it returns http.ErrServerClosed then. With
// Config.TLS it serves TLS only: a plain HTTP request gets 400 and no route.
//
// When ln is bound to a loopback address (or Config.AllowedHosts is set), the Host check is
// on: a request whose Host header is neither localhost, a loopback IP literal nor an
// allowed host gets 421, whatever its route. It stays on once set.
func (s *Server) Serve(ln net.Listener) error {
	if isLoopbackListener(ln) {
		s.hostCheck.Store(true)
	}
	if s.cfg.TLS != nil {
		return s.http.ServeTLS(ln, "", "")
	}
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

// Close closes the listener and every plain HTTP connection at once, REST calls in progress
// included: what Shutdown does when its wait has run out. WebSocket connections are left to
// their sessions and to CutConns.
func (s *Server) Close() error {
	if err := s.http.Close(); err != nil {
		return fmt.Errorf("transport: close: %w", err)
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

// handleWS admits, checks and upgrades a connection, then starts its session actor and the
// connection's reader. Refusals come before the upgrade, as HTTP errors: 429 for a banned or
// too fast IP, 503 at a connection cap, 400 for a credential in the URL or a bad since, 403
// for a foreign Origin, 401 for a bad Authorization header.
//
// The handler returns once the reader runs: the reader has goroutines of its own, so that
// net/http's state of the hijacked connection (the request, its 4 KiB read and write
// buffers, a deep stack) is freed instead of being held for the connection's life.
func (s *Server) handleWS(w http.ResponseWriter, r *http.Request) {
	s.conns.Add(1)
	handedOff := false
	defer func() {
		if !handedOff {
			s.conns.Done()
		}
	}()
	ip := s.cfg.Proxies.ClientIP(r)
	if !ip.IsValid() {
		writeError(w, http.StatusBadRequest, "bad_request", "no client address")
		return
	}
	if !s.admit(w, ip) {
		return
	}
	defer func() {
		if !handedOff && s.cfg.Guard != nil {
			s.cfg.Guard.Release(ip)
		}
	}()
	start, ok := s.checkUpgrade(w, r, ip)
	if !ok {
		return
	}

	conn, br, err := s.upgrade(w, r)
	if err != nil {
		s.cfg.Logger.Debug("websocket upgrade failed", "remote", ip.String(), "err", err)
		return
	}
	conn.SetReadLimit(actors.MaxClientMessage)
	peer := newWSPeer(conn, br, ip, s.peers)
	start.Peer = peer

	res, err := s.cfg.Root.RequestFuture(s.cfg.Sessions, start, spawnTimeout).Result()
	started, ok := res.(*actors.SessionStarted)
	if err != nil || !ok {
		s.sessionLog.log(s.cfg.Logger, slog.LevelError, "session not started",
			"remote", ip.String(), "err", err)
		peer.Close(actors.CloseGoingAway, "server shutting down")
		_ = conn.Close()
		return
	}
	handedOff = true
	s.live.add(peer)
	peer.serve(started.PID)
}

// releaseConn gives back what handleWS took for a connection from ip once it has ended: its
// place in the guard and in WaitConns.
func (s *Server) releaseConn(ip netip.Addr) {
	if s.cfg.Guard != nil {
		s.cfg.Guard.Release(ip)
	}
	s.conns.Done()
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// apiError is the body of every REST error.
type apiError struct {
	Error   string `json:"error"`
	Message string `json:"message"`
	// Reason is the auth failure's reason code, on 401 only.
	Reason string `json:"reason,omitempty"`
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, apiError{Error: code, Message: msg})
}
