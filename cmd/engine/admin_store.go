package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/whalecast/whalecast/persistence"
	"github.com/whalecast/whalecast/system"
	"github.com/whalecast/whalecast/transport"
)

// cliActor is the client id the audit log names for changes made with --data.
const cliActor = "engine-cli"

// storeAdmin changes the store of a stopped engine directly. It records the same audit
// events as the admin routes.
type storeAdmin struct {
	store       *persistence.Badger
	maxLifetime time.Duration
}

// openStoreAdmin opens DATA/badger, which must exist. A running engine holds it: the error
// then says to use that engine's admin API.
func openStoreAdmin(dataDir string, maxLifetime time.Duration) (*storeAdmin, error) {
	if maxLifetime <= 0 {
		return nil, fmt.Errorf("%w: --max-token-lifetime must be positive", errUsage)
	}
	dir := filepath.Join(dataDir, "badger")
	if info, err := os.Stat(dir); err != nil || !info.IsDir() {
		return nil, fmt.Errorf("no store in %s: --data names the data directory of an engine "+
			"that ran before", dataDir)
	}
	store, err := persistence.OpenBadger(persistence.BadgerOptions{Dir: dir,
		Retention: system.DefaultRetention})
	if errors.Is(err, persistence.ErrLocked) {
		return nil, fmt.Errorf("%w: %s: only that engine may change its store, so use its "+
			"admin API instead (drop --data; give --url and set %s)", errEngineRunning,
			dataDir, envAdminToken)
	}
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	return &storeAdmin{store: store, maxLifetime: maxLifetime}, nil
}

func (s *storeAdmin) audit(ev persistence.AuditEvent) error {
	if _, err := s.store.AppendAudit([]persistence.AuditEvent{ev}); err != nil {
		return fmt.Errorf("audit %s: %w", ev.Type, err)
	}
	return nil
}

func (s *storeAdmin) revoke(req transport.RevokeRequest) (transport.RevocationInfo, error) {
	now := time.Now().UTC()
	kind, value, err := req.Check(now)
	if err != nil {
		return transport.RevocationInfo{}, fmt.Errorf("%w: %v", errUsage, err)
	}
	until := req.ExpiresAt
	if until.IsZero() || until.After(now.Add(s.maxLifetime)) {
		until = now.Add(s.maxLifetime)
	}
	r := persistence.Revocation{Kind: kind, Value: value, At: now, Until: until.UTC()}
	if err := s.store.PutRevocation(r); err != nil {
		return transport.RevocationInfo{}, fmt.Errorf("store revocation: %w", err)
	}

	ev := persistence.AuditEvent{Type: persistence.AuditTokenRevoked, TokenID: value,
		Client: cliActor, Time: now}
	if kind == persistence.RevokeClient {
		ev = persistence.AuditEvent{Type: persistence.AuditClientRevoked, Client: value,
			Detail: "by " + cliActor, Time: now}
	}
	if err := s.audit(ev); err != nil {
		return transport.RevocationInfo{}, err
	}
	return transport.RevocationInfo{Kind: kind, Value: value, At: now, Until: r.Until}, nil
}

func (s *storeAdmin) createAPIKey(req transport.APIKeyRequest) (transport.NewAPIKeyResponse,
	error) {
	perms, err := req.Check()
	if err != nil {
		return transport.NewAPIKeyResponse{}, fmt.Errorf("%w: %v", errUsage, err)
	}
	key, id := persistence.NewAPIKey()
	rec := persistence.APIKey{ID: id, Client: req.Client, Perms: perms,
		Created: time.Now().UTC()}
	if err := s.store.PutAPIKey(rec, key.Hash()); err != nil {
		return transport.NewAPIKeyResponse{}, fmt.Errorf("store api key: %w", err)
	}
	err = s.audit(persistence.AuditEvent{Type: persistence.AuditAPIKeyCreated,
		Client: cliActor, KeyID: id,
		Detail: "for client " + req.Client + " with " + strings.Join(perms, ",")})
	if err != nil {
		return transport.NewAPIKeyResponse{}, err
	}
	return transport.NewAPIKeyResponse{ID: id, Key: key.Reveal(), Client: rec.Client,
		Perms: perms, Created: rec.Created}, nil
}

func (s *storeAdmin) apiKeys() ([]transport.APIKeyInfo, error) {
	keys, err := s.store.APIKeys()
	if err != nil {
		return nil, fmt.Errorf("list api keys: %w", err)
	}
	out := make([]transport.APIKeyInfo, len(keys))
	for i, k := range keys {
		out[i] = transport.APIKeyInfo{ID: k.ID, Client: k.Client, Perms: k.Perms,
			Created: k.Created, Revoked: k.Revoked, RevokedAt: k.RevokedAt}
	}
	return out, nil
}

func (s *storeAdmin) revokeAPIKey(id string) error {
	if err := s.store.RevokeAPIKey(id); err != nil {
		if errors.Is(err, persistence.ErrNotFound) ||
			errors.Is(err, persistence.ErrInvalidRecord) {
			return fmt.Errorf("no API key has id %.64q", id)
		}
		return fmt.Errorf("revoke api key: %w", err)
	}
	return s.audit(persistence.AuditEvent{Type: persistence.AuditAPIKeyRevoked,
		Client: cliActor, KeyID: id})
}

func (s *storeAdmin) close() error {
	if err := s.store.Close(); err != nil {
		return fmt.Errorf("close store: %w", err)
	}
	return nil
}
