package system

import (
	"context"
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/whalecast/whalecast/actors"
	"github.com/whalecast/whalecast/internal/alert"
)

// maxPublishWait bounds a publish call's wait for the store when its context has no
// deadline.
const maxPublishWait = 10 * time.Second

// publisher serves POST /api/v1/admin/publish: it hands synthetic alerts to the store actor,
// which numbers, persists and broadcasts them like detected ones, and waits for their seqs.
type publisher struct {
	root  *actor.RootContext
	store *actor.PID
}

// Publish implements transport.Publisher.
func (p *publisher) Publish(ctx context.Context, alerts []alert.Alert) ([]uint64, error) {
	wait := maxPublishWait
	if d, ok := ctx.Deadline(); ok {
		wait = min(wait, time.Until(d))
	}
	if wait <= 0 {
		return nil, fmt.Errorf("system: publish %d alerts: %w", len(alerts),
			context.DeadlineExceeded)
	}
	req := &actors.Inject{Records: alert.AlertRecords(alerts)}
	res, err := p.root.RequestFuture(p.store, req, wait).Result()
	if err != nil {
		return nil, fmt.Errorf("system: publish %d alerts: %w", len(alerts), err)
	}
	in, ok := res.(*actors.Injected)
	if !ok || len(in.Seqs) != len(alerts) {
		return nil, fmt.Errorf("system: publish %d alerts: the store answered %T",
			len(alerts), res)
	}
	return in.Seqs, nil
}
