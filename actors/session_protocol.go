package actors

import (
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/whalecast/whalecast/internal/auth"
	"github.com/whalecast/whalecast/internal/ratelimit"
)

// onAuthenticatedFrame applies, in order: the rate limit, the token's expiry, then the
// message itself. Errors that keep the connection open answer {"type":"error"}.
func (s *session) onAuthenticatedFrame(ctx actor.Context, f *ClientFrame) {
	if !s.allow(ctx) {
		return
	}
	if !s.stillValid(ctx) {
		return
	}

	m, err := parseClientMessage(f.Data)
	switch {
	case f.Binary:
		s.send(ctx, errorFrame(ErrCodeBadRequest, "messages are JSON text frames"))
		return
	case err != nil:
		s.send(ctx, errorFrame(ErrCodeBadRequest, describe(err)))
		return
	}
	switch m.Type {
	case "ping":
		s.send(ctx, pongFrame)
	case "subscribe":
		s.onSubscribe(ctx, m)
	case "auth":
		s.onLateAuth(ctx, m)
	case "refresh":
		s.onRefresh(ctx)
	default:
		s.send(ctx, errorFrame(ErrCodeBadRequest, "unknown message type"))
	}
}

// sessionLimiter is a session's rate limit: its token bucket and the denials it counts.
// It is made on the session's first message after authentication.
type sessionLimiter struct {
	bucket      *ratelimit.Bucket
	denied      int
	deniedSince time.Time
}

// allow takes a token from the session's bucket. A denied message is answered rate_limited;
// a client that keeps sending past the limit (AbuseLimit denials within one window) is
// closed with 4008.
func (s *session) allow(ctx actor.Context) bool {
	if s.limiter == nil {
		bucket, err := ratelimit.NewBucket(s.cfg.RateLimit, s.cfg.RateWindow, s.deps.Clock)
		if err != nil {
			s.log(slog.LevelError, "session rate limiter", "err", err)
			s.closeWith(ctx, CloseInternalError, "internal error")
			return false
		}
		s.limiter = &sessionLimiter{bucket: bucket}
	}
	l := s.limiter
	if l.bucket.Allow() {
		return true
	}

	now := s.deps.Clock.Now()
	if l.denied == 0 || now.Sub(l.deniedSince) > s.cfg.RateWindow {
		l.denied, l.deniedSince = 0, now
	}
	l.denied++
	s.deps.Stats.RateLimited.Add(1)
	if l.denied >= s.cfg.AbuseLimit {
		s.log(slog.LevelWarn, "session rate limit abused", "denied", l.denied)
		s.closeWith(ctx, CloseRateLimitAbused, "rate limit exceeded")
		return false
	}
	s.send(ctx, errorFrame(ErrCodeRateLimited, "too many messages: slow down"))
	return false
}

func (s *session) onSubscribe(ctx actor.Context, m clientMessage) {
	if !s.claims.Has(auth.PermWrite) {
		s.send(ctx, errorFrame(ErrCodeForbidden, "subscribe needs the write permission"))
		return
	}
	if m.MinBTC == nil {
		s.send(ctx, errorFrame(ErrCodeBadRequest,
			"subscribe needs min_btc: a number from 0 to 21000000"))
		return
	}
	if !validMinBTC(*m.MinBTC) {
		s.send(ctx, errorFrame(ErrCodeBadRequest, "min_btc must be a number from 0 to 21000000"))
		return
	}
	for _, d := range m.Detectors {
		if !slices.Contains(s.cfg.Detectors, d) {
			s.send(ctx, errorFrame(ErrCodeBadRequest, "unknown detector "+d+
				": want one of "+strings.Join(s.cfg.Detectors, ", ")))
			return
		}
	}
	s.out.setFilter(Filter{MinSat: satFromBTC(*m.MinBTC), Detectors: m.Detectors,
		Statuses: m.Statuses}, s.claims.Has(auth.PermRead))
	s.send(ctx, subscribedFrame(*m.MinBTC, m.Detectors, m.Statuses))
}

// onLateAuth answers an auth message in an authenticated session. With --no-auth the session
// authenticated before the client spoke, so the client's first auth message is still allowed
// to resume with since, as long as no live alert has been sent yet (order would break).
func (s *session) onLateAuth(ctx actor.Context, m clientMessage) {
	if !s.cfg.NoAuth {
		s.reauthenticate(ctx, m)
		return
	}
	seen, held := uint64(0), false
	if s.replay == nil && !s.resumed && m.Since != nil {
		seen, held = s.out.hold()
	}
	if s.replay != nil || s.resumed || (m.Since != nil && !held) {
		s.send(ctx, errorFrame(ErrCodeBadRequest, "already authenticated"))
		return
	}
	s.resumed = true
	if !s.send(ctx, authSuccessFrame(s.claims.Subject, permStrings(s.claims.Perms),
		s.claims.ExpiresAt)) || m.Since == nil {
		return
	}
	s.replay = &replay{cursor: *m.Since}
	if s.subscribed {
		// Alerts up to seen went by while the filter skipped them: the replay covers them.
		s.startReplay(ctx, max(s.ackSeq, seen))
	}
}
