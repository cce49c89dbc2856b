package actors

import (
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/whalecast/whalecast/persistence"
)

// AuditLog is where the audit actor writes; persistence.SecurityStore implements it.
type AuditLog interface {
	AppendAudit(events []persistence.AuditEvent) ([]persistence.AuditEvent, error)
}

// Auditor receives security events from sessions and the HTTP layer. The system implements
// it: it forwards each event to the audit actor and feeds auth failures to the IP guard.
type Auditor interface {
	Audit(ev persistence.AuditEvent)
}

// AuditFunc adapts a function to Auditor.
type AuditFunc func(ev persistence.AuditEvent)

// Audit implements Auditor.
func (f AuditFunc) Audit(ev persistence.AuditEvent) { f(ev) }

// Audit asks the audit actor to append one event.
type Audit struct {
	Event persistence.AuditEvent
}

// MaxAuditPending bounds the events waiting for the next audit write. An auth-failure
// flood is cut by the IP ban long before; past the bound events are counted and dropped.
const MaxAuditPending = 4096

// auditActor is the single writer of the audit log, with the store actor's group commit:
// while one batch is being fsynced, events queue and the next write takes them all.
type auditActor struct {
	log   AuditLog
	stats *Stats
	slog  *slog.Logger
	*auditState
}

type auditState struct {
	pending  []persistence.AuditEvent
	writing  bool
	lastDrop time.Time
	wg       sync.WaitGroup
}

type auditDone struct {
	size int
	err  error
}

// NewAuditProps returns the audit actor's props.
func NewAuditProps(log AuditLog, stats *Stats, logger *slog.Logger) *actor.Props {
	state := &auditState{}
	return actor.PropsFromProducer(func() actor.Actor {
		return &auditActor{log: log, stats: stats, slog: logger, auditState: state}
	})
}

// Receive implements actor.Actor.
func (a *auditActor) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *Audit:
		a.enqueue(ctx, msg.Event)
	case *auditDone:
		a.done(ctx, msg)
	case *actor.Stopping:
		a.wg.Wait()
		for len(a.pending) > 0 {
			a.write(a.take())
		}
	}
}

func (a *auditActor) enqueue(ctx actor.Context, ev persistence.AuditEvent) {
	if len(a.pending) >= MaxAuditPending {
		a.stats.AuditDropped.Add(1)
		if now := time.Now(); now.Sub(a.lastDrop) > time.Second {
			a.lastDrop = now
			a.slog.Error("audit events dropped: queue full", "pending", len(a.pending),
				"dropped_total", a.stats.AuditDropped.Load())
		}
		return
	}
	if ev.Time.IsZero() {
		ev.Time = time.Now().UTC()
	}
	a.pending = append(a.pending, persistence.RedactAuditEvent(ev))
	if !a.writing {
		a.flush(ctx)
	}
}

func (a *auditActor) take() []persistence.AuditEvent {
	n := min(len(a.pending), persistence.MaxAuditBatch)
	batch := a.pending[:n:n]
	a.pending = a.pending[n:]
	if len(a.pending) == 0 {
		a.pending = nil
	}
	return batch
}

func (a *auditActor) flush(ctx actor.Context) {
	batch := a.take()
	a.writing = true
	self, root := ctx.Self(), ctx.ActorSystem().Root
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		root.Send(self, &auditDone{size: len(batch), err: a.write(batch)})
	}()
}

// write appends a batch; a failure is counted and logged, never silent.
func (a *auditActor) write(batch []persistence.AuditEvent) error {
	_, err := a.log.AppendAudit(batch)
	if err != nil {
		a.stats.AuditDropped.Add(int64(len(batch)))
		a.slog.Error("audit write failed", "err", err, "events", len(batch),
			"refused", errors.Is(err, persistence.ErrInvalidBatch))
	}
	return err
}

func (a *auditActor) done(ctx actor.Context, d *auditDone) {
	a.writing = false
	if d.err == nil {
		a.stats.AuditWritten.Add(int64(d.size))
	}
	if len(a.pending) > 0 {
		a.flush(ctx)
	}
}
