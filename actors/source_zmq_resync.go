package actors

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"

	"github.com/whalecast/whalecast/internal/bitcoin"
	"github.com/whalecast/whalecast/internal/corerpc"
)

// maxBlockMemory bounds the connected blocks the feed remembers, so the deepest reorg a
// resync can walk back through.
const maxBlockMemory = 100

// schedule makes a resync due after d, unless one is due already.
func (w *zmqWorker) schedule(d time.Duration) {
	if w.syncC != nil {
		return
	}
	w.syncTimer.Reset(d)
	w.syncC = w.syncTimer.C
}

// maxResyncTime bounds one baseline or resync, all its RPC calls together.
const maxResyncTime = 60 * time.Second

// sync reads the baseline (on the first connection) or resyncs, unless a resync that began
// after the last request already covers it and no stray block waits for one. It first
// passes on what the reader queued so far. A failure is counted, logged and retried after
// a backoff; the requests that arrive meanwhile are served by the retry.
func (w *zmqWorker) sync() {
	if w.rpc == nil || w.baselined && !w.stray && w.f.want.Load() <= w.covered {
		return
	}
	mark := w.f.seen.Load()
	if !w.drain() {
		return
	}

	// A slow node holds the live feed while a resync runs: bound the whole of it, and go
	// back to live messages (retrying later) rather than wait on the node for ever.
	ctx, cancel := context.WithTimeout(w.f.ctx, maxResyncTime)
	defer cancel()
	var err error
	if w.baselined {
		err = w.resync(ctx)
	} else {
		err = w.baseline(ctx)
	}
	if err == nil {
		w.covered, w.backoff, w.stray = mark, w.f.cfg.MinBackoff, false
		return
	}
	if w.f.ctx.Err() != nil {
		return
	}

	n := w.f.resyncErrors.Add(1)
	if w.limits.allow("resync") {
		w.f.log.Warn("zmq resync failed", "err", err, "resync_errors", n,
			"retry_in", w.backoff.String())
	}
	w.schedule(w.backoff)
	w.backoff = min(2*w.backoff, w.f.cfg.MaxBackoff)
}

// baseline remembers the node's mempool as known and its tip as the last block, without
// passing anything on: what was in the mempool before the feed connected is not news.
func (w *zmqWorker) baseline(ctx context.Context) error {
	txids, seq, err := w.rpc.RawMempool(ctx)
	if err != nil {
		return fmt.Errorf("baseline: %w", err)
	}
	for _, id := range txids {
		h, err := chainhash.NewHashFromStr(id)
		if err != nil {
			return fmt.Errorf("baseline: txid %.80q: %w", id, err)
		}
		w.recent.add(*h)
	}
	if w.chain.empty() {
		if err := w.recordTip(ctx); err != nil {
			return fmt.Errorf("baseline: %w", err)
		}
	}

	w.baselined = true
	tip := w.chain.tip()
	w.f.log.Info("zmq baseline read", "mempool", len(txids), "mempool_sequence", seq,
		"tip", tip.hash.String(), "height", tip.height)
	return nil
}

// recordTip remembers the node's best block without passing it on.
func (w *zmqWorker) recordTip(ctx context.Context) error {
	best, err := w.rpc.BestBlockHash(ctx)
	if err != nil {
		return err
	}
	hdr, err := w.rpc.BlockHeader(ctx, best)
	if err != nil {
		return err
	}
	h, err := chainhash.NewHashFromStr(hdr.Hash)
	if err != nil {
		return fmt.Errorf("best block %.80q: %w", hdr.Hash, err)
	}
	w.chain.push(*h, hdr.Height)
	return nil
}

// resync brings the chain up to the node's, then passes on the mempool transactions not
// passed on recently and a snapshot of the whole mempool. The chain goes first, so that
// an alert mined during the gap is confirmed before the snapshot finds it missing.
func (w *zmqWorker) resync(ctx context.Context) error {
	start := time.Now()
	gone, added, err := w.syncChain(ctx)
	if err != nil {
		return fmt.Errorf("resync chain: %w", err)
	}

	txids, seq, err := w.rpc.RawMempool(ctx)
	if err != nil {
		return fmt.Errorf("resync mempool: %w", err)
	}
	mempool := make(map[string]struct{}, len(txids))
	var missing []string
	for _, id := range txids {
		h, err := chainhash.NewHashFromStr(id)
		if err != nil {
			return fmt.Errorf("resync mempool: txid %.80q: %w", id, err)
		}
		mempool[h.String()] = struct{}{}
		if !w.recent.has(*h) {
			missing = append(missing, h.String())
		}
	}

	fetched, err := w.fetch(ctx, missing)
	if err != nil {
		return fmt.Errorf("resync mempool: %w", err)
	}
	// Counted before the snapshot goes out, so that whoever reads it sees the count.
	n := w.f.resyncs.Add(1)
	w.f.log.Info("zmq resynced", "resyncs", n, "mempool", len(mempool),
		"mempool_sequence", seq, "missing", len(missing), "fetched", fetched,
		"disconnected", gone, "connected", added,
		"took", time.Since(start).Round(time.Millisecond))
	if !w.emit(FeedTx{Event: &ChainEvent{Kind: MempoolSnapshot, Mempool: mempool}}) {
		return ctx.Err()
	}
	return nil
}

// fetch reads the transactions of txids from the node, FeeBatch at a time, and passes them
// on with their fees. A transaction that left the mempool since is skipped.
func (w *zmqWorker) fetch(ctx context.Context, txids []string) (int, error) {
	fetched := 0
	for start := 0; start < len(txids); start += w.f.cfg.FeeBatch {
		chunk := txids[start:min(start+w.f.cfg.FeeBatch, len(txids))]
		raws, err := w.rpc.RawTransactions(ctx, chunk)
		if err != nil {
			return fetched, err
		}

		for i, raw := range raws[:min(len(raws), len(chunk))] {
			if raw == nil {
				continue
			}
			tx, err := bitcoin.DecodeTx(raw)
			if err == nil && tx.TxHash().String() != chunk[i] {
				err = fmt.Errorf("node sent transaction %s", tx.TxHash())
			}
			if err != nil {
				if w.limits.allow("resync tx") {
					w.f.log.Warn("zmq resync skipped a transaction", "txid", chunk[i],
						"err", err)
				}
				continue
			}
			p := pendingItem{zmqItem: zmqItem{FeedTx: FeedTx{Raw: raw, Msg: tx}},
				txid: tx.TxHash(), lookup: true}
			w.batch = append(w.batch, p)
			w.lookups++
			w.recent.add(p.txid)
		}
		fetched += len(w.batch)
		w.f.resyncTxs.Add(uint64(len(w.batch)))
		w.flush()
		if ctx.Err() != nil {
			return fetched, ctx.Err()
		}
	}
	return fetched, nil
}

// syncChain walks back from the last block passed on, disconnecting those no longer on the
// node's main chain, then connects the node's blocks above the fork point, at most
// MaxResyncBlocks of them. It returns how many it disconnected and connected.
func (w *zmqWorker) syncChain(ctx context.Context) (gone, added int, err error) {
	if w.chain.empty() {
		return 0, 0, w.recordTip(ctx)
	}

	var fork *corerpc.BlockHeader
	for !w.chain.empty() {
		tip := w.chain.tip()
		hdr, err := w.rpc.BlockHeader(ctx, tip.hash.String())
		if err != nil && !corerpc.IsNotFound(err) {
			return gone, 0, err
		}
		if err == nil && hdr.Confirmations > 0 {
			fork = &hdr
			break
		}
		w.chain.pop()
		w.f.disconnected.Add(1)
		gone++
		if !w.emit(FeedTx{Event: &ChainEvent{Kind: BlockDisconnected, Hash: tip.hash}}) {
			return gone, 0, ctx.Err()
		}
	}

	from, to, err := w.missingBlocks(ctx, fork)
	if err != nil {
		return gone, 0, err
	}
	for height := from; height <= to; height++ {
		if err := w.connectAt(ctx, height); err != nil {
			return gone, added, err
		}
		added++
	}
	return gone, added, nil
}

// missingBlocks returns the heights to connect: from the block above the fork point to the
// node's best, cut to MaxResyncBlocks. Without a fork point (every remembered block is
// stale) it starts MaxResyncBlocks below the node's best.
func (w *zmqWorker) missingBlocks(ctx context.Context,
	fork *corerpc.BlockHeader) (from, to int64, err error) {
	bound := int64(w.f.cfg.MaxResyncBlocks)
	if fork != nil {
		from, to = fork.Height+1, fork.Height+fork.Confirmations-1
	} else {
		best, err := w.rpc.BestBlockHash(ctx)
		if err != nil {
			return 0, -1, err
		}
		hdr, err := w.rpc.BlockHeader(ctx, best)
		if err != nil {
			return 0, -1, err
		}
		from, to = max(hdr.Height-bound+1, 0), hdr.Height
		w.f.log.Warn("zmq reorg deeper than the remembered blocks",
			"remembered", maxBlockMemory, "from", from)
	}

	if n := to - from + 1; n > bound {
		w.f.log.Warn("zmq chain gap over the resync bound", "from", from, "best", to,
			"bound", bound, "skipped", n-bound)
		to = from + bound - 1
	}
	return from, to, nil
}

// connectAt reads the node's main-chain block at height and passes it on as connected.
func (w *zmqWorker) connectAt(ctx context.Context, height int64) error {
	hash, err := w.rpc.BlockHash(ctx, height)
	if err != nil {
		return err
	}
	raw, err := w.rpc.Block(ctx, hash)
	if err != nil {
		return err
	}
	blk, err := bitcoin.DecodeBlock(raw)
	if err != nil {
		return fmt.Errorf("block %s: %w", hash, err)
	}

	got := blk.BlockHash()
	switch {
	case got.String() != strings.ToLower(hash):
		return fmt.Errorf("block %s at height %d: the node sent block %s", hash, height, got)
	case !w.chain.empty() && blk.Header.PrevBlock != w.chain.tip().hash:
		return fmt.Errorf("block %s at height %d does not extend %s: the chain moved",
			hash, height, w.chain.tip().hash)
	}
	w.chain.push(got, height)
	w.f.blocks.Add(1)
	// Bitcoin Core announces a connected block's transactions on rawtx before the block:
	// do the same, so that a whale mined entirely inside the gap is alerted, then confirmed.
	for _, tx := range blk.Transactions {
		if bitcoin.IsCoinbase(tx) {
			continue
		}
		w.recent.add(tx.TxHash())
		if !w.emit(FeedTx{Msg: tx}) {
			return ctx.Err()
		}
	}
	if !w.emit(FeedTx{Event: &ChainEvent{Kind: BlockConnected, Block: blk, Hash: got,
		Height: height}}) {
		return ctx.Err()
	}
	return nil
}

// blockMemory is the last blocks the feed passed on as connected (or read as the node's
// tip at the baseline), oldest first, at most maxBlockMemory.
type blockMemory struct {
	blocks []memBlock
}

// memBlock is one remembered block; height is 0 when the block did not state it.
type memBlock struct {
	hash   chainhash.Hash
	height int64
}

func (m *blockMemory) empty() bool   { return len(m.blocks) == 0 }
func (m *blockMemory) tip() memBlock { return m.blocks[len(m.blocks)-1] }
func (m *blockMemory) pop()          { m.blocks = m.blocks[:len(m.blocks)-1] }
func (m *blockMemory) index(h chainhash.Hash) int {
	return slices.IndexFunc(m.blocks, func(b memBlock) bool { return b.hash == h })
}

// push remembers a connected block as the tip, unless it is remembered already.
func (m *blockMemory) push(hash chainhash.Hash, height int64) {
	if m.index(hash) >= 0 {
		return
	}
	if len(m.blocks) >= maxBlockMemory {
		m.blocks = slices.Delete(m.blocks, 0, 1)
	}
	m.blocks = append(m.blocks, memBlock{hash: hash, height: height})
}

// follow applies a live chain event.
func (m *blockMemory) follow(ev *ChainEvent) {
	switch ev.Kind {
	case BlockConnected:
		m.push(ev.Hash, ev.Height)
	case BlockDisconnected:
		if i := m.index(ev.Hash); i >= 0 {
			m.blocks = slices.Delete(m.blocks, i, i+1)
		}
	}
}
