package actors

import (
	"context"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
)

// feeLookupTimeout bounds one fee lookup: fees are worth a short wait, not a stalled feed.
// A lookup that takes longer leaves its transactions without a fee.
const feeLookupTimeout = 2 * time.Second

// zmqWorker is the state of the worker goroutine: it alone touches it.
type zmqWorker struct {
	f      *ZMQFeed
	rpc    CoreNode
	limits *logLimiter
	recent *recentTxs
	chain  blockMemory

	// batch holds the items taken but not yet passed on; lookups counts its transactions
	// waiting for a fee, and batchTimer ends their wait after FeeWait.
	batch      []pendingItem
	lookups    int
	batchTimer *time.Timer
	batchC     <-chan time.Time
	// taken is the arrival number of the last item taken from the handoff.
	taken uint64

	// baselined is set once the first connection's baseline was read; covered is the
	// reader's seen count when the last successful resync (or the baseline) began.
	baselined bool
	covered   uint64
	// stray is set when a live block did not extend the last block passed on: the next
	// resync must run, and connects it after the blocks Bitcoin Core did not publish.
	stray bool
	// syncTimer fires when a resync is due (after ResyncDelay, or after a backoff when the
	// last one failed); syncC is nil when none is.
	syncTimer *time.Timer
	syncC     <-chan time.Time
	backoff   time.Duration
}

// pendingItem is a batch entry: an item and, for a transaction, its txid and whether it
// waits for a fee.
type pendingItem struct {
	zmqItem
	txid   chainhash.Hash
	lookup bool
}

func newZMQWorker(f *ZMQFeed) *zmqWorker {
	w := &zmqWorker{f: f, rpc: f.cfg.RPC, limits: newLogLimiter(f.cfg.LogEvery),
		recent: newRecentTxs(f.cfg.RecentTxs), backoff: f.cfg.MinBackoff,
		batchTimer: time.NewTimer(time.Hour), syncTimer: time.NewTimer(time.Hour)}
	w.batchTimer.Stop()
	w.syncTimer.Stop()
	return w
}

// runWorker passes the reader's items on in order, with their fees, and runs the resyncs.
func (f *ZMQFeed) runWorker() {
	defer f.wg.Done()
	w := newZMQWorker(f)
	defer w.batchTimer.Stop()
	defer w.syncTimer.Stop()
	for {
		select {
		case <-f.ctx.Done():
			return
		case it := <-f.handoff:
			w.take(it)
		case <-w.batchC:
			w.flush()
		case <-f.wake:
			w.schedule(f.cfg.ResyncDelay)
		case <-w.syncC:
			w.syncC = nil
			w.sync()
		}
	}
}

// take adds an item to the batch. A transaction not passed on recently waits for its fee
// (with RPC) up to FeeWait or until FeeBatch others do. Anything else joins the batch
// behind the transactions before it, so that the order holds, and goes out at once when
// none of them waits. A transaction seen again (Bitcoin Core announces it again when a
// block includes it) is passed on without a fee: the detector drops repeats.
func (w *zmqWorker) take(it zmqItem) {
	w.taken = it.arrival
	p := pendingItem{zmqItem: it}
	switch {
	case it.Event == nil:
		p.txid = it.Msg.TxHash()
		p.lookup = w.rpc != nil && !w.recent.has(p.txid)
		w.recent.add(p.txid)
	case w.strays(it.Event):
		return
	default:
		w.chain.follow(it.Event)
	}
	w.batch = append(w.batch, p)

	if p.lookup {
		w.lookups++
		if w.lookups == 1 {
			w.batchTimer.Reset(w.f.cfg.FeeWait)
			w.batchC = w.batchTimer.C
		}
	}
	if w.lookups == 0 || w.lookups >= w.f.cfg.FeeBatch {
		w.flush()
	}
}

// strays reports whether ev is a connected block that does not extend the last block
// passed on, to be left to a resync, which it asks for. Bitcoin Core publishes rawblock
// for the new tip only: after a reorg to a longer branch, the blocks below the tip come
// on the sequence topic alone ("C"), without their bodies, and the resync fetches them.
// Without RPC the block goes on as it is, and the blocks it skips are not seen.
func (w *zmqWorker) strays(ev *ChainEvent) bool {
	if ev.Kind != BlockConnected || ev.Block == nil || w.chain.empty() ||
		ev.Block.Header.PrevBlock == w.chain.tip().hash || w.chain.index(ev.Hash) >= 0 {
		return false
	}

	held, resync := false, "needs --rpc"
	switch {
	case w.rpc != nil && w.baselined:
		held, resync = true, "asked"
		w.stray = true
		w.schedule(w.f.cfg.ResyncDelay)
	case w.rpc != nil:
		resync = "baseline pending"
	}
	if w.limits.allow("stray block") {
		w.f.log.Warn("zmq block does not extend the tip", "block", ev.Hash.String(),
			"parent", ev.Block.Header.PrevBlock.String(), "tip", w.chain.tip().hash.String(),
			"resync", resync)
	}
	return held
}

// flush looks up the fees the batch waits for, in one call, and passes the batch on.
func (w *zmqWorker) flush() {
	if len(w.batch) == 0 {
		return
	}
	w.batchTimer.Stop()
	w.batchC = nil

	if w.lookups > 0 {
		txids := make([]string, 0, w.lookups)
		for _, p := range w.batch {
			if p.lookup {
				txids = append(txids, p.txid.String())
			}
		}
		fees := w.fees(txids)
		for i := range w.batch {
			if w.batch[i].lookup {
				w.batch[i].Fee = fees[w.batch[i].txid.String()]
			}
		}
	}

	for _, p := range w.batch {
		if !w.emit(p.FeedTx) {
			break
		}
	}
	clear(w.batch)
	w.batch, w.lookups = w.batch[:0], 0
}

// fees asks the node for the fees of txids; a txid the node does not know, or a failed
// call, has none.
func (w *zmqWorker) fees(txids []string) map[string]*Fee {
	ctx, cancel := context.WithTimeout(w.f.ctx, feeLookupTimeout)
	defer cancel()
	entries, err := w.rpc.MempoolEntries(ctx, txids)
	if err != nil {
		if w.f.ctx.Err() == nil {
			n := w.f.feeErrors.Add(1)
			if w.limits.allow("fee") {
				w.f.log.Warn("zmq fee lookup failed", "txs", len(txids), "fee_errors", n,
					"err", err)
			}
		}
		return nil
	}

	fees := make(map[string]*Fee, len(txids))
	for i, e := range entries {
		if e.Found && i < len(txids) {
			fees[txids[i]] = &Fee{Sat: e.FeeSat, VSize: e.VSize}
		}
	}
	return fees
}

// emit passes one item on to Next; it reports false when the feed closed first.
func (w *zmqWorker) emit(ftx FeedTx) bool {
	select {
	case w.f.out <- ftx:
		return true
	case <-w.f.ctx.Done():
		return false
	}
}

// drain takes and passes on every item the reader had queued when it was called, so that
// a resync starting now follows them. It reports false when the feed closed first.
func (w *zmqWorker) drain() bool {
	mark := w.f.arrivals.Load()
	for w.taken < mark {
		select {
		case it := <-w.f.handoff:
			w.take(it)
		case <-w.f.ctx.Done():
			return false
		}
	}
	w.flush()
	return w.f.ctx.Err() == nil
}

// recentTxs remembers the last txids passed on, up to a bound; the oldest goes first.
type recentTxs struct {
	max  int
	set  map[chainhash.Hash]struct{}
	ring []chainhash.Hash
	next int // the ring slot to overwrite once the ring is full
}

func newRecentTxs(limit int) *recentTxs {
	return &recentTxs{max: limit, set: make(map[chainhash.Hash]struct{})}
}

func (r *recentTxs) has(txid chainhash.Hash) bool {
	_, ok := r.set[txid]
	return ok
}

func (r *recentTxs) add(txid chainhash.Hash) {
	if r.has(txid) {
		return
	}
	if len(r.ring) < r.max {
		r.ring = append(r.ring, txid)
	} else {
		delete(r.set, r.ring[r.next])
		r.ring[r.next] = txid
		r.next = (r.next + 1) % r.max
	}
	r.set[txid] = struct{}{}
}
