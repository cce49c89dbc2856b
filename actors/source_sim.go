package actors

import (
	"fmt"
	"slices"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/whalecast/whalecast/internal/bitcoin"
)

// The simulated chain. docs/simulator.md says what it looks like and why.
const (
	// DefaultSimTxPerBlock is how many simulated transactions come between two blocks:
	// about one block a minute at the simulator's default 7 tx/s, ten times mainnet's pace,
	// so that a demo shows confirmations and settled outcomes within minutes.
	DefaultSimTxPerBlock = 420
	// SimStartHeight is the height of the first simulated block.
	SimStartHeight = 900_000

	// A transaction whose txid (as shown, in hex) starts with a byte below simReplacedBelow
	// is replaced: 8 of 256 values, 3.1%. One starting from simReplacedBelow up to
	// simDroppedBelow is dropped: 5 of 256, 2.0%. The rest are mined.
	simReplacedBelow = 8
	simDroppedBelow  = 13
	// simFateDelay is how many simulated transactions after a replaced or dropped
	// transaction its removal comes: 70, ten seconds at 7 tx/s, so that its alert is seen
	// waiting in the mempool first. Blocks in between do not mine it.
	simFateDelay = 70
	// simFeeBumpSat is what a replacement takes from an output to pay its higher fee.
	simFeeBumpSat = 2_000
	// simTxInterval is the time between two transactions at 7 tx/s; block timestamps
	// advance by it for every simulated transaction.
	simTxInterval = time.Second / 7
)

var (
	// simParent is the fixed, made-up parent of the first simulated block.
	simParent = chainhash.DoubleHashH([]byte("whalecast simulated chain parent"))
	// simChainStart is the timestamp the first block's counts from: about when mainnet
	// reached height 900,000.
	simChainStart = time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
)

// SimConfig sets up a simulated feed. The zero value of each field picks its default.
type SimConfig struct {
	// Seed determines the whole feed: transactions, replacements, drops and blocks.
	Seed int64
	// TxPerBlock is how many simulated transactions come between two blocks (default
	// DefaultSimTxPerBlock); negative is refused. Replacements are not counted.
	TxPerBlock int
	// StartHeight is the height of the first block (default SimStartHeight). The engine
	// passes one that grows with the wall clock (SimHeightAt), so that a restarted engine's
	// chain goes on above the blocks of its previous run.
	StartHeight int64
}

// simEpoch is when the simulated chain stood at SimStartHeight, for SimHeightAt.
var simEpoch = time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)

// SimHeightAt returns the simulated chain's height at now: SimStartHeight at 2025-06-01,
// then one block a minute, the simulator's pace at its default rate.
func SimHeightAt(now time.Time) int64 {
	return SimStartHeight + max(int64(now.Sub(simEpoch)/time.Minute), 0)
}

// simFate is what becomes of a simulated transaction.
type simFate uint8

const (
	simMined simFate = iota
	simReplaced
	simDropped
)

// simFateOf decides a transaction's fate from the first byte of its txid as shown (the last
// of the hash), so the choice is deterministic and leaves the simulator's stream alone.
func simFateOf(txid chainhash.Hash) simFate {
	switch b := txid[chainhash.HashSize-1]; {
	case b < simReplacedBelow:
		return simReplaced
	case b < simDroppedBelow:
		return simDropped
	}
	return simMined
}

// simDoomed is a replaced or dropped transaction waiting for its removal.
type simDoomed struct {
	tx   *wire.MsgTx
	txid string
	fate simFate
	due  uint64 // the count of drawn transactions at which it is removed
}

// simFeed yields the simulator's endless, deterministic mempool and a chain that mines it:
// every TxPerBlock transactions a block connects on top of the previous one, mining the
// transactions that arrived since, except those fated to be replaced (a fee bump replaces
// them, and the next block mines the bump) or dropped (removed, never mined). The
// simulator's transaction stream is unchanged: the feed only adds to it.
type simFeed struct {
	cfg SimConfig
	sim *bitcoin.Sim

	drawn  uint64         // transactions drawn from sim
	height int64          // height of the next block
	tip    chainhash.Hash // hash of the last block, simParent before the first
	// pending is what the next block mines, in arrival order: at most TxPerBlock drawn
	// transactions and the replacements of as many.
	pending []*wire.MsgTx
	// doomed are the replaced or dropped transactions whose removal is to come, oldest
	// first: at most simFateDelay.
	doomed []simDoomed
	// queue holds the items ready to return; head is the next. It holds at most one
	// transaction, one removal and its replacement, and one block.
	queue []FeedTx
	head  int
}

// NewSimFeed returns a feed of simulated transactions and blocks; the same seed yields the
// same items.
func NewSimFeed(cfg SimConfig) (Feed, error) {
	if cfg.TxPerBlock < 0 {
		return nil, fmt.Errorf("actors: sim feed: TxPerBlock %d is negative", cfg.TxPerBlock)
	}
	if cfg.TxPerBlock == 0 {
		cfg.TxPerBlock = DefaultSimTxPerBlock
	}
	if cfg.StartHeight <= 0 {
		cfg.StartHeight = SimStartHeight
	}
	f := &simFeed{cfg: cfg}
	f.reset()
	return f, nil
}

// reset starts the stream and the chain from their beginning.
func (f *simFeed) reset() {
	f.sim = bitcoin.NewSim(f.cfg.Seed)
	f.drawn, f.height, f.tip = 0, f.cfg.StartHeight, simParent
	clear(f.pending)
	f.pending = f.pending[:0]
	clear(f.doomed)
	f.doomed = f.doomed[:0]
	clear(f.queue)
	f.queue, f.head = f.queue[:0], 0
}

// Next implements Feed; the simulator never ends.
func (f *simFeed) Next() (FeedTx, error) {
	if f.head == len(f.queue) {
		clear(f.queue)
		f.queue, f.head = f.queue[:0], 0
		f.step()
	}
	item := f.queue[f.head]
	f.head++
	return item, nil
}

// step draws the next simulated transaction and queues it, then the removal that falls due
// with it (and its replacement), then the block if one is due.
func (f *simFeed) step() {
	tx := f.sim.Next()
	f.drawn++
	f.queue = append(f.queue, FeedTx{Msg: tx})
	hash := tx.TxHash()
	if fate := simFateOf(hash); fate == simMined {
		f.pending = append(f.pending, tx)
	} else {
		f.doomed = append(f.doomed, simDoomed{tx: tx, txid: hash.String(), fate: fate,
			due: f.drawn + simFateDelay})
	}

	for len(f.doomed) > 0 && f.doomed[0].due <= f.drawn {
		f.remove(f.doomed[0])
		f.doomed = slices.Delete(f.doomed, 0, 1)
	}

	if f.drawn%uint64(f.cfg.TxPerBlock) == 0 {
		f.connect()
	}
}

// remove queues the removal of a doomed transaction and, for a replaced one, its
// replacement, which the next block mines.
func (f *simFeed) remove(d simDoomed) {
	f.queue = append(f.queue, FeedTx{Event: &ChainEvent{Kind: TxRemoved, TxID: d.txid}})
	if d.fate != simReplaced {
		return
	}
	bump := simReplacement(d.tx)
	f.queue = append(f.queue, FeedTx{Msg: bump})
	f.pending = append(f.pending, bump)
}

// connect queues the next block, mining what is pending.
func (f *simFeed) connect() {
	at := simChainStart.Add(time.Duration(f.drawn) * simTxInterval)
	b := bitcoin.NewSimBlock(f.tip, f.height, at, f.pending)
	hash := b.BlockHash()
	f.queue = append(f.queue, FeedTx{Event: &ChainEvent{Kind: BlockConnected, Block: b,
		Hash: hash, Height: f.height}})

	f.tip, f.height = hash, f.height+1
	clear(f.pending)
	f.pending = f.pending[:0]
}

// simReplacement returns a fee bump of tx: the same inputs, all signalling replaceability
// (BIP125), and the same outputs, the first one worth more than twice simFeeBumpSat paying
// that much less (when none is, the largest gives half its value).
func simReplacement(tx *wire.MsgTx) *wire.MsgTx {
	bump := tx.Copy()
	for _, in := range bump.TxIn {
		in.Sequence = wire.MaxTxInSequenceNum - 2
	}

	largest := 0
	for i, out := range bump.TxOut {
		if out.Value > 2*simFeeBumpSat {
			out.Value -= simFeeBumpSat
			return bump
		}
		if out.Value > bump.TxOut[largest].Value {
			largest = i
		}
	}
	bump.TxOut[largest].Value -= bump.TxOut[largest].Value / 2
	return bump
}

// Rewind implements Feed: the same seed starts the same stream and chain again.
func (f *simFeed) Rewind() error {
	f.reset()
	return nil
}

// Close implements Feed; the simulator holds no file.
func (f *simFeed) Close() error { return nil }
