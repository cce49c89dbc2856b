package actors

import (
	"slices"
	"strings"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/whalecast/whalecast/internal/auth"
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

// allow takes a token from the session's bucket. A denied message is answered rate_limited;
// a client that keeps sending past the limit (AbuseLimit denials within one window) is
// closed with 4008.
func (s *session) allow(ctx actor.Context) bool {
	if s.bucket.Allow() {
		return true
	}

	now := s.deps.Clock.Now()
	if s.denied == 0 || now.Sub(s.deniedSince) > s.cfg.RateWindow {
		s.denied, s.deniedSince = 0, now
	}
	s.denied++
	s.deps.Stats.RateLimited.Add(1)
	if s.denied >= s.cfg.AbuseLimit {
		s.log.Warn("session rate limit abused", "denied", s.denied)
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
	if m.MinBTC == nil || !validMinBTC(*m.MinBTC) {
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
	s.filter = Filter{MinSat: satFromBTC(*m.MinBTC), Detectors: m.Detectors,
		Statuses: m.Statuses}
	ctx.Send(s.deps.Broadcaster, &SetFilter{Session: ctx.Self(), Filter: s.filter,
		Receive: s.claims.Has(auth.PermRead)})
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
	if s.sentLive || s.replay != nil || s.resumed {
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
		s.startReplay(ctx, s.ackSeq)
	}
}
