package actors

import (
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/whalecast/whalecast/internal/alert"
	"github.com/whalecast/whalecast/persistence"
)

// AlertStore is the persistence the store actor writes through; persistence.Store
// implements it.
type AlertStore interface {
	AlertReader
	// Append durably persists a batch and numbers it densely; see persistence.Store.
	Append(batch []alert.Record) ([]alert.Stored, error)
	// LastSeq is the highest seq assigned so far.
	LastSeq() uint64
	// Health is nil while writes work.
	Health() error
}

// MaxStorePending bounds the alerts waiting for the next group commit. The source's in-flight
// window keeps the queue far below it; reaching it means the disk stalled.
const MaxStorePending = 65536

// MaxBroadcastLag bounds the records stored but not yet handed to the sessions: past it the
// store writes no further batch until the broadcaster catches up (Offered). The sources
// and publish calls then wait for their acknowledgements, so a fan-out slower than the
// ingest slows the ingest instead of filling the broadcaster's mailbox.
const MaxBroadcastLag = 4096

// storeActor is the single writer of alerts. It commits in groups: while one batch is being
// written and synced, new candidates queue, and the next batch takes them all. Only after a
// batch is durable does it go to the broadcaster, so nobody sees an alert a crash could lose.
type storeActor struct {
	store       AlertStore
	broadcaster *actor.PID
	webhooks    *actor.PID // also gets each Published when set
	stats       *Stats
	log         *slog.Logger
	*commitState
}

// commitState outlives a restart of the store actor so that queued alerts survive it.
type commitState struct {
	pending  []Candidate
	writing  bool
	failed   bool
	singles  int // how many of the next batches hold one alert (see take)
	stopping bool
	lastLoss time.Time
	wg       sync.WaitGroup
	// inflight is the result of the last write until the actor handles it, so that a
	// result sent to a stopping actor (and dropped) is still counted and published by drain.
	inflight atomic.Pointer[batchDone]
	// published is the last seq sent to the broadcaster, offered the last it handed out.
	published uint64
	offered   uint64
}

type batchDone struct {
	stored []alert.Stored
	batch  []Candidate
	err    error
}

// NewStoreProps returns the store actor's props.
func NewStoreProps(store AlertStore, broadcaster *actor.PID, stats *Stats,
	log *slog.Logger) *actor.Props {
	return NewStorePropsWithWebhooks(store, broadcaster, nil, stats, log)
}

// NewStorePropsWithWebhooks is NewStoreProps whose store also sends each Published to the
// webhook actor, when webhooks is not nil.
func NewStorePropsWithWebhooks(store AlertStore, broadcaster, webhooks *actor.PID,
	stats *Stats, log *slog.Logger) *actor.Props {
	last := store.LastSeq()
	state := &commitState{published: last, offered: last}
	stats.watchStore(store)
	return actor.PropsFromProducer(func() actor.Actor {
		return &storeActor{store: store, broadcaster: broadcaster, webhooks: webhooks,
			stats: stats, log: log, commitState: state}
	})
}

// Receive implements actor.Actor.
func (s *storeActor) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *Candidate:
		s.enqueue(ctx, *msg)
	case *Inject:
		s.inject(ctx, msg)
	case *batchDone:
		s.done(ctx, msg)
	case *Offered:
		s.offered = max(s.offered, msg.Seq)
		s.flushIfReady(ctx)
	case *actor.Stopping:
		s.drain(ctx)
	}
	s.reportQueues()
}

func (s *storeActor) enqueue(ctx actor.Context, c Candidate) {
	if s.failed || len(s.pending) >= MaxStorePending {
		s.lose(c.Record.TxID())
		s.settle(ctx, c, 0)
		return
	}
	s.pending = append(s.pending, c)
	s.flushIfReady(ctx)
}

// flushIfReady starts the next commit unless one is being written, nothing waits, or the
// broadcaster is more than MaxBroadcastLag records behind.
func (s *storeActor) flushIfReady(ctx actor.Context) {
	if s.writing || s.stopping || len(s.pending) == 0 ||
		s.published > s.offered+MaxBroadcastLag {
		return
	}
	s.flush(ctx)
}

// lose counts an alert that will not be stored and logs it, at most once a second with the
// running count, so that a failed disk costs one log line per second and not one per alert.
func (s *storeActor) lose(txid string) {
	lost := s.stats.AlertsLost.Add(1)
	if now := time.Now(); now.Sub(s.lastLoss) >= time.Second {
		s.lastLoss = now
		s.log.Error("alert not stored", "txid", txid, "failed", s.failed,
			"pending", len(s.pending), "lost_total", lost)
	}
}

// take removes up to persistence.MaxBatch candidates from the queue.
func (s *storeActor) take() []Candidate {
	n := min(len(s.pending), persistence.MaxBatch)
	if s.singles > 0 {
		// Retrying a refused batch one alert at a time, so that one bad alert loses only
		// itself.
		n = min(n, 1)
		s.singles--
	}
	batch := s.pending[:n:n]
	s.pending = s.pending[n:]
	if len(s.pending) == 0 {
		s.pending = nil
	}
	return batch
}

func recordsOf(batch []Candidate) []alert.Record {
	out := make([]alert.Record, len(batch))
	for i, c := range batch {
		out[i] = c.Record
	}
	return out
}

// flush hands the next batch to a writer goroutine; its result comes back as batchDone.
func (s *storeActor) flush(ctx actor.Context) {
	batch := s.take()
	s.writing = true
	self, root := ctx.Self(), ctx.ActorSystem().Root
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		stored, err := s.write(batch)
		d := &batchDone{stored: stored, batch: batch, err: err}
		s.inflight.Store(d)
		root.Send(self, d)
	}()
}

// ack tells each source how many of its transactions the batch finished.
func ack(ctx actor.Context, batch []Candidate) {
	counts := map[*actor.PID]uint64{}
	for _, c := range batch {
		if c.AckTo != nil {
			counts[c.AckTo]++
		}
	}
	for pid, n := range counts {
		ctx.Send(pid, &Processed{N: n})
	}
}

func (s *storeActor) done(ctx actor.Context, d *batchDone) {
	s.inflight.CompareAndSwap(d, nil)
	s.writing = false
	switch {
	case errors.Is(d.err, persistence.ErrInvalidBatch) && len(d.batch) > 1:
		// Group commit joined unrelated alerts: write them again one by one.
		s.pending = append(append([]Candidate(nil), d.batch...), s.pending...)
		s.singles = len(d.batch)
		if !s.stopping {
			s.flush(ctx)
		}
		return
	case errors.Is(d.err, persistence.ErrInvalidBatch):
		// A refused alert leaves the store healthy: count and report it, go on.
		s.stats.AlertsLost.Add(int64(len(d.batch)))
		s.log.Error("alert batch refused", "err", d.err, "lost", len(d.batch))
		s.settleAll(ctx, d.batch)
	case d.err != nil:
		// No acknowledgement: the sources stall at their window, so ingestion stops.
		s.fail(ctx, d.err, d.batch)
		return
	}
	ack(ctx, d.batch)
	if d.err == nil {
		// The store skipped alerts whose txid it already held (seen before a restart).
		s.stats.DuplicateTxs.Add(int64(len(d.batch) - len(d.stored)))
	}
	for _, st := range d.stored {
		if st.Kind == alert.KindUpdate {
			s.stats.UpdatesStored.Add(1)
		} else {
			s.stats.AlertsStored.Add(1)
		}
	}
	if len(d.stored) > 0 {
		pub := &Published{Entries: entries(d.stored), ReplyTo: ctx.Self()}
		s.stats.countRecords(pub.Entries)
		s.published = max(s.published, d.stored[len(d.stored)-1].Seq)
		ctx.Send(s.broadcaster, pub)
		if s.webhooks != nil {
			ctx.Send(s.webhooks, pub)
		}
	}
	if d.err == nil {
		s.settleStored(ctx, d.batch, d.stored)
	}
	s.flushIfReady(ctx)
}

// fail closes the store to writes: the batch and everything queued are counted as lost and
// logged, and health turns bad. Nothing that was not persisted is ever broadcast.
func (s *storeActor) fail(ctx actor.Context, err error, batch []Candidate) {
	lost := int64(len(batch) + len(s.pending))
	s.failed = true
	s.settleAll(ctx, batch)
	s.settleAll(ctx, s.pending)
	s.pending = nil
	s.stats.StoreErrors.Add(1)
	s.stats.AlertsLost.Add(lost)
	s.log.Error("store write failed: ingestion of alerts stopped", "err", err, "lost", lost)
}

// drain runs when the store stops: it waits for the batch in flight and writes what is
// queued, so a clean shutdown loses nothing that was accepted.
func (s *storeActor) drain(ctx actor.Context) {
	s.stopping = true
	s.wg.Wait()
	if d := s.inflight.Swap(nil); d != nil {
		s.done(ctx, d)
	}
	for !s.failed && len(s.pending) > 0 {
		batch := s.take()
		stored, err := s.write(batch)
		s.done(ctx, &batchDone{stored: stored, batch: batch, err: err})
	}
}

// entries adds to each stored record the fields that filters read.
func entries(stored []alert.Stored) []Entry {
	out := make([]Entry, len(stored))
	for i, st := range stored {
		out[i] = Entry{Stored: st, Meta: MetaOf(st)}
	}
	return out
}
