package actors

import (
	"errors"
	"fmt"
	"time"

	"github.com/whalecast/whalecast/persistence"
)

// A webhook acts for its owner long after the call that created it, so the engine checks
// again, before each attempt, for each scan and every OwnerCheck, that the client, the
// token or the API key that created it is still trusted (WebhookDeps.OwnerValid). A webhook
// whose owner is not is suspended for good: the suspension is stored with the webhook, so
// that it outlives the revocation (which the engine forgets once every token it covers has
// expired) and a restart. Its outbox, dead letters and log are kept for its owner to read;
// nothing is posted any more, and the owner or an admin deletes it.

// webhookCheckOwners asks the actor to check every active webhook's owner.
type webhookCheckOwners struct{}

// webhookOwnersChecked is the result of a check of the owners.
type webhookOwnersChecked struct {
	suspended []suspension
	err       error // an owner that could not be checked, or a suspension not stored
}

// suspension is a webhook suspended, as stored.
type suspension struct {
	id     string
	at     time.Time
	reason string
}

// checkOwner checks the owner of w and, when it is no longer trusted, stores the
// suspension. It returns the suspension, or an error when the owner could not be checked or
// the suspension not stored; neither when the owner is trusted.
func checkOwner(deps WebhookDeps, w persistence.Webhook, now time.Time) (*suspension, error) {
	if deps.OwnerValid == nil {
		return nil, nil
	}
	err := deps.OwnerValid(w)
	var revoked *OwnerRevokedError
	switch {
	case err == nil:
		return nil, nil
	case !errors.As(err, &revoked):
		return nil, fmt.Errorf("check owner of webhook %s: %w", w.ID, err)
	}
	reason := revoked.Reason
	if len(reason) > persistence.MaxSuspendReason {
		reason = reason[:persistence.MaxSuspendReason]
	}
	if err := deps.Store.SuspendWebhook(w.ID, now, reason); err != nil {
		return nil, fmt.Errorf("suspend webhook %s: %w", w.ID, err)
	}
	return &suspension{id: w.ID, at: now.UTC(), reason: reason}, nil
}

// checkOwners checks every active webhook's owner on a goroutine, unless a check runs,
// and schedules the next check.
func (a *webhookActor) checkOwners() {
	if a.ctx.Err() != nil {
		return
	}
	root, self := a.root, a.self
	if a.checkTimer != nil {
		a.checkTimer.Stop() // after a restart of the actor, one chain of checks only
	}
	a.checkTimer = a.deps.Clock.AfterFunc(a.cfg.OwnerCheck, func() {
		root.Send(self, &webhookCheckOwners{})
	})
	if a.checking || a.deps.OwnerValid == nil {
		return
	}
	var hooks []persistence.Webhook
	for _, id := range a.order {
		if h := a.hooks[id]; !h.suspended() {
			hooks = append(hooks, h.hook)
		}
	}
	if len(hooks) == 0 {
		return
	}

	a.checking = true
	deps, now := a.deps, a.deps.Clock.Now()
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		res := &webhookOwnersChecked{}
		for _, w := range hooks {
			s, err := checkOwner(deps, w, now)
			if s != nil {
				res.suspended = append(res.suspended, *s)
			}
			res.err = errors.Join(res.err, err)
		}
		root.Send(self, res)
	}()
}

// ownersChecked applies a check's suspensions.
func (a *webhookActor) ownersChecked(msg *webhookOwnersChecked) {
	a.checking = false
	if msg.err != nil {
		a.log.Error("webhook owner check failed", "err", msg.err)
	}
	for _, s := range msg.suspended {
		a.suspend(s)
	}
}

// suspend stops delivering a webhook whose owner is no longer trusted. Its outbox stays as
// it is, in memory and in the store; attempts in flight finish.
func (a *webhookActor) suspend(s suspension) {
	h := a.hooks[s.id]
	if h == nil || h.suspended() {
		return
	}
	h.hook.Suspended, h.hook.SuspendReason = s.at, s.reason
	h.poster.CloseIdleConnections()
	a.log.Warn("webhook suspended", "webhook", h.hook, "reason", s.reason,
		"pending", h.pending())
}
