package auth

import (
	"sync"
	"time"
)

// Revocations is the in-memory set of revoked tokens (by jti) and clients (every token
// issued to the client at or before the revocation). The engine loads it from the store at
// start and adds to it as revocations arrive; a Verifier consults it through
// VerifierOptions.Revoked. It is safe for concurrent use.
type Revocations struct {
	mu      sync.RWMutex
	jtis    map[string]time.Time // jti → until
	clients map[string]clientRevocation
}

type clientRevocation struct {
	at, until time.Time
}

// NewRevocations returns an empty set.
func NewRevocations() *Revocations {
	return &Revocations{jtis: map[string]time.Time{}, clients: map[string]clientRevocation{}}
}

// RevokeJTI revokes the token jti until until (when it would have expired anyway).
func (r *Revocations) RevokeJTI(jti string, until time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if old, ok := r.jtis[jti]; !ok || until.After(old) {
		r.jtis[jti] = until
	}
}

// RevokeClient revokes every token of client issued at or before at; the entry is kept
// until until, when every such token has expired.
func (r *Revocations) RevokeClient(client string, at, until time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.clients[client]
	if at.After(old.at) {
		old.at = at
	}
	if until.After(old.until) {
		old.until = until
	}
	r.clients[client] = old
}

// Revoked reports whether c is revoked.
func (r *Revocations) Revoked(c Claims) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if _, ok := r.jtis[c.ID]; ok {
		return true
	}
	if _, ok := r.jtis[c.OriginID]; ok && c.OriginID != "" {
		return true
	}
	cr, ok := r.clients[c.Subject]
	return ok && !c.IssuedAt.After(cr.at)
}

// Prune drops entries whose until has passed; it returns how many remain.
func (r *Revocations) Prune(now time.Time) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	for jti, until := range r.jtis {
		if !now.Before(until) {
			delete(r.jtis, jti)
		}
	}
	for client, cr := range r.clients {
		if !now.Before(cr.until) {
			delete(r.clients, client)
		}
	}
	return len(r.jtis) + len(r.clients)
}
