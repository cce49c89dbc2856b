package actors

import (
	"log/slog"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/whalecast/whalecast/internal/alert"
	"github.com/whalecast/whalecast/internal/auth"
	"github.com/whalecast/whalecast/persistence"
)

// onFrame is the state machine's entry for client messages.
func (s *session) onFrame(ctx actor.Context, f *ClientFrame) {
	switch s.state {
	case stateAwaitingAuth:
		s.onFirstFrame(ctx, f)
	case stateAuthenticated:
		s.onAuthenticatedFrame(ctx, f)
	}
}

// onFirstFrame accepts only an auth message; anything else closes with 4000, a bad token with
// 4003.
func (s *session) onFirstFrame(ctx actor.Context, f *ClientFrame) {
	m, err := parseClientMessage(f.Data)
	if f.Binary || err != nil || m.Type != "auth" || m.Token == "" {
		reason := "expected an auth message"
		if err != nil && !f.Binary {
			reason = "malformed auth message: " + describe(err)
		}
		s.authFailed("malformed")
		s.closeWith(ctx, CloseMalformed, reason)
		return
	}
	claims, err := s.deps.Config.Verifier.Verify(m.Token)
	if err != nil {
		reason := auth.ReasonOf(err)
		s.authFailed(reason)
		s.closeWith(ctx, CloseAuthFailed, "authentication failed: "+reason)
		return
	}
	s.authenticate(ctx, claims, m.Since)
}

// authFailed counts, logs and audits a refused authentication. The reason is a stable code;
// nothing the client sent is recorded.
func (s *session) authFailed(reason string) {
	s.deps.Stats.AuthFailed(reason)
	s.log(slog.LevelDebug, "session auth rejected", "reason", reason)
	s.audit(persistence.AuditEvent{Type: persistence.AuditAuthFailure, Reason: reason})
}

// audit hands an event, stamped with the client's address, to the auditor.
func (s *session) audit(ev persistence.AuditEvent) {
	if s.deps.Auditor == nil {
		return
	}
	ev.Remote = s.peer.Remote()
	ev.Time = s.deps.Clock.Now().UTC()
	s.deps.Auditor.Audit(ev)
}

func noAuthClaims(now time.Time) auth.Claims {
	return auth.Claims{
		Subject:   "anonymous",
		Perms:     []auth.Perm{auth.PermRead, auth.PermWrite},
		IssuedAt:  now,
		ExpiresAt: now.Add(100 * 365 * 24 * time.Hour),
	}
}

// authenticate moves the session to authenticated: it answers auth_success, arms the expiry
// timer and subscribes to the broadcaster, whose ack starts the welcome and any replay.
func (s *session) authenticate(ctx actor.Context, claims auth.Claims, since *uint64) {
	s.claims = claims
	s.state = stateAuthenticated
	s.deps.Stats.ConnsUnauthenticated.Add(-1)
	s.deps.Stats.ConnsAuthenticated.Add(1)
	s.log(slog.LevelInfo, "session authenticated", "perms", permStrings(claims.Perms))
	if !s.cfg.NoAuth {
		s.audit(persistence.AuditEvent{Type: persistence.AuditAuthSuccess,
			Client: claims.Subject, KeyID: claims.KeyID, TokenID: claims.ID})
	}

	ttl := claims.ExpiresAt.Sub(s.deps.Clock.Now())
	s.schedule(ctx, ttl, func(gen uint64) any { return &tokenExpiry{gen: gen} })
	if !s.send(ctx, authSuccessFrame(claims.Subject, permStrings(claims.Perms),
		claims.ExpiresAt)) {
		return
	}

	canRead := claims.Has(auth.PermRead)
	if since != nil && canRead {
		s.replay = &replay{cursor: *since}
	}
	s.sinceRefused = since != nil && !canRead
	s.registered = true
	s.out.setFilter(s.out.filter, canRead)
	ctx.Send(s.deps.Broadcaster, &Subscribe{Session: ctx.Self(), outlet: &s.out})
}

func permStrings(perms []auth.Perm) []string {
	out := make([]string, len(perms))
	for i, p := range perms {
		out[i] = string(p)
	}
	return out
}

// onSubscribeAck sends the welcome; a resume then replays (since, LastSeq] from the store,
// while live alerts, all above LastSeq, wait in the pending buffer.
func (s *session) onSubscribeAck(ctx actor.Context, ack *SubscribeAck) {
	if s.state != stateAuthenticated {
		return
	}
	s.subscribed = true
	s.ackSeq = ack.LastSeq
	if !s.send(ctx, welcomeFrame(s.cfg.Version, ack.LastSeq)) {
		return
	}
	if s.sinceRefused {
		s.send(ctx, errorFrame(ErrCodeForbidden, "since needs the read permission"))
	}
	if s.replay != nil {
		s.startReplay(ctx, ack.LastSeq)
		return
	}
	s.goLive(ctx)
}

func satFromBTC(btc float64) int64 {
	return alert.SatFromBTC(btc)
}
