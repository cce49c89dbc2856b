package actors

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/whalecast/whalecast/internal/auth"
	"github.com/whalecast/whalecast/internal/clock"
)

// TokenVerifier checks a client's token; *auth.Verifier implements it.
type TokenVerifier interface {
	Verify(token string) (auth.Claims, error)
}

// TokenIssuer mints the token of an in-band refresh; *auth.Issuer implements it.
type TokenIssuer interface {
	Refresh(c auth.Claims, ttl time.Duration) (string, auth.Claims, error)
	MaxLifetime() time.Duration
}

// SessionConfig is what every session shares. The zero value of each duration or count means
// the default named beside it.
type SessionConfig struct {
	// Verifier checks tokens. Required.
	Verifier TokenVerifier
	// NoAuth skips authentication (development only): every session is a reader and writer.
	NoAuth bool
	// AuthTimeout is how long a new connection may take to authenticate (default 5 s).
	AuthTimeout time.Duration
	// RateLimit is how many client messages a session may send per RateWindow (default 100).
	RateLimit int
	// RateWindow is the rate limit's window (default 60 s).
	RateWindow time.Duration
	// AbuseLimit is how many rejected messages within one RateWindow close the connection
	// with 4008 (default RateLimit/2, at least 10).
	AbuseLimit int
	// DefaultMinBTC is a new session's threshold (default 0: every alert the detector raised).
	DefaultMinBTC float64
	// Detectors lists the detector names a client may filter on (default: the names of
	// BuiltinRegistry); a subscribe naming another is refused with bad_request.
	Detectors []string
	// MaxPending bounds the live alerts held back while a resume replays (default 4096).
	MaxPending int
	// ReplayPage is how many stored alerts a resume reads at a time (default 256).
	ReplayPage int
	// ReplayHighWater pauses a replay while more frames than this are queued (default 64).
	ReplayHighWater int
	// RefreshWindow is how long before expiry a token may be refreshed in-band (default 1 h).
	RefreshWindow time.Duration
	// Version is sent in the welcome message.
	Version string
}

func (c SessionConfig) withDefaults() SessionConfig {
	if c.AuthTimeout <= 0 {
		c.AuthTimeout = 5 * time.Second
	}
	if c.RateLimit <= 0 {
		c.RateLimit = 100
	}
	if c.RateWindow <= 0 {
		c.RateWindow = time.Minute
	}
	if c.AbuseLimit <= 0 {
		c.AbuseLimit = max(10, c.RateLimit/2)
	}
	if c.MaxPending <= 0 {
		c.MaxPending = 4096
	}
	if c.ReplayPage <= 0 {
		c.ReplayPage = 256
	}
	if c.ReplayHighWater <= 0 {
		c.ReplayHighWater = 64
	}
	if c.RefreshWindow <= 0 {
		c.RefreshWindow = time.Hour
	}
	if c.Detectors == nil {
		c.Detectors = BuiltinRegistry().Names()
	}
	return c
}

// SessionDeps are the collaborators of every session.
type SessionDeps struct {
	Config      SessionConfig
	Broadcaster *actor.PID
	Alerts      AlertReader
	Clock       clock.Clock
	Stats       *Stats
	Logger      *slog.Logger
	// Issuer mints refreshed tokens; nil refuses refresh.
	Issuer TokenIssuer
	// Auditor receives auth successes, failures and refreshes; nil records nothing.
	Auditor Auditor
	// Recheck tells whether a session's token still holds (key not retired, not revoked, not
	// expired); *auth.Verifier's Recheck. nil checks expiry only.
	Recheck func(auth.Claims) error
}

type sessionState uint8

const (
	stateAwaitingAuth sessionState = iota
	stateAuthenticated
	stateClosing
)

// String names the state for logs.
func (s sessionState) String() string {
	switch s {
	case stateAwaitingAuth:
		return "awaiting_auth"
	case stateAuthenticated:
		return "authenticated"
	default:
		return "closing"
	}
}

// authDeadline and tokenExpiry come from the session's own timers. A stale generation (a
// timer that fired after it was replaced) is ignored, so timers never race the state.
type authDeadline struct{ gen uint64 }

type tokenExpiry struct{ gen uint64 }

// session is the actor behind one client connection: an auth state machine, a rate limiter,
// and the owner of the connection's subscription. It never blocks on the network: frames go
// to the peer's bounded queue.
//
// Most sessions sit idle, and 10,000 of them must fit in little memory (bench/README.md): a
// session holds its own state only. What all sessions share (config, logger) is reached
// through deps, and what an idle session does not need (the rate limiter, a replay) is made
// when it is first used.
type session struct {
	deps  *SessionDeps
	cfg   *SessionConfig
	peer  Peer
	state sessionState

	gen     uint64
	timer   clock.Timer
	claims  auth.Claims
	limiter *sessionLimiter

	// out takes the live alerts the broadcaster hands over. It holds the session's filter:
	// the session writes it under the outlet's mutex and, being its only writer, reads it
	// without.
	out outlet
	// registered: Subscribe was sent, so Unsubscribe goes when the session stops.
	registered bool
	subscribed bool
	ackSeq     uint64
	resumed    bool
	// sinceRefused: the auth message asked for since without read; told after welcome.
	sinceRefused bool
	replay       *replay
}

// newSessionProps returns the props every session is spawned from. A session learns its
// connection from its first message, the StartSession that the sessions supervisor sends
// right after the spawn, so that one Props serves every connection.
func newSessionProps(deps *SessionDeps) *actor.Props {
	cfg := deps.Config.withDefaults()
	return actor.PropsFromProducer(func() actor.Actor {
		return &session{deps: deps, cfg: &cfg}
	})
}

// Receive implements actor.Actor.
func (s *session) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *StartSession:
		s.start(ctx, msg)
	case *ClientFrame:
		s.onFrame(ctx, msg)
		s.peer.Released()
	case *authDeadline:
		s.onAuthDeadline(ctx, msg)
	case *tokenExpiry:
		s.onTokenExpiry(ctx, msg)
	case *SubscribeAck:
		s.onSubscribeAck(ctx, msg)
	case *deliveryRefused:
		s.onDeliveryRefused(ctx)
	case *replayContinue:
		s.continueReplay(ctx)
	case *PeerGone:
		if errors.Is(msg.Err, ErrClientStalled) && s.state != stateClosing {
			s.deps.Stats.SlowConsumerCloses.Add(1)
			s.log(slog.LevelWarn, "session slow consumer", "stalled", true)
			s.closeWith(ctx, CloseSlowConsumer, "slow_consumer")
			return
		}
		s.closeWith(ctx, CloseNormal, "")
	case *CredentialsChanged:
		s.onCredentialsChanged(ctx)
	case *OperatorNotice:
		if s.state == stateAuthenticated && s.claims.Has(auth.PermAdmin) &&
			s.stillValid(ctx) {
			s.send(ctx, msg.Frame)
		}
	case *ServerShutdown:
		s.closeWith(ctx, CloseGoingAway, "server shutting down")
	case *actor.Stopping:
		// Stopped without closing first: the supervisor stopped it after a failure.
		if s.peer != nil {
			s.closeWith(ctx, CloseInternalError, "internal error")
		}
	case *actor.Stopped:
		if s.registered {
			ctx.Send(s.deps.Broadcaster, &Unsubscribe{Session: ctx.Self()})
		}
	}
}

func (s *session) start(ctx actor.Context, m *StartSession) {
	if s.peer != nil {
		return
	}
	s.peer = m.Peer
	s.deps.Stats.ConnsUnauthenticated.Add(1)
	s.out.peer, s.out.holding, s.out.maxHeld = m.Peer, true, s.cfg.MaxPending
	s.out.setFilter(Filter{MinSat: satFromBTC(s.cfg.DefaultMinBTC)}, false)
	if s.cfg.NoAuth {
		// A resume asked with the upgrade (?since=) is honoured; a later auth message may
		// then not ask for another.
		s.resumed = m.Since != nil
		s.authenticate(ctx, noAuthClaims(s.deps.Clock.Now()), m.Since)
		return
	}
	if m.Claims != nil {
		s.authenticate(ctx, *m.Claims, m.Since)
		return
	}
	s.schedule(ctx, s.cfg.AuthTimeout, func(gen uint64) any { return &authDeadline{gen: gen} })
}

// log writes a session event with the client's address and, once authenticated, its id.
// The attributes are added per event rather than kept in a logger per session: sessions log
// seldom, and every idle connection would pay for that logger.
func (s *session) log(level slog.Level, msg string, args ...any) {
	l := s.deps.Logger
	if !l.Enabled(context.Background(), level) {
		return
	}
	attrs := make([]any, 0, 4+len(args))
	attrs = append(attrs, "remote", s.peer.Remote())
	if s.claims.Subject != "" {
		attrs = append(attrs, "client", s.claims.Subject)
	}
	l.Log(context.Background(), level, msg, append(attrs, args...)...)
}

// schedule replaces the session's one timer. The message it sends carries a new generation.
func (s *session) schedule(ctx actor.Context, d time.Duration, msg func(gen uint64) any) {
	s.stopTimer()
	s.gen++
	gen, self, root := s.gen, ctx.Self(), ctx.ActorSystem().Root
	s.timer = s.deps.Clock.AfterFunc(d, func() { root.Send(self, msg(gen)) })
}

func (s *session) stopTimer() {
	if s.timer != nil {
		s.timer.Stop()
		s.timer = nil
	}
}

func (s *session) onAuthDeadline(ctx actor.Context, msg *authDeadline) {
	if msg.gen != s.gen || s.state != stateAwaitingAuth {
		return
	}
	s.deps.Stats.AuthTimeouts.Add(1)
	s.log(slog.LevelDebug, "session auth timeout")
	s.closeWith(ctx, CloseAuthTimeout, "authentication timeout")
}

func (s *session) onTokenExpiry(ctx actor.Context, msg *tokenExpiry) {
	if msg.gen != s.gen || s.state != stateAuthenticated {
		return
	}
	s.expire(ctx)
}

// expire tells the client its token expired and closes with 4003.
func (s *session) expire(ctx actor.Context) {
	s.log(slog.LevelInfo, "session token expired")
	s.peer.Send(errorFrame(ErrCodeTokenExpired, "the token expired: reconnect with a new one"))
	s.closeWith(ctx, CloseAuthFailed, "token expired")
}

// closeWith ends the session: the peer gets the close code after what is queued, the
// broadcaster forgets the session through its watch, and the actor stops.
func (s *session) closeWith(ctx actor.Context, code int, reason string) {
	if s.state == stateClosing {
		return
	}
	if s.state == stateAuthenticated {
		s.deps.Stats.ConnsAuthenticated.Add(-1)
	} else {
		s.deps.Stats.ConnsUnauthenticated.Add(-1)
	}
	s.state = stateClosing
	s.stopTimer()
	s.replay = nil
	s.out.close()
	if code == CloseSlowConsumer {
		s.peer.CloseWith(slowConsumerFrame, code, reason)
	} else {
		s.peer.Close(code, reason)
	}
	ctx.Stop(ctx.Self())
}

// send queues a frame; a full queue means the client is too slow and ends the session.
func (s *session) send(ctx actor.Context, frame []byte) bool {
	if s.peer.Send(frame) {
		return true
	}
	s.onDeliveryRefused(ctx)
	return false
}

// onDeliveryRefused ends a session whose client could not take a frame: the connection is
// already closing, or the client fell behind past its queue's bound. A slow consumer is told
// with an error frame (slow_consumer) written ahead of the close (4009); it can resume with
// since.
func (s *session) onDeliveryRefused(ctx actor.Context) {
	if s.state == stateClosing {
		return
	}
	if s.peer.Closed() {
		s.closeWith(ctx, CloseNormal, "")
		return
	}
	s.deps.Stats.SlowConsumerCloses.Add(1)
	s.log(slog.LevelWarn, "session slow consumer", "queued", s.peer.Queued())
	s.closeWith(ctx, CloseSlowConsumer, "slow_consumer")
}
