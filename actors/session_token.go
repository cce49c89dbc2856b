package actors

import (
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
	token, claims, err := s.deps.Issuer.Issue(s.claims.Subject, s.claims.Perms, ttl)
	if err != nil {
		s.log.Error("session refresh failed", "err", err)
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
		reason := authReason(err)
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
	ttl := claims.ExpiresAt.Sub(s.deps.Clock.Now())
	s.schedule(ctx, ttl, func(gen uint64) any { return &tokenExpiry{gen: gen} })
	ctx.Send(s.deps.Broadcaster, &SetFilter{Session: ctx.Self(), MinSat: s.minSat,
		Receive: claims.Has(auth.PermRead)})
}

func (s *session) revoked() bool {
	return s.deps.Revoked != nil && !s.cfg.NoAuth && s.deps.Revoked(s.claims)
}

// onRevocationsChanged closes the session at once if its token is now revoked.
func (s *session) onRevocationsChanged(ctx actor.Context) {
	if s.state == stateAuthenticated && s.revoked() {
		s.revoke(ctx)
	}
}

func (s *session) revoke(ctx actor.Context) {
	s.deps.Stats.SessionsRevoked.Add(1)
	s.log.Info("session token revoked", "jti", s.claims.ID)
	s.peer.Send(errorFrame(ErrCodeTokenRevoked, "the token was revoked"))
	s.closeWith(ctx, CloseAuthFailed, "token revoked")
}
