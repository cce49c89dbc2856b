package actors

import (
	"log/slog"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/whalecast/whalecast/internal/alert"
	"github.com/whalecast/whalecast/internal/clock"
)

// DefaultTrackerTick is how often the tracker decides removals whose grace ended.
const DefaultTrackerTick = time.Second

// TrackerConfig sets up the tracker actor.
type TrackerConfig struct {
	Lifecycle LifecycleConfig
	// Tick is the period of the grace checks (default DefaultTrackerTick).
	Tick time.Duration
	// States reloads the stored tracker states at start (persistence.Store.States); nil
	// starts empty.
	States func(fn func(txid string, state []byte) error) error
	// Outcomes receives a *Settled for every alert whose outcome is final; nil for none.
	Outcomes *actor.PID
	// AlertSeq looks a txid up in the store's index (persistence.Store.AlertSeq), so that
	// an alert raised again after a restart, whose outcome settled before it, is not
	// followed a second time; nil skips the check.
	AlertSeq func(txid string) (uint64, bool, error)
}

// Settled reports the final outcome of an alert, K blocks after it was decided.
type Settled struct {
	TxID    string
	Outcome alert.Status
	At      time.Time
}

// tracker follows alerted transactions: it turns the detector's observations and the feed's
// chain events into alerts and alert updates for the store, in the feed's order. New
// alerts and their updates go through the same store queue, so an update never gets a seq
// below its alert's.
type tracker struct {
	cfg   TrackerConfig
	store *actor.PID
	clock clock.Clock
	stats *Stats
	log   *slog.Logger
	*trackerState
}

// trackerState outlives a restart of the actor.
type trackerState struct {
	lc     *Lifecycle
	loaded bool
	gen    uint64
}

type trackerTick struct{ gen uint64 }

// NewTrackerProps returns the tracker's props; store receives the records to persist.
func NewTrackerProps(cfg TrackerConfig, store *actor.PID, clk clock.Clock, stats *Stats,
	log *slog.Logger) *actor.Props {
	if cfg.Tick <= 0 {
		cfg.Tick = DefaultTrackerTick
	}
	state := &trackerState{lc: NewLifecycle(cfg.Lifecycle)}
	return actor.PropsFromProducer(func() actor.Actor {
		return &tracker{cfg: cfg, store: store, clock: clk, stats: stats, log: log,
			trackerState: state}
	})
}

// Receive implements actor.Actor.
func (t *tracker) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		t.load()
		t.schedule(ctx)
	case *Observed:
		t.observe(ctx, msg)
	case *ChainEvent:
		t.onEvent(ctx, msg)
	case *trackerTick:
		if msg.gen == t.gen {
			t.emit(ctx, t.lc.Tick(t.clock.Now()), nil)
			t.schedule(ctx)
		}
	case *actor.Restarting:
		t.log.Warn("tracker restarting", "tracked", t.lc.Tracked())
	}
}

// load restores the stored states once per engine run (not again after a restart of the
// actor, whose state survived).
func (t *tracker) load() {
	if t.loaded || t.cfg.States == nil {
		return
	}
	t.loaded = true
	bad := 0
	err := t.cfg.States(func(txid string, state []byte) error {
		if err := t.lc.Restore(state); err != nil {
			bad++
			t.log.Warn("tracker state skipped", "txid", txid, "err", err)
		}
		return nil
	})
	if err != nil {
		t.log.Error("tracker states not loaded", "err", err)
	}
	t.publishStats()
	t.log.Info("tracker loaded", "tracked", t.lc.Tracked(), "skipped", bad, "tip", t.lc.Tip())
}

func (t *tracker) schedule(ctx actor.Context) {
	t.gen++
	gen, self, root := t.gen, ctx.Self(), ctx.ActorSystem().Root
	t.clock.AfterFunc(t.cfg.Tick, func() { root.Send(self, &trackerTick{gen: gen}) })
}

// observe handles one decoded transaction: changes it causes to followed alerts first, then
// its own alert if it is a new whale.
func (t *tracker) observe(ctx actor.Context, m *Observed) {
	now := t.clock.Now()
	changes := t.lc.Observe(m.Msg, m.Summary.TxID, now)
	var records []alert.Record
	for _, c := range changes {
		records = append(records, recordOf(c))
	}
	if m.Alert != nil && !t.storedBefore(m.Alert.TxID) {
		if state, ok := t.lc.Track(*m.Alert, m.Msg); ok {
			records = append(records, alert.Record{Alert: m.Alert, State: state})
		} else {
			t.stats.DuplicateTxs.Add(1)
		}
	}
	t.send(ctx, records, m.AckTo)
	t.settled(ctx, changes)
}

// storedBefore reports whether an alert not followed now was stored by an earlier run (its
// outcome settled, so the lifecycle forgot it): raising it again would only be skipped by the
// store, and following it again would send updates after its final one. A failed lookup
// counts as new: the alert goes to the store, which skips a repeat itself; at worst a
// repeat is followed again.
func (t *tracker) storedBefore(txid string) bool {
	if t.cfg.AlertSeq == nil {
		return false
	}
	if _, followed := t.lc.Status(txid); followed {
		return false
	}
	_, ok, err := t.cfg.AlertSeq(txid)
	if err != nil {
		t.log.Error("tracker: txid lookup failed", "txid", txid, "err", err)
		return false
	}
	if ok {
		t.stats.DuplicateTxs.Add(1)
	}
	return ok
}

func (t *tracker) onEvent(ctx actor.Context, e *ChainEvent) {
	now := t.clock.Now()
	var changes []Change
	switch e.Kind {
	case BlockConnected:
		if e.Block == nil {
			break
		}
		t.stats.BlocksConnected.Add(1)
		changes = t.lc.Connect(e.Block, e.Hash, e.Height, now)
	case BlockDisconnected:
		known := t.lc.Connected(e.Hash)
		changes = t.lc.Disconnect(e.Hash, now)
		if known || len(changes) > 0 {
			// A disconnection of a block never seen (a node's noise, or an old one) is
			// neither counted nor logged: a flood of them must not flood the log.
			t.stats.BlocksDisconnected.Add(1)
			t.log.Warn("block disconnected", "block", e.Hash.String(), "updates", len(changes))
		}
	case TxRemoved:
		t.lc.Removed(e.TxID, now)
	case MempoolSnapshot:
		changes = t.lc.MempoolSnapshot(e.Mempool, now)
	}
	t.emit(ctx, changes, e.AckTo)
}

// emit sends the changes to the store; ackTo is acknowledged once they are durable.
func (t *tracker) emit(ctx actor.Context, changes []Change, ackTo *actor.PID) {
	records := make([]alert.Record, len(changes))
	for i, c := range changes {
		records[i] = recordOf(c)
	}
	t.send(ctx, records, ackTo)
	t.settled(ctx, changes)
}

// send hands records to the store in order; the last one carries the acknowledgement, or
// ackTo is acknowledged at once when there is nothing to store.
func (t *tracker) send(ctx actor.Context, records []alert.Record, ackTo *actor.PID) {
	for i, r := range records {
		c := &Candidate{Record: r}
		if i == len(records)-1 {
			c.AckTo = ackTo
		}
		ctx.Send(t.store, c)
	}
	if len(records) == 0 && ackTo != nil {
		ctx.Send(ackTo, &Processed{N: 1})
	}
	t.publishStats()
}

// settled reports final outcomes to the accuracy monitor.
func (t *tracker) settled(ctx actor.Context, changes []Change) {
	for _, c := range changes {
		if c.Outcome == "" {
			continue
		}
		t.stats.AlertsSettled.Add(1)
		if t.cfg.Outcomes != nil {
			ctx.Send(t.cfg.Outcomes, &Settled{TxID: c.Update.TxID, Outcome: c.Outcome,
				At: c.Update.At})
		}
	}
}

func (t *tracker) publishStats() {
	t.stats.Tracked.Store(int64(t.lc.Tracked()))
	t.stats.ChainTip.Store(t.lc.Tip())
}

// recordOf turns a lifecycle change into the record the store persists.
func recordOf(c Change) alert.Record {
	u := c.Update
	return alert.Record{Update: &u, State: c.State, ForgetState: c.Forget}
}
