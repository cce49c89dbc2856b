package actors

import (
	"log/slog"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/whalecast/whalecast/internal/alert"
)

// subscriber is the broadcaster's record of a session: its PID, to tell it when its client
// fell behind, and its outlet, which takes the alerts.
type subscriber struct {
	pid *actor.PID
	out *outlet
}

// broadcaster fans published alerts out to subscribed sessions. It encodes each alert's frame
// once and hands the same bytes to every session's outlet.
//
// The outlets make the fan-out in-process: a session on another node would need an outlet
// that forwards, which the engine does not have (docs/architecture.md).
type broadcaster struct {
	stats *Stats
	log   *slog.Logger
	*fanout
}

// fanout is the broadcaster's state. It outlives a restart of the actor (the producer hands
// the same one to each incarnation; only one runs at a time), so a panic loses no subscriber.
// A session leaves by sending Unsubscribe when it stops. The broadcaster does not watch its
// subscribers: a watch would cost every idle session about 600 bytes of actor state.
type fanout struct {
	alerts  AlertReader
	lastSeq uint64
	subs    []subscriber
	index   map[string]int
	// failed is set when an incarnation fails; the next one catches up from the store.
	failed bool
	// paced is the store actor that asked to hear of each Published handled (ReplyTo).
	paced *actor.PID
}

// Bounds of the catch-up after a restart.
const (
	catchUpPage  = 256
	catchUpPages = 64
)

// NewBroadcasterProps returns the broadcaster's props. alerts is the store: its latest seq at
// start is where live delivery begins (older alerts are only in the store), and after a
// restart the broadcaster reads from it what the failed incarnation did not deliver.
func NewBroadcasterProps(alerts AlertReader, stats *Stats, log *slog.Logger) *actor.Props {
	state := &fanout{alerts: alerts, lastSeq: alerts.LastSeq(), index: map[string]int{}}
	return actor.PropsFromProducer(func() actor.Actor {
		return &broadcaster{stats: stats, log: log, fanout: state}
	})
}

// Receive implements actor.Actor.
func (b *broadcaster) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *Subscribe:
		b.subscribe(ctx, msg)
	case *Published:
		b.publish(ctx, msg)
	case *Unsubscribe:
		b.remove(msg.Session)
	case *Flush:
		ctx.Respond(&Flushed{})
	case *actor.Restarting:
		b.failed = true
		b.log.Warn("broadcaster restarting", "subscribers", len(b.subs))
	case *actor.Started:
		if b.failed {
			b.failed = false
			b.catchUp(ctx)
		}
	}
}

// catchUp offers the stored records above lastSeq. After a failure they are those of the
// batch the failed incarnation was handling, which protoactor does not hand to the next
// one; outlets skip what a client already has, so a batch half delivered is finished, not
// repeated. Records published later are skipped when their Published comes. The catch-up is
// bounded: past it, clients see a jump in seqs and resume with since.
func (b *broadcaster) catchUp(ctx actor.Context) {
	for range catchUpPages {
		page, err := b.alerts.Range(b.lastSeq, catchUpPage)
		if err != nil {
			b.log.Error("broadcaster catch-up failed", "after", b.lastSeq, "err", err)
			return
		}
		if len(page) == 0 {
			if b.paced != nil {
				ctx.Send(b.paced, &Offered{Seq: b.lastSeq})
			}
			return
		}
		for _, st := range page {
			b.offer(ctx, Entry{Stored: st, Meta: MetaOf(st)})
		}
		b.log.Info("broadcaster caught up", "records", len(page), "last_seq", b.lastSeq)
	}
	b.log.Warn("broadcaster catch-up cut short", "last_seq", b.lastSeq,
		"limit", catchUpPage*catchUpPages)
}

func (b *broadcaster) subscribe(ctx actor.Context, m *Subscribe) {
	if m.outlet == nil {
		b.log.Error("broadcaster: subscribe without an outlet", "session", m.Session.Id)
		return
	}
	sub := subscriber{pid: m.Session, out: m.outlet}
	if i, ok := b.index[m.Session.Id]; ok {
		b.subs[i] = sub
	} else {
		b.index[m.Session.Id] = len(b.subs)
		b.subs = append(b.subs, sub)
	}
	ctx.Send(m.Session, &SubscribeAck{LastSeq: b.lastSeq})
}

// remove deletes a subscriber in O(1) by moving the last one into its place.
func (b *broadcaster) remove(pid *actor.PID) {
	i, ok := b.index[pid.Id]
	if !ok {
		return
	}
	last := len(b.subs) - 1
	if i != last {
		b.subs[i] = b.subs[last]
		b.index[b.subs[i].pid.Id] = i
	}
	b.subs[last] = subscriber{}
	b.subs = b.subs[:last]
	delete(b.index, pid.Id)
}

func (b *broadcaster) publish(ctx actor.Context, m *Published) {
	for _, e := range m.Entries {
		if e.Stored.Seq > b.lastSeq {
			b.offer(ctx, e)
		}
	}
	if m.ReplyTo != nil {
		b.paced = m.ReplyTo
		ctx.Send(m.ReplyTo, &Offered{Seq: b.lastSeq})
	}
}

// offer hands one record to every subscriber. lastSeq moves past it only once every
// subscriber had it, so that a failure half way leaves it to the catch-up.
func (b *broadcaster) offer(ctx actor.Context, e Entry) {
	d := &delivery{seq: e.Stored.Seq, frame: alert.Frame(e.Stored), meta: e.Meta}
	n := int64(0)
	for _, s := range b.subs {
		switch s.out.offer(d) {
		case offerQueued:
			n++
		case offerRefused:
			ctx.Send(s.pid, &deliveryRefused{})
		}
	}
	b.lastSeq = e.Stored.Seq
	b.stats.AlertsPublished.Add(1)
	b.stats.Deliveries.Add(n)
}
