package system

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/whalecast/whalecast/actors"
	"github.com/whalecast/whalecast/internal/auth"
	"github.com/whalecast/whalecast/internal/clock"
	"github.com/whalecast/whalecast/internal/notify"
	"github.com/whalecast/whalecast/persistence"
)

// maxWebhookAge bounds --webhook-max-age: a week of retries.
const maxWebhookAge = 7 * 24 * time.Hour

// webhookCallTimeout bounds a REST call's wait for the webhook actor.
const webhookCallTimeout = 10 * time.Second

// apiKeysFresh is how long webhookOwners trusts its list of revoked API keys.
const apiKeysFresh = 500 * time.Millisecond

// WebhooksConfig sets up customer webhooks (docs/webhooks.md). Every zero field takes the
// default of actors.WebhookConfig.
type WebhooksConfig struct {
	// AllowCIDRs lists the ranges webhooks may reach although they are loopback, private,
	// link-local, CGNAT, cloud metadata or otherwise blocked (--webhook-allow-cidr,
	// repeatable): CIDRs or single addresses.
	AllowCIDRs []string
	// Timeout bounds one attempt (--webhook-timeout, default 5 s, at most 60 s).
	Timeout time.Duration
	// MinBackoff and MaxBackoff shape the retries (--webhook-min-backoff, default 5 s;
	// --webhook-max-backoff, default 1 h).
	MinBackoff, MaxBackoff time.Duration
	// MaxAge is how long a delivery is retried before it becomes a dead letter
	// (--webhook-max-age, default 24 h, at most 7 days).
	MaxAge time.Duration
	// Concurrency bounds the attempts in flight per webhook (--webhook-concurrency,
	// default 4, at most 64).
	Concurrency int
	// MaxPending bounds each webhook's outbox (--webhook-max-pending, default 1000, at
	// most 100000).
	MaxPending int
	// MaxWebhooks bounds the webhooks of the engine (--webhooks-max, default 100, at most
	// 10000) and MaxPerClient those of one client (--webhooks-per-client, default 10).
	MaxWebhooks, MaxPerClient int
}

// validate checks the bounds; allowList parses the CIDRs.
func (c WebhooksConfig) validate() error {
	if _, err := c.allowList(); err != nil {
		return err
	}
	for _, f := range []struct {
		flag     string
		val, top time.Duration
	}{
		{"--webhook-timeout", c.Timeout, time.Minute},
		{"--webhook-min-backoff", c.MinBackoff, maxWebhookAge},
		{"--webhook-max-backoff", c.MaxBackoff, maxWebhookAge},
		{"--webhook-max-age", c.MaxAge, maxWebhookAge},
	} {
		if f.val < 0 || f.val > f.top {
			return fmt.Errorf("%w: %s %v is outside 0..%v", ErrConfig, f.flag, f.val, f.top)
		}
	}
	for _, f := range []struct {
		flag     string
		val, top int
	}{
		{"--webhook-concurrency", c.Concurrency, 64},
		{"--webhook-max-pending", c.MaxPending, 100_000},
		{"--webhooks-max", c.MaxWebhooks, 10_000},
		{"--webhooks-per-client", c.MaxPerClient, 10_000},
	} {
		if f.val < 0 || f.val > f.top {
			return fmt.Errorf("%w: %s %d is outside 0..%d", ErrConfig, f.flag, f.val, f.top)
		}
	}
	if _, err := c.actorConfig(nil); err != nil {
		return fmt.Errorf("%w: webhooks: %v", ErrConfig, err)
	}
	return nil
}

// allowList parses AllowCIDRs.
func (c WebhooksConfig) allowList() ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(c.AllowCIDRs))
	for _, s := range c.AllowCIDRs {
		p, err := notify.ParseCIDR(s)
		if err != nil {
			return nil, fmt.Errorf("%w: --webhook-allow-cidr %q: want an address or a CIDR",
				ErrConfig, s)
		}
		out = append(out, p)
	}
	return out, nil
}

// actorConfig returns the webhook actor's configuration, with a guard over the allow-list
// that resolves names through resolver (nil: the system's resolver).
func (c WebhooksConfig) actorConfig(resolver notify.Resolver) (actors.WebhookConfig, error) {
	if c.Timeout > 0 && c.Timeout < time.Millisecond {
		return actors.WebhookConfig{}, errors.New("--webhook-timeout is under 1ms")
	}
	allow, err := c.allowList()
	if err != nil {
		return actors.WebhookConfig{}, err
	}
	guard, err := notify.NewGuard(notify.GuardConfig{Allow: allow, Resolver: resolver})
	if err != nil {
		return actors.WebhookConfig{}, fmt.Errorf("system: webhook guard: %w", err)
	}
	cfg := actors.WebhookConfig{Timeout: c.Timeout, MinBackoff: c.MinBackoff,
		MaxBackoff: c.MaxBackoff, MaxAge: c.MaxAge, Concurrency: c.Concurrency,
		MaxPending: c.MaxPending, MaxWebhooks: c.MaxWebhooks, MaxPerOwner: c.MaxPerClient,
		Guard: guard}
	if cfg.MinBackoff > 0 && cfg.MaxBackoff == 0 {
		cfg.MaxBackoff = max(cfg.MinBackoff, actors.DefaultWebhookMaxBackoff)
	}
	if cfg.MaxBackoff > 0 && cfg.MinBackoff == 0 {
		cfg.MinBackoff = min(cfg.MaxBackoff, actors.DefaultWebhookMinBackoff)
	}
	if cfg.MaxBackoff > 0 && cfg.MaxBackoff < cfg.MinBackoff {
		return cfg, fmt.Errorf("--webhook-max-backoff %v is below --webhook-min-backoff %v",
			cfg.MaxBackoff, cfg.MinBackoff)
	}
	return cfg, nil
}

// LogValue describes the webhook setup.
func (c WebhooksConfig) LogValue() slog.Value {
	return slog.GroupValue(
		slog.Int("allow_cidrs", len(c.AllowCIDRs)),
		slog.Duration("max_age", c.MaxAge),
		slog.Int("max_pending", c.MaxPending))
}

// webhookProps returns the webhook actor's props for the tree.
func webhookProps(tc treeConfig) (*actor.Props, error) {
	cfg, err := tc.cfg.Webhooks.actorConfig(nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	cfg.Detectors = tc.session.Detectors
	deps := actors.WebhookDeps{Config: cfg, Store: tc.store, Records: tc.store,
		Clock: tc.clock, Logger: tc.log.With("actor", "webhooks"), Stats: tc.stats}
	if tc.access != nil {
		owners := &webhookOwners{revoked: tc.access.revocations.Revoked,
			keys: tc.access.store, clock: tc.clock}
		deps.OwnerValid = owners.valid
	}
	return actors.NewWebhookProps(deps)
}

// webhookOwners tells the webhook actor whether the credential that created a webhook is
// still trusted (actors.WebhookDeps.OwnerValid): its owner's client was not revoked after
// it was created, nor the token (by jti) or the API key that created it. A token's expiry
// does not count: a webhook belongs to its client, and outlives the token that created it.
// It is safe for concurrent use.
type webhookOwners struct {
	revoked func(auth.Claims) bool // the verifier's revocation set
	keys    persistence.SecurityStore
	clock   clock.Clock

	mu          sync.Mutex
	revokedKeys map[string]bool // API key id → revoked, as read at readAt
	readAt      time.Time
}

// valid implements actors.WebhookDeps.OwnerValid.
func (o *webhookOwners) valid(w persistence.Webhook) error {
	// A client revocation covers what was made at or before it: the same rule as a
	// token's iat, with the webhook's creation time.
	if o.revoked(auth.Claims{Subject: w.Owner, IssuedAt: w.Created}) {
		return &actors.OwnerRevokedError{Reason: "the owner's client was revoked"}
	}
	if w.TokenID != "" && o.revoked(auth.Claims{ID: w.TokenID, IssuedAt: w.Created}) {
		return &actors.OwnerRevokedError{Reason: "the token that created it was revoked"}
	}
	if w.APIKeyID == "" {
		return nil
	}
	revoked, err := o.keyRevoked(w.APIKeyID)
	switch {
	case err != nil:
		return err
	case revoked:
		return &actors.OwnerRevokedError{Reason: "the API key that created it was revoked"}
	}
	return nil
}

// keyRevoked reports whether the API key id is revoked, or unknown (a key is never
// deleted, so an unknown id cannot be trusted), from a list at most apiKeysFresh old.
func (o *webhookOwners) keyRevoked(id string) (bool, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	now := o.clock.Now()
	if o.revokedKeys == nil || now.Sub(o.readAt) >= apiKeysFresh || now.Before(o.readAt) {
		keys, err := o.keys.APIKeys()
		if err != nil {
			return false, fmt.Errorf("system: read api keys: %w", err)
		}
		o.revokedKeys = make(map[string]bool, len(keys))
		for _, k := range keys {
			o.revokedKeys[k.ID] = k.Revoked
		}
		o.readAt = now
	}
	revoked, known := o.revokedKeys[id]
	return revoked || !known, nil
}

// webhookAPI serves the /api/v1/webhooks routes: changes go through the webhook actor,
// which owns the outboxes; reads go to the store.
type webhookAPI struct {
	persistence.WebhookStore
	root *actor.RootContext
	pid  *actor.PID
}

// request asks the webhook actor and waits for its answer within ctx and
// webhookCallTimeout.
func (w *webhookAPI) request(ctx context.Context, msg any) (any, error) {
	wait := webhookCallTimeout
	if d, ok := ctx.Deadline(); ok {
		wait = min(wait, time.Until(d))
	}
	res, err := w.root.RequestFuture(w.pid, msg, max(wait, time.Millisecond)).Result()
	if err != nil {
		return nil, fmt.Errorf("system: webhooks: %w: %w", actors.ErrWebhooksStopped, err)
	}
	return res, nil
}

// Create implements transport.Webhooks.
func (w *webhookAPI) Create(ctx context.Context, owner actors.WebhookOwner,
	spec actors.WebhookSpec) (
	persistence.Webhook, error) {
	res, err := w.request(ctx, &actors.CreateWebhook{Owner: owner, Spec: spec})
	if err != nil {
		return persistence.Webhook{}, err
	}
	created, ok := res.(*actors.WebhookCreated)
	if !ok {
		return persistence.Webhook{}, fmt.Errorf("system: webhooks answered %T", res)
	}
	return created.Webhook, created.Err
}

// Delete implements transport.Webhooks.
func (w *webhookAPI) Delete(ctx context.Context, id string) error {
	res, err := w.request(ctx, &actors.DeleteWebhook{ID: id})
	if err != nil {
		return err
	}
	deleted, ok := res.(*actors.WebhookDeleted)
	if !ok {
		return fmt.Errorf("system: webhooks answered %T", res)
	}
	return deleted.Err
}

// Replay implements transport.Webhooks.
func (w *webhookAPI) Replay(ctx context.Context, id string, seqs []uint64) ([]uint64, error) {
	res, err := w.request(ctx, &actors.ReplayDeadLetters{ID: id, Seqs: seqs})
	if err != nil {
		return nil, err
	}
	replayed, ok := res.(*actors.DeadLettersReplayed)
	if !ok {
		return nil, errors.New("system: webhooks answered an unknown message")
	}
	return replayed.Seqs, replayed.Err
}
