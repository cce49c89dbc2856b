package actors

import (
	"log/slog"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/whalecast/whalecast/internal/alert"
	"github.com/whalecast/whalecast/internal/bitcoin"
)

// DefaultSeenTxs is how many recent txids the detector remembers to alert each one once.
// The store's txid index catches any older repeat.
const DefaultSeenTxs = 100_000

// detector decodes transactions and applies its rules. It hands every decoded transaction to
// the tracker (which follows alerts through the mempool and the chain), each whale flagged
// once, and forwards chain events behind the transactions that preceded them.
type detector struct {
	rules   []Rule
	tracker *actor.PID
	stats   *Stats
	log     *slog.Logger
	seen    *seenSet

	// current is the transaction being handled. If handling it panics, the failed instance
	// still acknowledges it when told it restarts or stops, so the source loses no credit.
	current *Tx
}

// NewDetectorProps returns the detector's props. The set of seen txids outlives restarts.
func NewDetectorProps(rules []Rule, tracker *actor.PID, stats *Stats,
	log *slog.Logger) *actor.Props {
	seen := newSeenSet(DefaultSeenTxs)
	return actor.PropsFromProducer(func() actor.Actor {
		return &detector{rules: rules, tracker: tracker, stats: stats, log: log, seen: seen}
	})
}

// Receive implements actor.Actor.
func (d *detector) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *Tx:
		d.detect(ctx, msg)
	case *ChainEvent:
		ctx.Send(d.tracker, msg)
	case *actor.Restarting:
		d.log.Warn("detector restarting")
		d.release(ctx)
	case *actor.Stopping:
		d.release(ctx)
	}
}

func (d *detector) release(ctx actor.Context) {
	if m := d.current; m != nil && m.ReplyTo != nil {
		ctx.Send(m.ReplyTo, &Processed{N: 1})
	}
	d.current = nil
}

// detect handles one transaction. A transaction that does not decode is acknowledged to the
// source at once; every other goes to the tracker, which acknowledges it (for a whale, once
// the alert is durable).
func (d *detector) detect(ctx actor.Context, m *Tx) {
	d.stats.TxsReceived.Add(1)
	d.stats.txSeen(m.SeenAt)
	d.current = m
	obs, ok := d.observe(m)
	d.current = nil
	if !ok {
		if m.ReplyTo != nil {
			ctx.Send(m.ReplyTo, &Processed{N: 1})
		}
		return
	}
	if obs.Alert != nil {
		d.stats.AlertsDetected.Add(1)
	}
	ctx.Send(d.tracker, obs)
}

// observe decodes the transaction and applies the rules; the alert is set if a rule matches
// and the txid was not alerted yet.
func (d *detector) observe(m *Tx) (*Observed, bool) {
	tx := m.Msg
	if tx == nil {
		var err error
		if tx, err = bitcoin.DecodeTx(m.Raw); err != nil {
			d.stats.TxDecodeErrors.Add(1)
			d.log.Warn("transaction rejected", "err", err, "bytes", len(m.Raw))
			return nil, false
		}
	}
	sum := bitcoin.Summarize(tx)
	obs := &Observed{Msg: tx, Summary: sum, AckTo: m.ReplyTo}
	a, ok := d.match(Transaction{Msg: tx, Summary: sum, Fee: m.Fee}, m.SeenAt)
	if !ok {
		return obs, true
	}
	if !d.seen.add(sum.TxID) {
		d.stats.DuplicateTxs.Add(1)
		return obs, true
	}
	obs.Alert = &a
	return obs, true
}

// match returns the alert of the first rule that matches.
func (d *detector) match(tx Transaction, seenAt time.Time) (alert.Alert, bool) {
	for _, r := range d.rules {
		if o, ok := r.(Observer); ok {
			o.Observe(tx)
		}
	}
	r, ok := FirstMatch(d.rules, tx)
	if !ok {
		return alert.Alert{}, false
	}
	sum := tx.Summary
	a := alert.Alert{
		TxID:             sum.TxID,
		ValueSat:         sum.ValueSat,
		Outputs:          sum.Outputs,
		LargestOutputSat: sum.LargestOutputSat,
		VSize:            sum.VSize,
		RBF:              sum.RBF,
		FirstSeen:        seenAt.UTC(),
		Detector:         r.Name(),
		Status:           alert.StatusMempool,
	}
	if f := tx.Fee; f != nil {
		sat, rate := f.Sat, f.Rate()
		a.FeeSat, a.FeeRate = &sat, &rate
	}
	return a, true
}

// seenSet remembers the last n txids in insertion order.
type seenSet struct {
	ids  map[string]struct{}
	ring []string
	next int
}

func newSeenSet(n int) *seenSet {
	return &seenSet{ids: map[string]struct{}{}, ring: make([]string, n)}
}

// add records id and reports whether it was new.
func (s *seenSet) add(id string) bool {
	if _, ok := s.ids[id]; ok {
		return false
	}
	if old := s.ring[s.next]; old != "" {
		delete(s.ids, old)
	}
	s.ring[s.next] = id
	s.ids[id] = struct{}{}
	s.next = (s.next + 1) % len(s.ring)
	return true
}
