package actors

import (
	"log/slog"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/whalecast/whalecast/internal/auth"
	"github.com/whalecast/whalecast/persistence"
)

// onRefresh answers {"type":"refresh"}: inside the refresh window (the last RefreshWindow of
// the token's life) the session gets a new token for the same client and permissions, with a
// new jti and the old token's lifetime (at most the issuer's maximum); earlier it gets
// refresh_too_early. The session then runs on the new token.
func (s *session) onRefresh(ctx actor.Context) {
	if s.cfg.NoAuth || s.deps.Issuer == nil {
		s.send(ctx, errorFrame(ErrCodeBadRequest, "this engine does not refresh tokens"))
		return
	}
	now := s.deps.Clock.Now()
	if now.Before(s.claims.ExpiresAt.Add(-s.cfg.RefreshWindow)) {
		s.send(ctx, errorFrame(ErrCodeRefreshTooEarly, "refresh within "+
			s.cfg.RefreshWindow.String()+" of expiry"))
		return
	}

	ttl := min(s.claims.ExpiresAt.Sub(s.claims.IssuedAt), s.deps.Issuer.MaxLifetime())
	token, claims, err := s.deps.Issuer.Refresh(s.claims, ttl)
	if err != nil {
		s.log(slog.LevelError, "session refresh failed", "err", err)
		s.send(ctx, errorFrame(ErrCodeBadRequest, "the token could not be refreshed"))
		return
	}
	old := s.claims.ID
	s.useClaims(ctx, claims)
	s.deps.Stats.TokensRefreshed.Add(1)
	s.audit(persistence.AuditEvent{Type: persistence.AuditTokenRefreshed,
		Client: claims.Subject, KeyID: claims.KeyID, TokenID: claims.ID,
		Detail: "replaces jti " + old})
	s.send(ctx, tokenRefreshedFrame(token, claims.ExpiresAt))
}

// reauthenticate answers an auth message in an authenticated session: a valid token for the
// same client replaces the session's token (and its permissions); a bad one ends the session
// with 4003, as it would have at the start.
func (s *session) reauthenticate(ctx actor.Context, m clientMessage) {
	if m.Token == "" {
		s.send(ctx, errorFrame(ErrCodeBadRequest, "auth needs a token"))
		return
	}
	claims, err := s.deps.Config.Verifier.Verify(m.Token)
	if err != nil {
		reason := auth.ReasonOf(err)
		s.authFailed(reason)
		s.closeWith(ctx, CloseAuthFailed, "authentication failed: "+reason)
		return
	}
	if claims.Subject != s.claims.Subject {
		s.send(ctx, errorFrame(ErrCodeForbidden, "the token is for another client"))
		return
	}
	s.useClaims(ctx, claims)
	s.audit(persistence.AuditEvent{Type: persistence.AuditAuthSuccess,
		Client: claims.Subject, KeyID: claims.KeyID, TokenID: claims.ID,
		Detail: "in-session"})
	s.send(ctx, authSuccessFrame(claims.Subject, permStrings(claims.Perms), claims.ExpiresAt))
}

// useClaims switches the session to new claims: expiry timer and broadcaster registration.
func (s *session) useClaims(ctx actor.Context, claims auth.Claims) {
	s.claims = claims
	if !claims.Has(auth.PermRead) {
		// A token without read stops the alerts at once, a resume in progress included.
		s.replay = nil
	}
	ttl := claims.ExpiresAt.Sub(s.deps.Clock.Now())
	s.schedule(ctx, ttl, func(gen uint64) any { return &tokenExpiry{gen: gen} })
	s.out.setFilter(s.out.filter, claims.Has(auth.PermRead))
	if s.replay == nil && s.subscribed {
		s.goLive(ctx)
	}
}

// stillValid rechecks the session's token (expiry, retired key, revocation) and ends the
// session if it no longer holds. It reports whether the session goes on.
func (s *session) stillValid(ctx actor.Context) bool {
	if s.cfg.NoAuth {
		return true
	}
	if !s.deps.Clock.Now().Before(s.claims.ExpiresAt) {
		s.expire(ctx)
		return false
	}
	if s.deps.Recheck == nil {
		return true
	}
	err := s.deps.Recheck(s.claims)
	switch reason := auth.ReasonOf(err); {
	case err == nil:
		return true
	case reason == string(auth.ReasonExpired):
		s.expire(ctx)
	case reason == string(auth.ReasonUnknownKey):
		s.invalidate(ctx, "the token's signing key was retired", "token key retired")
	default:
		s.invalidate(ctx, "the token was revoked", "token revoked")
	}
	return false
}

// onCredentialsChanged rechecks the session's token at once when keys or revocations change.
func (s *session) onCredentialsChanged(ctx actor.Context) {
	if s.state == stateAuthenticated {
		s.stillValid(ctx)
	}
}

// invalidate ends a session whose token no longer holds: token_revoked, then 4003.
func (s *session) invalidate(ctx actor.Context, message, reason string) {
	s.deps.Stats.SessionsRevoked.Add(1)
	s.log(slog.LevelInfo, "session token invalidated", "jti", s.claims.ID, "reason", reason)
	s.peer.Send(errorFrame(ErrCodeTokenRevoked, message))
	s.closeWith(ctx, CloseAuthFailed, reason)
}
