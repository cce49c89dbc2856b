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
	lastSeq uint64
	subs    []subscriber
	index   map[string]int
}

// NewBroadcasterProps returns the broadcaster's props. lastSeq is the store's latest seq at
// start: alerts up to it are only in the store.
func NewBroadcasterProps(lastSeq uint64, stats *Stats, log *slog.Logger) *actor.Props {
	state := &fanout{lastSeq: lastSeq, index: map[string]int{}}
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
		b.log.Warn("broadcaster restarting", "subscribers", len(b.subs))
	}
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
		if e.Stored.Seq <= b.lastSeq {
			continue
		}
		b.lastSeq = e.Stored.Seq
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
		b.stats.AlertsPublished.Add(1)
		b.stats.Deliveries.Add(n)
	}
}
