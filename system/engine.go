package system

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/whalecast/whalecast/actors"
	"github.com/whalecast/whalecast/internal/auth"
	"github.com/whalecast/whalecast/internal/clock"
	"github.com/whalecast/whalecast/internal/notify"
	"github.com/whalecast/whalecast/persistence"
	"github.com/whalecast/whalecast/transport"
)

// Version is the engine's version, reported in welcome messages and /api/v1/stats.
const Version = "0.1.0"

// Engine is one running Whalecast node: its store, its actor tree and its HTTP server.
type Engine struct {
	cfg      Config
	log      *slog.Logger
	clock    clock.Clock
	stats    *actors.Stats
	failure  *actors.Failure
	store    *persistence.Badger
	ring     *auth.Ring
	verifier *auth.Verifier
	issuer   *auth.Issuer
	access   *access
	feed     actors.Feed
	tls      *tls.Config // nil serves plain HTTP
	// notifier delivers operator notifications by webhook and email; nil without either.
	notifier *notify.Dispatcher

	stopKeys context.CancelFunc // stops the key ring's reload loop
	keysDone chan struct{}      // closed when that loop has returned

	system *actor.ActorSystem
	tree   *tree
	server *transport.Server
	// hooks are set by tests only (export_test.go).
	hooks testHooks
}

// Open checks cfg, loads the token key ring, opens the store and the source. Nothing runs until
// Start. On error everything opened so far is closed again.
func Open(cfg Config, log *slog.Logger, clk clock.Clock) (*Engine, error) {
	return open(cfg, log, clk, testHooks{})
}

// open is Open with the test hooks h set from the start, so that they reach the store.
func open(cfg Config, log *slog.Logger, clk clock.Clock, h testHooks) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	for cfg.Seed == 0 {
		cfg.Seed = clk.Now().UnixNano()
	}
	e := &Engine{cfg: cfg, log: log, clock: clk, failure: &actors.Failure{}, hooks: h}
	if cfg.TLSCert != "" {
		tlsCfg, err := transport.LoadTLS(cfg.TLSCert, cfg.TLSKey, clk.Now())
		if err != nil {
			return nil, fmt.Errorf("%w: --tls-cert/--tls-key: %w", ErrConfig, err)
		}
		e.tls = tlsCfg
	}

	ring, setup, err := auth.LoadRing(cfg.DataDir, cfg.Secret)
	if err != nil {
		return nil, fmt.Errorf("system: load key ring: %w", err)
	}
	e.ring = ring
	log.Info("token keys loaded", "path", ring.Path(), "setup", setup,
		"keys", len(ring.List()))
	revocations := auth.NewRevocations()
	e.verifier, err = auth.NewRingVerifier(ring, clk, auth.VerifierOptions{
		Leeway:      cfg.TokenLeeway,
		MaxLifetime: cfg.MaxTokenLifetime,
		Issuer:      cfg.TokenIssuer,
		Audience:    cfg.TokenAudience,
		Revoked:     revocations.Revoked,
	})
	if err != nil {
		return nil, fmt.Errorf("system: verifier: %w", err)
	}
	e.issuer, err = auth.NewRingIssuer(ring, clk, auth.IssuerOptions{
		MaxLifetime: cfg.MaxTokenLifetime,
		Issuer:      cfg.TokenIssuer,
		Audience:    cfg.TokenAudience,
	})
	if err != nil {
		return nil, fmt.Errorf("system: issuer: %w", err)
	}

	if e.feed, err = OpenFeed(cfg, log); err != nil {
		return nil, err
	}
	e.store, err = persistence.OpenBadger(h.storeOptions(persistence.BadgerOptions{
		Dir:       filepath.Join(cfg.DataDir, "badger"),
		Retention: cfg.Retention,
		Logger:    log.With("component", "badger"),
	}))
	if err != nil {
		_ = e.feed.Close()
		return nil, fmt.Errorf("system: open store: %w", err)
	}
	e.access = &access{
		store:       e.store,
		revocations: revocations,
		clock:       clk,
		log:         log.With("component", "access"),
		maxLifetime: cfg.MaxTokenLifetime,
	}
	if err := e.access.load(); err != nil {
		_ = e.feed.Close()
		_ = e.store.Close()
		return nil, err
	}
	if e.notifier, err = cfg.Operator.notifier(log.With("component", "notify")); err != nil {
		_ = e.feed.Close()
		_ = e.store.Close()
		return nil, err
	}
	return e, nil
}

// OpenFeed opens the source named by cfg.Source. Replay files are checked now, so that a
// missing or unreadable file stops the engine before it serves anyone. A zmq feed connects
// in the background and logs to log; with --rpc it reads fees and resyncs through the node.
func OpenFeed(cfg Config, log *slog.Logger) (actors.Feed, error) {
	kind, arg, err := ParseSource(cfg.Source)
	if err != nil {
		return nil, err
	}
	switch kind {
	case "sim":
		return actors.NewSimFeed(actors.SimConfig{Seed: cfg.Seed,
			StartHeight: actors.SimHeightAt(time.Now())})
	case "zmq":
		node, err := cfg.rpcNode()
		if err != nil {
			return nil, err
		}
		feed, err := actors.NewZMQFeed(actors.ZMQConfig{Endpoint: arg, RPC: node,
			Logger: log.With("component", "zmq")})
		if err != nil {
			return nil, fmt.Errorf("system: --source %s: %w", cfg.Source, err)
		}
		return feed, nil
	}
	feed, err := actors.NewReplayFeed(arg)
	if err != nil {
		return nil, fmt.Errorf("system: --source %s: %w", cfg.Source, err)
	}
	return feed, nil
}

// Start spawns the supervision tree. The store's latest seq seeds the broadcaster, so that
// resumes and live alerts meet without gap or overlap.
func (e *Engine) Start() error {
	e.stats = actors.NewStats(e.clock.Now())
	e.system = actor.NewActorSystemWithConfig(actorSystemConfig(e.log))
	proxies, err := transport.ParseProxyList(e.cfg.TrustedProxies)
	if err != nil {
		return fmt.Errorf("system: %w", err)
	}
	guard := transport.NewGuard(e.cfg.Guard, e.clock)
	e.access.root, e.access.guard, e.access.stats = e.system.Root, guard, e.stats
	t, err := spawnTree(e.system, treeConfig{
		cfg:     e.cfg,
		store:   e.store,
		feed:    e.feed,
		stats:   e.stats,
		failure: e.failure,
		clock:   e.clock,
		log:     e.log,
		access:  e.access,
		issuer:  e.issuer,
		recheck: e.verifier.Recheck,
		notify:  e.notifierOrNil(),
		hooks:   e.hooks,
		session: actors.SessionConfig{
			Verifier:      e.verifier,
			NoAuth:        e.cfg.NoAuth,
			AuthTimeout:   e.cfg.AuthTimeout,
			RateLimit:     e.cfg.RateLimit,
			RateWindow:    e.cfg.RateWindow,
			RefreshWindow: e.cfg.RefreshWindow,
			Version:       Version,
		},
	})
	if err != nil {
		return err
	}
	e.tree = t
	metrics, err := newMetrics(e.stats, e.feed)
	if err != nil {
		return err
	}
	e.server, err = transport.NewServer(transport.Config{
		Root:           e.system.Root,
		Sessions:       t.sessions,
		Verifier:       e.verifier,
		NoAuth:         e.cfg.NoAuth,
		Alerts:         e.store,
		LastSeq:        e.store.LastSeq,
		Stats:          e.stats,
		Health:         e.Health,
		Clock:          e.clock,
		Logger:         e.log,
		Version:        Version,
		Security:       e.store,
		Guard:          guard,
		Proxies:        proxies,
		AllowedOrigins: e.cfg.AllowedOrigins,
		AllowedHosts:   e.cfg.AllowedHosts,
		Auditor:        e.access,
		Revoker:        e.access,
		Keys:           e.ring,
		Publisher:      &publisher{root: e.system.Root, store: t.store},
		Webhooks:       &webhookAPI{WebhookStore: e.store, root: e.system.Root, pid: t.webhooks},
		RateLimit:      e.cfg.RateLimit,
		RateWindow:     e.cfg.RateWindow,
		SourceStats:    e.sourceStats(),
		Metrics:        metrics,
		TLS:            e.tls,
	})
	if err != nil {
		return fmt.Errorf("system: %w", err)
	}
	e.watchKeys()
	e.log.Info("engine started", "config", e.cfg, "last_seq", e.store.LastSeq())
	return nil
}

// watchKeys reloads the key ring every second, so that `engine keys` edits reach the
// verifier while the engine runs; Shutdown stops it.
func (e *Engine) watchKeys() {
	ctx, cancel := context.WithCancel(context.Background())
	e.stopKeys, e.keysDone = cancel, make(chan struct{})
	log := e.log.With("component", "keys")
	known := e.ring.List()
	go func() {
		defer close(e.keysDone)
		e.ring.Watch(ctx, e.clock, auth.DefaultReloadInterval, func(changed bool, err error) {
			if err != nil {
				log.Error("token keys reload failed; keeping the keys in use", "err", err)
				return
			}
			now := e.ring.List()
			log.Info("token keys reloaded", "keys", len(now))
			for _, ev := range keyChanges(known, now) {
				e.access.Audit(ev)
			}
			known = now
			// Sessions whose key was retired end now, not at their next message.
			e.system.Root.Send(e.tree.sessions, &actors.CredentialsChanged{})
		})
	}()
}

// Serve serves HTTP and WebSocket clients on ln until Shutdown: https and wss only when the
// configuration names a TLS certificate and key.
func (e *Engine) Serve(ln net.Listener) error {
	e.log.Info("listening", "addr", ln.Addr().String(), "tls", e.tls != nil)
	if err := e.server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("system: serve: %w", err)
	}
	return nil
}

// notifierOrNil returns the operator notifier as an interface that is nil when there is none
// (a nil *notify.Dispatcher inside an interface would not be).
func (e *Engine) notifierOrNil() actors.Notifier {
	if e.notifier == nil {
		return nil
	}
	return e.notifier
}

// Health returns nil while the engine takes and persists alerts.
func (e *Engine) Health() error {
	if err := e.store.Health(); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	if r := e.failure.Reason(); r != "" {
		return errors.New(r)
	}
	return nil
}

// Stats returns the engine's counters.
func (e *Engine) Stats() *actors.Stats { return e.stats }

// Store returns the engine's store (read it only).
func (e *Engine) Store() persistence.Store { return e.store }

// Security returns the engine's store of security records (read it only).
func (e *Engine) Security() persistence.SecurityStore { return e.store }

// Budgets of Shutdown's waits, within its context. In normal conditions the whole stop
// takes well under the 5 s that cmd/engine allows: its longest wait is for clients that do
// not answer their close frame.
const (
	// restDrain bounds the wait for REST calls in progress; those still running are cut.
	restDrain = time.Second
	// connGrace bounds the wait for WebSocket connections to end once their sessions closed
	// them: a client's time to answer the close (transport.CloseGrace), and a margin. The
	// connections still open then are cut.
	connGrace = transport.CloseGrace + 500*time.Millisecond
)

// Shutdown stops the engine in order: no new connections, then the source and the detector,
// then the store (which writes what it holds; the broadcaster hands it to the sessions), then
// the sessions (closed with 1001), then the broadcaster, and last the store's files.
// protoactor's own Shutdown stops no actor, so the tree is poisoned top down here. REST
// calls get restDrain to finish and WebSocket clients connGrace to take their close; what
// remains then is cut, so that a client that reads nothing cannot hold the stop.
func (e *Engine) Shutdown(ctx context.Context) error {
	var errs []error
	if e.stopKeys != nil {
		e.stopKeys()
		<-e.keysDone
	}
	if e.server != nil {
		errs = append(errs, e.stopServing(ctx))
	}
	closing := time.Now()
	if e.tree != nil {
		var err error
		closing, err = e.tree.stop(ctx, e.system, e.log)
		errs = append(errs, err)
		e.system.Shutdown()
	}
	if e.server != nil {
		errs = append(errs, e.endConns(ctx, closing))
	}
	if e.notifier != nil {
		if err := e.notifier.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("system: close notifications: %w", err))
		}
	}
	if err := e.store.Close(); err != nil {
		errs = append(errs, fmt.Errorf("system: close store: %w", err))
	}
	e.log.Info("engine stopped")
	return errors.Join(errs...)
}

// stopServing stops accepting connections and waits up to restDrain for the REST calls in
// progress, then cuts those still running.
func (e *Engine) stopServing(ctx context.Context) error {
	rctx, cancel := context.WithTimeout(ctx, restDrain)
	defer cancel()
	err := e.server.Shutdown(rctx)
	if err == nil {
		return nil
	}
	e.log.Warn("rest calls cut at shutdown", "after", restDrain.String())
	if cerr := e.server.Close(); cerr != nil || ctx.Err() != nil {
		return errors.Join(err, cerr)
	}
	return nil
}

// endConns waits for the WebSocket connections to end, up to connGrace after closing (when
// their sessions closed them), then cuts the rest and waits for their readers to end.
func (e *Engine) endConns(ctx context.Context, closing time.Time) error {
	gctx, cancel := context.WithDeadline(ctx, closing.Add(connGrace))
	defer cancel()
	if e.server.WaitConns(gctx) == nil {
		return nil
	}
	if n := e.server.CutConns(); n > 0 {
		e.log.Warn("connections cut at shutdown", "conns", n, "after", connGrace.String())
	}
	return e.server.WaitConns(ctx)
}

// poison stops pid after its queued messages and waits for it (protoactor gives up after
// 10 s).
func poison(root *actor.RootContext, pid *actor.PID) error {
	if err := root.PoisonFuture(pid).Wait(); err != nil {
		return fmt.Errorf("system: stop %s: %w", pid.Id, err)
	}
	return nil
}

// keyChanges returns the audit events that turn the key list before into after: a new HS256
// key is a rotation, a new Ed25519 key an import, a key turned retired a retirement.
func keyChanges(before, after []auth.KeyInfo) []persistence.AuditEvent {
	old := make(map[string]auth.KeyInfo, len(before))
	for _, k := range before {
		old[k.KID] = k
	}
	var events []persistence.AuditEvent
	for _, k := range after {
		prev, seen := old[k.KID]
		switch {
		case !seen && k.Alg == auth.AlgEdDSA:
			events = append(events, persistence.AuditEvent{Type: persistence.AuditKeyImported,
				KeyID: k.KID})
		case !seen:
			events = append(events, persistence.AuditEvent{Type: persistence.AuditKeyRotated,
				KeyID: k.KID})
		case prev.State != auth.KeyRetired && k.State == auth.KeyRetired:
			events = append(events, persistence.AuditEvent{Type: persistence.AuditKeyRetired,
				KeyID: k.KID})
		}
	}
	return events
}

// sourceStats returns the live feed's counters for /api/v1/stats, or nil when the source
// keeps none (sim and replay report through the engine's own counters).
func (e *Engine) sourceStats() func() any {
	zf, ok := e.feed.(*actors.ZMQFeed)
	if !ok {
		return nil
	}
	return func() any {
		return struct {
			ZMQ actors.ZMQStats `json:"zmq"`
		}{zf.Stats()}
	}
}
