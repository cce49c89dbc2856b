package system_test

import (
	"testing"

	"github.com/whalecast/whalecast/internal/chaintest"
	"github.com/whalecast/whalecast/internal/zmqtest"
)

// h277647 is the height of block 277647 and of the blocks the tests mine in its place.
const h277647 = baseHeight + 1

// TestZMQLifecycle runs a real engine on a ZMQ source, fed by a publisher framing messages
// as Bitcoin Core does, with the fake node as its --rpc, through the situations a live
// node produces on real mainnet transactions of block 277647 and transactions built from
// them. For each it checks the exact records a live client receives (fees included), that
// the engine stored exactly those, and that clients resuming from since=0 and since=K
// receive the same tail, then nothing.
func TestZMQLifecycle(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		rpc  bool
		// run publishes and checks the records as they come; it returns the seqs to resume
		// from.
		run func(t *testing.T, r *zmqRig) []uint64
	}{
		{name: "announced twice then mined", rpc: true, run: announcedTwice},
		{name: "announced twice then mined, without rpc", run: announcedTwice},
		{name: "replaced by fee", rpc: true, run: replacedByFee},
		{name: "replaced by a whale", rpc: true, run: replacedByWhale},
		{name: "double spend mined", rpc: true, run: doubleSpendMined},
		{name: "dropped then back", rpc: true, run: droppedThenBack},
		{name: "reorg", rpc: true, run: reorg},
		{name: "reorg to a longer branch", rpc: true, run: reorgLonger},
		{name: "counter gap resync", rpc: true, run: counterGap},
		{name: "replaced, back through a resync", rpc: true, run: replacedBackByResync},
		{name: "publisher restart", rpc: true, run: publisherRestart},
		{name: "corrupt frames", rpc: true, run: corruptFrames},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := startZMQRig(t, tt.rpc)
			sinces := tt.run(t, r)
			r.finish(t, graceQuiet, append([]uint64{0}, sinces...)...)
		})
	}
}

// announcedTwice publishes W0 as it enters the mempool, its rawtx again, then block 277647
// with a rawtx for each of its transactions: W0 is alerted once, W1 and W2 (first seen in
// the block) are alerted, then the block confirms the three. Only W0 was in the node's
// mempool when its fee was asked for.
func announcedTwice(t *testing.T, r *zmqRig) []uint64 {
	W := r.W
	r.announce(t, W[0])
	r.expect(t, alertOf(1, W[0], r.rpc))

	r.pub.Publish(t, zmqtest.TopicRawTx, zmqtest.TxBytes(W[0].tx))
	r.mine(t, r.block, true)
	r.expect(t, alertOf(2, W[1], false), alertOf(3, W[2], false),
		updateOf(4, W[0], 1, "confirmed", "mempool").in(h277647, r.hash, 1),
		updateOf(5, W[1], 2, "confirmed", "mempool").in(h277647, r.hash, 1),
		updateOf(6, W[2], 3, "confirmed", "mempool").in(h277647, r.hash, 1))
	if got := r.te.Stats().DuplicateTxs.Load(); got != 2 {
		t.Errorf("duplicates %d, want 2 (W0's second rawtx and its rawtx in the block)", got)
	}
	return []uint64{3}
}

// replacedByFee: W1 leaves the mempool (sequence R) and a transaction spending its input
// enters it: after the grace W1 is replaced by it. The replacement is mined (W1 stays
// replaced) and, K blocks later, W1's outcome is final.
func replacedByFee(t *testing.T, r *zmqRig) []uint64 {
	w := r.W[1]
	r.announce(t, w)
	r.expect(t, alertOf(1, w, true))

	bump := chaintest.Spender(w.tx, 1)
	r.node.RemoveTx(w.tx)
	r.pub.PublishRemoved(t, w.tx)
	r.announce(t, newZMQWhale(bump, zmqtest.Fee{Sat: 45_000, VSize: 110}))
	r.expect(t, updateOf(2, w, 1, "replaced", "mempool").replacedByTx(bump))

	b1, h1 := chaintest.BlockOn(r.parent, h277647, 1, bump)
	b2, _ := chaintest.BlockOn(h1, h277647+1, 0)
	r.mine(t, b1, true)
	r.mine(t, b2, true)
	r.expect(t, updateOf(3, w, 1, "replaced", "replaced").replacedByTx(bump).final())
	return []uint64{1, 2}
}

// replacedByWhale: W2's replacement keeps 132 BTC, a whale itself: it is alerted with its
// own fee, W2 is replaced by it after the grace, and once it is mined both outcomes are
// final, K blocks on.
func replacedByWhale(t *testing.T, r *zmqRig) []uint64 {
	w := r.W[2]
	r.announce(t, w)
	r.expect(t, alertOf(1, w, true))

	bump := newZMQWhale(chaintest.Spender(w.tx, 1), zmqtest.Fee{Sat: 67_800, VSize: 113})
	r.node.RemoveTx(w.tx)
	r.pub.PublishRemoved(t, w.tx)
	r.announce(t, bump)
	r.expect(t, alertOf(2, bump, true),
		updateOf(3, w, 1, "replaced", "mempool").replacedByTx(bump.tx))

	b1, h1 := chaintest.BlockOn(r.parent, h277647, 1, bump.tx)
	b2, _ := chaintest.BlockOn(h1, h277647+1, 0)
	r.mine(t, b1, true)
	r.mine(t, b2, true)
	r.expect(t, updateOf(4, bump, 2, "confirmed", "mempool").in(h277647, h1, 1),
		updateOf(5, w, 1, "replaced", "replaced").replacedByTx(bump.tx).final(),
		updateOf(6, bump, 2, "confirmed", "confirmed").in(h277647, h1, 2).final())
	return []uint64{3}
}

// doubleSpendMined: W1 is in the mempool when a block mines another spend of its input
// (announced by rawtx as the block connects): W1 is conflicted at once, and final K
// blocks later.
func doubleSpendMined(t *testing.T, r *zmqRig) []uint64 {
	w := r.W[1]
	r.announce(t, w)
	r.expect(t, alertOf(1, w, true))

	ds := chaintest.Spender(w.tx, 2)
	x1, hx1 := chaintest.BlockOn(r.parent, h277647, 2, ds)
	r.mine(t, x1, true)
	r.expect(t, updateOf(2, w, 1, "conflicted", "mempool").in(h277647, hx1, 0).
		conflictedByTx(ds))

	x2, hx2 := chaintest.BlockOn(hx1, h277647+1, 0)
	x3, _ := chaintest.BlockOn(hx2, h277647+2, 0)
	r.mine(t, x2, true)
	r.mine(t, x3, true)
	r.expect(t, updateOf(3, w, 1, "conflicted", "conflicted").in(h277647, hx1, 0).
		conflictedByTx(ds).final())
	return []uint64{2}
}

// droppedThenBack: W1 leaves the mempool (sequence R) and nothing explains it: after the
// grace it is dropped. Its rawtx again brings it back to the mempool, and a block
// confirms it.
func droppedThenBack(t *testing.T, r *zmqRig) []uint64 {
	w := r.W[1]
	r.announce(t, w)
	r.expect(t, alertOf(1, w, true))

	r.node.RemoveTx(w.tx)
	r.pub.PublishRemoved(t, w.tx)
	r.expect(t, updateOf(2, w, 1, "dropped", "mempool"))

	r.node.AddTx(w.tx, w.fee)
	r.pub.Publish(t, zmqtest.TopicRawTx, zmqtest.TxBytes(w.tx))
	r.expect(t, updateOf(3, w, 1, "mempool", "dropped"))

	b, h := chaintest.BlockOn(r.parent, h277647, 3, w.tx)
	r.mine(t, b, true)
	r.expect(t, updateOf(4, w, 1, "confirmed", "mempool").in(h277647, h, 1))
	return []uint64{2, 3}
}

// reorg: block 277647 confirms its three whales; sequence D disconnects it and a competing
// block without W1 connects: the three are reorged, W0 and W2 confirmed again in the rival
// and final a block later. W1 stays reorged.
func reorg(t *testing.T, r *zmqRig) []uint64 {
	W := r.W
	r.mine(t, r.block, true)
	r.expect(t, alertOf(1, W[0], false), alertOf(2, W[1], false), alertOf(3, W[2], false),
		updateOf(4, W[0], 1, "confirmed", "mempool").in(h277647, r.hash, 1),
		updateOf(5, W[1], 2, "confirmed", "mempool").in(h277647, r.hash, 1),
		updateOf(6, W[2], 3, "confirmed", "mempool").in(h277647, r.hash, 1))

	r.node.Disconnect()
	r.pub.PublishDisconnected(t, r.block)
	r.expect(t, updateOf(7, W[0], 1, "reorged", "confirmed").in(h277647, r.hash, 0),
		updateOf(8, W[1], 2, "reorged", "confirmed").in(h277647, r.hash, 0),
		updateOf(9, W[2], 3, "reorged", "confirmed").in(h277647, r.hash, 0))

	rival, hr := chaintest.BlockOn(r.parent, h277647, 1,
		chaintest.Without(r.block, W[1].tx)...)
	r.mine(t, rival, true)
	r.expect(t, updateOf(10, W[0], 1, "confirmed", "reorged").in(h277647, hr, 1),
		updateOf(11, W[2], 3, "confirmed", "reorged").in(h277647, hr, 1))

	next, _ := chaintest.BlockOn(hr, h277647+1, 0)
	r.mine(t, next, true)
	r.expect(t, updateOf(12, W[0], 1, "confirmed", "confirmed").in(h277647, hr, 2).final(),
		updateOf(13, W[2], 3, "confirmed", "confirmed").in(h277647, hr, 2).final())
	return []uint64{6, 9}
}

// reorgLonger: block 277647 confirms its three whales; then the node switches to a longer
// branch, a rival of 277647 without W1 and a block on it, and announces the switch as
// Bitcoin Core does: sequence D for 277647, W1 back in the mempool (rawtx and sequence
// A), the rival's transactions and sequence C, the next block's transactions and sequence
// C, and rawblock for the new tip only (doc/zmq.md: "a reorganisation may occur and just
// the tip will be notified"). The rival confirms W0 and W2 again, and the tip makes them
// final; W1 stays reorged, back in the mempool.
func reorgLonger(t *testing.T, r *zmqRig) []uint64 {
	W := r.W
	r.mine(t, r.block, true)
	r.expect(t, alertOf(1, W[0], false), alertOf(2, W[1], false), alertOf(3, W[2], false),
		updateOf(4, W[0], 1, "confirmed", "mempool").in(h277647, r.hash, 1),
		updateOf(5, W[1], 2, "confirmed", "mempool").in(h277647, r.hash, 1),
		updateOf(6, W[2], 3, "confirmed", "mempool").in(h277647, r.hash, 1))

	rival, hr := chaintest.BlockOn(r.parent, h277647, 1,
		chaintest.Without(r.block, W[1].tx)...)
	next, _ := chaintest.BlockOn(hr, h277647+1, 0)
	r.node.Disconnect()
	r.node.Connect(rival, next)
	r.node.AddTx(W[1].tx, W[1].fee)
	r.pub.PublishDisconnected(t, r.block)
	r.pub.PublishTx(t, W[1].tx)
	r.pub.PublishConnected(t, rival)
	r.pub.PublishConnected(t, next)
	r.pub.Publish(t, zmqtest.TopicRawBlock, zmqtest.BlockBytes(next))
	r.expect(t, updateOf(7, W[0], 1, "reorged", "confirmed").in(h277647, r.hash, 0),
		updateOf(8, W[1], 2, "reorged", "confirmed").in(h277647, r.hash, 0),
		updateOf(9, W[2], 3, "reorged", "confirmed").in(h277647, r.hash, 0),
		updateOf(10, W[0], 1, "confirmed", "reorged").in(h277647, hr, 1),
		updateOf(11, W[2], 3, "confirmed", "reorged").in(h277647, hr, 1),
		updateOf(12, W[0], 1, "confirmed", "confirmed").in(h277647, hr, 2).final(),
		updateOf(13, W[2], 3, "confirmed", "confirmed").in(h277647, hr, 2).final())
	return []uint64{6, 9}
}

// counterGap: W0 and W1 are alerted; then messages are lost (every topic's counter
// jumps) while the node mines a block holding W0 and W2, evicts W1 and accepts a new
// whale. The next message reveals the gap: the resync connects the block (W2 alerted
// without a fee, as it never was in the mempool, then W0 and W2 confirmed), fetches the
// new whale with its fee, and W1, missing from getrawmempool, is dropped after the grace.
func counterGap(t *testing.T, r *zmqRig) []uint64 {
	W := r.W
	r.announce(t, W[0])
	r.announce(t, W[1])
	r.expect(t, alertOf(1, W[0], true), alertOf(2, W[1], true))

	fresh := freshWhale(W[2].tx, 1, zmqtest.Fee{Sat: 90_000, VSize: 226})
	m, hm := chaintest.BlockOn(r.parent, h277647, 3, W[0].tx, W[2].tx)
	r.node.Connect(m)
	r.node.RemoveTx(W[1].tx)
	r.node.AddTx(fresh.tx, fresh.fee)
	r.pub.Skip(zmqtest.TopicRawTx, 5)
	r.pub.Skip(zmqtest.TopicSequence, 4)
	r.pub.Skip(zmqtest.TopicRawBlock, 1)

	small := r.block.Transactions[1]
	r.node.AddTx(small, zmqtest.Fee{Sat: 1_000, VSize: 250})
	r.pub.PublishTx(t, small)
	r.expect(t, alertOf(3, W[2], false),
		updateOf(4, W[0], 1, "confirmed", "mempool").in(h277647, hm, 1),
		updateOf(5, W[2], 3, "confirmed", "mempool").in(h277647, hm, 1),
		alertOf(6, fresh, true),
		updateOf(7, W[1], 2, "dropped", "mempool"))

	s := r.zmqStats(t)
	if s.Resyncs < 1 || s.ResyncTxs != 1 || s.Lost != 9 || s.ResyncErrors != 0 {
		t.Errorf("zmq stats %+v, want a resync, 1 transaction fetched, 9 lost, no error", s)
	}
	return []uint64{2, 5}
}

// replacedBackByResync: W1 is replaced; then messages are lost while the node evicts the
// replacement and takes W1 back (its rawtx among the lost messages). The resync finds W1
// in getrawmempool: W1 is back in the mempool, as when its rawtx comes again, and a block
// then confirms it.
func replacedBackByResync(t *testing.T, r *zmqRig) []uint64 {
	w := r.W[1]
	r.announce(t, w)
	r.expect(t, alertOf(1, w, true))

	bump := chaintest.Spender(w.tx, 1)
	r.node.RemoveTx(w.tx)
	r.pub.PublishRemoved(t, w.tx)
	r.announce(t, newZMQWhale(bump, zmqtest.Fee{Sat: 45_000, VSize: 110}))
	r.expect(t, updateOf(2, w, 1, "replaced", "mempool").replacedByTx(bump))

	r.node.RemoveTx(bump)
	r.node.AddTx(w.tx, w.fee)
	r.pub.Skip(zmqtest.TopicRawTx, 1)
	r.pub.Skip(zmqtest.TopicSequence, 2)
	small := r.block.Transactions[1]
	r.node.AddTx(small, zmqtest.Fee{Sat: 1_000, VSize: 250})
	r.pub.PublishTx(t, small)
	r.expect(t, updateOf(3, w, 1, "mempool", "replaced"))

	b, h := chaintest.BlockOn(r.parent, h277647, 5, w.tx)
	r.mine(t, b, true)
	r.expect(t, updateOf(4, w, 1, "confirmed", "mempool").in(h277647, h, 1))
	return []uint64{2}
}

// publisherRestart: W0 is alerted, then the publisher stops, as when the node restarts.
// While it is away the node mines W0, accepts W1 and writes a new cookie. A new publisher
// on the same port starts its counters at 0: the engine reconnects and resyncs, logging in
// with the new cookie (W0 confirmed, W1 fetched and alerted with its fee); then
// W0 and W1 announced again give nothing, W2 is alerted, and a block confirms W1 and W2
// and settles W0. Nothing is lost or repeated.
func publisherRestart(t *testing.T, r *zmqRig) []uint64 {
	W := r.W
	r.announce(t, W[0])
	r.expect(t, alertOf(1, W[0], true))

	endpoint := r.pub.Endpoint()
	if err := r.pub.Close(); err != nil {
		t.Fatalf("close the publisher: %v", err)
	}
	m, hm := chaintest.BlockOn(r.parent, h277647, 4, W[0].tx)
	r.node.Connect(m)
	r.node.AddTx(W[1].tx, W[1].fee)
	r.node.RotateCookie(t)
	r.pub = zmqtest.NewPublisher(t, endpoint)
	r.pub.WaitSubscribed(t)
	r.expect(t, updateOf(2, W[0], 1, "confirmed", "mempool").in(h277647, hm, 1),
		alertOf(3, W[1], true))

	r.pub.Publish(t, zmqtest.TopicRawTx, zmqtest.TxBytes(W[0].tx))
	r.pub.Publish(t, zmqtest.TopicRawTx, zmqtest.TxBytes(W[1].tx))
	r.announce(t, W[2])
	r.expect(t, alertOf(4, W[2], true))

	m2, hm2 := chaintest.BlockOn(hm, h277647+1, 0, W[1].tx, W[2].tx)
	r.mine(t, m2, true)
	r.expect(t, updateOf(5, W[1], 3, "confirmed", "mempool").in(h277647+1, hm2, 1),
		updateOf(6, W[2], 4, "confirmed", "mempool").in(h277647+1, hm2, 1),
		updateOf(7, W[0], 1, "confirmed", "confirmed").in(h277647, hm, 2).final())

	s := r.zmqStats(t)
	if s.Resyncs != 1 || s.Reconnects == 0 || s.Lost != 0 || s.ResyncTxs != 1 {
		t.Errorf("zmq stats %+v, want a reconnect, 1 resync fetching 1 transaction, "+
			"nothing lost", s)
	}
	return []uint64{1, 4}
}

// corruptFrames: between two whales the publisher sends messages that break the framing
// or carry undecodable bodies; each is skipped and counted, the second whale is alerted,
// and the engine stays healthy.
func corruptFrames(t *testing.T, r *zmqRig) []uint64 {
	W := r.W
	r.announce(t, W[0])
	r.expect(t, alertOf(1, W[0], true))

	raw := zmqtest.BlockBytes(r.block)
	r.pub.Send(t, []byte(zmqtest.TopicRawTx), zmqtest.TxBytes(W[1].tx))
	r.pub.Send(t, []byte(zmqtest.TopicRawTx), zmqtest.TxBytes(W[1].tx), []byte{0, 0, 0, 0},
		nil)
	r.pub.Send(t, []byte(zmqtest.TopicRawTx), zmqtest.TxBytes(W[1].tx), []byte{1, 0, 0})
	r.pub.Publish(t, zmqtest.TopicRawTx, []byte{1, 0, 0, 0, 0xff})
	r.pub.Publish(t, zmqtest.TopicSequence, r.pub.SequenceBody(W[1].tx.TxHash(), 'X', true))
	r.pub.Publish(t, zmqtest.TopicRawBlock, raw[:len(raw)-1])
	r.announce(t, W[1])
	r.expect(t, alertOf(2, W[1], true))

	waitFor(t, "six corrupt messages", func() bool { return r.zmqStats(t).Corrupt >= 6 })
	if s := r.zmqStats(t); s.Corrupt != 6 || s.Lost != 0 || s.Resyncs != 0 || s.Blocks != 0 {
		t.Errorf("zmq stats %+v, want 6 corrupt, nothing lost, no resync, no block", s)
	}
	if code := getJSON(t, r.te, "/healthz", "", nil); code != 200 {
		t.Errorf("GET /healthz = %d, want 200", code)
	}
	return []uint64{1}
}
