package system

import (
	"fmt"
	"log/slog"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/whalecast/whalecast/actors"
	"github.com/whalecast/whalecast/internal/auth"
	"github.com/whalecast/whalecast/internal/clock"
	"github.com/whalecast/whalecast/persistence"
	"github.com/whalecast/whalecast/transport"
)

// access is the engine's security hub. Sessions and the HTTP layer report security events
// to it; it sends them to the audit actor, feeds auth failures to the IP guard (which bans
// an IP after repeated failures), and applies revocations to storage, to the verifier's
// revocation set and to live sessions.
type access struct {
	root        *actor.RootContext
	store       persistence.SecurityStore
	revocations *auth.Revocations
	guard       *transport.Guard
	stats       *actors.Stats
	clock       clock.Clock
	log         *slog.Logger
	maxLifetime time.Duration

	// pids is set once the tree is spawned, before any connection is served.
	pids atomic.Pointer[accessPIDs]
}

type accessPIDs struct {
	audit    *actor.PID
	sessions *actor.PID
}

// Audit implements actors.Auditor. It never blocks: the audit actor's queue is bounded.
func (a *access) Audit(ev persistence.AuditEvent) {
	pids := a.pids.Load()
	if pids == nil {
		a.log.Warn("audit event before start", "type", ev.Type)
		return
	}
	if ev.Time.IsZero() {
		ev.Time = a.clock.Now().UTC()
	}
	a.root.Send(pids.audit, &actors.Audit{Event: ev})
	if ev.Type != persistence.AuditAuthFailure {
		return
	}
	ip, err := netip.ParseAddr(ev.Remote)
	if err != nil || !a.guard.AuthFailed(ip) {
		return
	}
	a.stats.IPBans.Add(1)
	a.log.Warn("ip banned after repeated auth failures", "remote", ev.Remote)
	a.root.Send(pids.audit, &actors.Audit{Event: persistence.AuditEvent{
		Type: persistence.AuditIPBanned, Remote: ev.Remote, Time: ev.Time,
		Reason: "repeated auth failures"}})
}

// Revoke persists a revocation of a token (kind jti) or of every token of a client issued
// until now (kind client), applies it to the verifier and closes live sessions holding a
// revoked token. until is when a jti's token expires; zero means the longest lifetime.
func (a *access) Revoke(kind, value string, until time.Time, by string) (persistence.Revocation,
	error) {
	now := a.clock.Now().UTC()
	if until.IsZero() || until.After(now.Add(a.maxLifetime)) {
		until = now.Add(a.maxLifetime)
	}
	r := persistence.Revocation{Kind: kind, Value: value, At: now, Until: until}
	if err := a.store.PutRevocation(r); err != nil {
		return r, fmt.Errorf("system: revoke %s: %w", kind, err)
	}
	a.apply(r)

	ev := persistence.AuditEvent{Type: persistence.AuditTokenRevoked, TokenID: value,
		Client: by, Time: now}
	if kind == persistence.RevokeClient {
		ev = persistence.AuditEvent{Type: persistence.AuditClientRevoked, Client: value,
			Detail: "by " + by, Time: now}
	}
	a.Audit(ev)
	if pids := a.pids.Load(); pids != nil {
		a.root.Send(pids.sessions, &actors.CredentialsChanged{})
	}
	return r, nil
}

// apply adds a stored revocation to the in-memory set.
func (a *access) apply(r persistence.Revocation) {
	switch r.Kind {
	case persistence.RevokeJTI:
		a.revocations.RevokeJTI(r.Value, r.Until)
	case persistence.RevokeClient:
		a.revocations.RevokeClient(r.Value, r.At, r.Until)
	}
}

// load fills the in-memory set from the store at start. A store that cannot list its
// revocations stops the engine: running without them would let revoked tokens in.
func (a *access) load() error {
	revs, err := a.store.Revocations()
	if err != nil {
		return fmt.Errorf("system: load revocations: %w", err)
	}
	for _, r := range revs {
		a.apply(r)
	}
	return nil
}
