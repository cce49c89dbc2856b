package transport

import (
	"errors"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/whalecast/whalecast/internal/auth"
	"github.com/whalecast/whalecast/persistence"
)

// principal is who an API call acts for: the holder of a verified token or API key.
type principal struct {
	// Client is the token's sub or the API key's client.
	Client string
	// Perms are the token's permissions or the API key's known ones.
	Perms []auth.Perm
	// KeyID is the API key's id; empty for a token.
	KeyID string
	// TokenID is the token's jti; empty for an API key.
	TokenID string
	// limiter names the rate limiter's bucket: one per API key, one per token client.
	limiter string
	// anonymous marks the caller of a --no-auth engine that presented no credential.
	anonymous bool
}

func (p principal) has(perm auth.Perm) bool { return auth.HasPerm(p.Perms, perm) }

// apiHandler serves one API route for an authenticated, rate-limited caller.
type apiHandler func(w http.ResponseWriter, r *http.Request, p principal)

// api wraps an API route: the client IP must not be banned, the URL must carry no
// credential, the request must authenticate with a Bearer token or an API key, the
// credential's rate limit must allow the call, and the credential must grant need (none
// when empty). Every refusal is a JSON error; auth failures are audited, which feeds the
// IP ban.
func (s *Server) api(need auth.Perm, h apiHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		ip := s.cfg.Proxies.ClientIP(r)
		if !ip.IsValid() {
			writeError(w, http.StatusBadRequest, "bad_request", "no client address")
			return
		}
		if !s.notBanned(w, ip) {
			return
		}
		if urlCredential(r.URL.RawQuery) {
			s.refuseURLCredential(w, r, ip)
			return
		}

		p, ok := s.authenticate(w, r, ip)
		if !ok {
			return
		}
		if !s.rateLimit(w, r, ip, p) {
			return
		}
		if need != "" && !p.has(need) {
			writeError(w, http.StatusForbidden, "forbidden",
				"the "+string(need)+" permission is required")
			return
		}
		h(w, r, p)
	}
}

// notBanned answers 429 to a banned IP.
func (s *Server) notBanned(w http.ResponseWriter, ip netip.Addr) bool {
	if s.cfg.Guard == nil {
		return true
	}
	d := s.cfg.Guard.BannedFor(ip)
	if d <= 0 {
		return true
	}
	setRetryAfter(w, d)
	writeError(w, http.StatusTooManyRequests, "banned",
		"this address is banned after repeated authentication failures")
	return false
}

// refuseURLCredential answers 400 to a request with a credential in its URL and audits it.
// Neither the URL nor the credential is logged.
func (s *Server) refuseURLCredential(w http.ResponseWriter, r *http.Request, ip netip.Addr) {
	s.authFailed(r, ip, reasonTokenInURL, "", "")
	writeError(w, http.StatusBadRequest, "bad_request",
		"credentials are never accepted in the URL: send the Authorization header")
}

// authenticate finds the caller from its Authorization or X-API-Key header. On failure it
// has answered 401 (or 503 when the store cannot be read) and audited the failure.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request, ip netip.Addr) (
	principal, bool) {
	cred, err := requestCredential(r.Header)
	switch {
	case err != nil:
		s.unauthorized(w, r, ip, reasonMalformed, "", "")
		return principal{}, false
	case cred.kind == credNone && s.cfg.NoAuth:
		return principal{Client: "anonymous", Perms: []auth.Perm{auth.PermRead, auth.PermWrite},
			limiter: "ip:" + ip.String(), anonymous: true}, true
	case cred.kind == credNone:
		s.unauthorized(w, r, ip, reasonMissingCredentials, "", "")
		return principal{}, false
	case cred.kind == credAPIKey:
		return s.authAPIKey(w, r, ip, cred.value)
	}

	claims, err := s.cfg.Verifier.Verify(cred.value)
	if err != nil {
		s.unauthorized(w, r, ip, auth.ReasonOf(err), "", "")
		return principal{}, false
	}
	return principal{Client: claims.Subject, Perms: claims.Perms, TokenID: claims.ID,
		limiter: "client:" + claims.Subject}, true
}

// authAPIKey looks the key up by its hash. A revoked key fails at once, on the next call
// after its revocation.
func (s *Server) authAPIKey(w http.ResponseWriter, r *http.Request, ip netip.Addr,
	key string) (principal, bool) {
	hash, err := persistence.HashAPIKey(key)
	if err != nil {
		s.unauthorized(w, r, ip, reasonMalformed, "", "")
		return principal{}, false
	}
	if s.cfg.Security == nil {
		s.unauthorized(w, r, ip, reasonUnknownAPIKey, "", "")
		return principal{}, false
	}
	rec, err := s.cfg.Security.APIKeyByHash(hash)
	switch {
	case errors.Is(err, persistence.ErrRevoked):
		s.unauthorized(w, r, ip, reasonRevoked, rec.Client, rec.ID)
		return principal{}, false
	case errors.Is(err, persistence.ErrNotFound):
		s.unauthorized(w, r, ip, reasonUnknownAPIKey, "", "")
		return principal{}, false
	case err != nil:
		s.storeError(w, "api key lookup", err)
		return principal{}, false
	}
	p := principal{Client: rec.Client, KeyID: rec.ID, limiter: "apikey:" + rec.ID}
	for _, name := range rec.Perms {
		if perm := auth.Perm(name); perm.Known() {
			p.Perms = append(p.Perms, perm)
		}
	}
	return p, true
}

// unauthorized audits an auth failure and answers 401 with its reason.
func (s *Server) unauthorized(w http.ResponseWriter, r *http.Request, ip netip.Addr,
	reason, client, keyID string) {
	s.authFailed(r, ip, reason, client, keyID)
	w.Header().Set("WWW-Authenticate", `Bearer realm="whalecast", error="invalid_token"`)
	writeJSON(w, http.StatusUnauthorized, apiError{Error: "unauthorized",
		Message: "a valid Bearer token or X-API-Key is required", Reason: reason})
}

// authFailed counts and audits a refused credential. The event names the route pattern,
// never the URL; the auditor feeds it to the IP guard.
func (s *Server) authFailed(r *http.Request, ip netip.Addr, reason, client, keyID string) {
	if s.cfg.Stats != nil {
		s.cfg.Stats.AuthFailed(reason)
	}
	s.audit(persistence.AuditEvent{Type: persistence.AuditAuthFailure, Remote: ip.String(),
		Reason: reason, Client: client, KeyID: keyID, Detail: routeOf(r)})
}

// routeOf names the route a request matched, for audit events: its pattern, never its URL.
func routeOf(r *http.Request) string {
	if r.Pattern != "" {
		return "http " + r.Pattern
	}
	return "http " + r.Method
}

// audit hands ev to the auditor, stamped with the clock.
func (s *Server) audit(ev persistence.AuditEvent) {
	if s.cfg.Auditor == nil {
		return
	}
	if ev.Time.IsZero() {
		ev.Time = s.cfg.Clock.Now().UTC()
	}
	s.cfg.Auditor.Audit(ev)
}

// rateLimit spends one token of the caller's bucket and writes the RateLimit headers; an
// empty bucket answers 429 with Retry-After. The first call of a credential (and one an
// hour after) is audited as auth_success.
func (s *Server) rateLimit(w http.ResponseWriter, r *http.Request, ip netip.Addr,
	p principal) bool {
	use := p.TokenID
	if p.KeyID != "" {
		use = p.KeyID
	}
	res := s.limiters.take(p.limiter, use)
	if res.audit && !p.anonymous {
		s.audit(persistence.AuditEvent{Type: persistence.AuditAuthSuccess,
			Remote: ip.String(), Client: p.Client, KeyID: p.KeyID, TokenID: p.TokenID,
			Detail: routeOf(r)})
	}

	h := w.Header()
	h.Set("RateLimit-Limit", strconv.Itoa(res.limit))
	h.Set("RateLimit-Remaining", strconv.Itoa(res.remaining))
	h.Set("RateLimit-Reset", strconv.FormatInt(ceilSeconds(res.reset), 10))
	if res.allowed {
		return true
	}
	if s.cfg.Stats != nil {
		s.cfg.Stats.RateLimited.Add(1)
	}
	setRetryAfter(w, res.retry)
	writeError(w, http.StatusTooManyRequests, "rate_limited",
		"rate limit exceeded: retry after the Retry-After seconds")
	return false
}

// setRetryAfter sets Retry-After to d in whole seconds, at least 1.
func setRetryAfter(w http.ResponseWriter, d time.Duration) {
	w.Header().Set("Retry-After", strconv.FormatInt(max(ceilSeconds(d), 1), 10))
}

// ceilSeconds rounds d up to whole seconds.
func ceilSeconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64(math.Ceil(d.Seconds()))
}
