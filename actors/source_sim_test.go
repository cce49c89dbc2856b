package actors_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"testing"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/whalecast/whalecast/actors"
	"github.com/whalecast/whalecast/internal/bitcoin"
)

// simRun is what a test read from a simulated feed, and what it made of it.
type simRun struct {
	items  []actors.FeedTx
	blocks []*actors.ChainEvent
	// arrived maps each transaction to the index of its item.
	arrived map[string]int
	// mined and removed count how often each transaction was mined and removed.
	mined, removed map[string]int
	// replacedBy maps a replaced transaction to its replacement.
	replacedBy map[string]string
	// drawn counts the simulated transactions (replacements excluded) before each block.
	drawn []int
	// cut is the number of items up to the last block the test asked for.
	cut int
}

// newSimFeed returns a simulated feed of cfg.
func newSimFeed(tb testing.TB, cfg actors.SimConfig) actors.Feed {
	tb.Helper()
	f, err := actors.NewSimFeed(cfg)
	if err != nil {
		tb.Fatalf("NewSimFeed(%+v): %v", cfg, err)
	}
	return f
}

// readSim reads f until it connected blocks blocks, then on to a block (up to limit items
// in all) after which every transaction that arrived before the last of them was mined or
// removed, and the replacements of those removed mined.
func readSim(tb testing.TB, f actors.Feed, blocks, limit int) *simRun {
	tb.Helper()
	r := &simRun{arrived: map[string]int{}, mined: map[string]int{}, removed: map[string]int{},
		replacedBy: map[string]string{}}
	drawn := 0
	var lastRemoved string
	for i := 0; i < limit; i++ {
		item, err := f.Next()
		if err != nil {
			tb.Fatalf("item %d: %v", i, err)
		}
		r.items = append(r.items, item)
		removed := ""
		switch {
		case item.Event == nil:
			txid := item.Msg.TxHash().String()
			if _, ok := r.arrived[txid]; ok {
				tb.Fatalf("item %d: transaction %s arrived twice", i, txid)
			}
			r.arrived[txid] = i
			if lastRemoved != "" && spendsSame(r.tx(lastRemoved), item.Msg) {
				r.replacedBy[lastRemoved] = txid
			} else {
				drawn++
			}
		case item.Event.Kind == actors.TxRemoved:
			removed = item.Event.TxID
			r.removed[removed]++
		case item.Event.Kind == actors.BlockConnected:
			r.blocks = append(r.blocks, item.Event)
			r.drawn = append(r.drawn, drawn)
			for _, tx := range item.Event.Block.Transactions[1:] {
				r.mined[tx.TxHash().String()]++
			}
			if len(r.blocks) == blocks {
				r.cut = len(r.items)
			}
		default:
			tb.Fatalf("item %d: unexpected event %s", i, item.Event)
		}
		lastRemoved = removed
		if r.cut > 0 && item.Event != nil && item.Event.Kind == actors.BlockConnected &&
			r.resolved() {
			return r
		}
	}
	tb.Fatalf("%d items did not connect %d blocks and resolve what came before", limit,
		blocks)
	return nil
}

// tx returns the transaction txid of the run.
func (r *simRun) tx(txid string) *wire.MsgTx {
	return r.items[r.arrived[txid]].Msg
}

// resolved reports whether every transaction that arrived before the cut was mined, or
// removed (and its replacement, if any, mined).
func (r *simRun) resolved() bool {
	for txid, i := range r.arrived {
		if i >= r.cut || r.mined[txid] > 0 {
			continue
		}
		if by, ok := r.replacedBy[txid]; r.removed[txid] == 0 || ok && r.mined[by] == 0 {
			return false
		}
	}
	return true
}

// spendsSame reports whether b spends exactly the outpoints a spends.
func spendsSame(a, b *wire.MsgTx) bool {
	if len(a.TxIn) != len(b.TxIn) {
		return false
	}
	for i := range a.TxIn {
		if a.TxIn[i].PreviousOutPoint != b.TxIn[i].PreviousOutPoint {
			return false
		}
	}
	return true
}

// simDigest hashes n items of a feed: transactions and blocks in consensus serialization,
// events with their kind, hash, height and txid.
func simDigest(tb testing.TB, f actors.Feed, n int) string {
	tb.Helper()
	h := sha256.New()
	for i := range n {
		item, err := f.Next()
		if err != nil {
			tb.Fatalf("item %d: %v", i, err)
		}
		if item.Event == nil {
			h.Write([]byte{0})
			if err := item.Msg.Serialize(h); err != nil {
				tb.Fatal(err)
			}
			continue
		}
		e := item.Event
		h.Write([]byte{byte(e.Kind)})
		h.Write(e.Hash[:])
		_ = binary.Write(h, binary.LittleEndian, e.Height)
		h.Write([]byte(e.TxID))
		if e.Block != nil {
			if err := e.Block.Serialize(h); err != nil {
				tb.Fatal(err)
			}
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// TestSimFeedChain reads simulated feeds with blocks of several sizes and checks the chain
// they build: heights and parents chained, the blocks' spacing, every transaction mined
// exactly once unless removed, replacements that spend what they replace and are mined,
// drops never mined, and the documented shares of each.
func TestSimFeedChain(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		cfg        actors.SimConfig
		blocks     int
		txPerBlock int
	}{
		{"a block per transaction", actors.SimConfig{Seed: 3, TxPerBlock: 1}, 3000, 1},
		{"small blocks", actors.SimConfig{Seed: 1, TxPerBlock: 25}, 160, 25},
		{"default blocks", actors.SimConfig{Seed: 2}, 10, actors.DefaultSimTxPerBlock},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := readSim(t, newSimFeed(t, tt.cfg), tt.blocks, 20_000)

			checkSimBlocks(t, r, tt.txPerBlock)
			checkSimRemovals(t, r)
			drawn := r.drawn[tt.blocks-1]
			replaced := len(r.replacedBy)
			dropped := len(r.removed) - replaced
			if share := float64(replaced) / float64(drawn); share < 0.02 || share > 0.045 {
				t.Errorf("%d of %d transactions replaced (%.2f%%), want about 3.1%%", replaced,
					drawn, 100*share)
			}
			if share := float64(dropped) / float64(drawn); share < 0.01 || share > 0.03 {
				t.Errorf("%d of %d transactions dropped (%.2f%%), want about 2.0%%", dropped,
					drawn, 100*share)
			}
		})
	}
}

// checkSimBlocks checks the blocks of a run: chained heights and parents, txPerBlock
// simulated transactions apart, each mining transactions that arrived before it, once.
func checkSimBlocks(t *testing.T, r *simRun, txPerBlock int) {
	t.Helper()
	var prev *actors.ChainEvent
	for i, e := range r.blocks {
		b := e.Block
		want := int64(actors.SimStartHeight + i)
		if h, ok := bitcoin.CoinbaseHeight(b); e.Height != want || !ok || h != want {
			t.Fatalf("block %d: height %d, coinbase states %d (%v); want %d", i, e.Height, h,
				ok, want)
		}
		if e.Hash != b.BlockHash() || b.Header.MerkleRoot != bitcoin.MerkleRoot(b.Transactions) {
			t.Fatalf("block %d: hash or merkle root does not match its content", i)
		}
		if prev != nil && (b.Header.PrevBlock != prev.Hash ||
			b.Header.Timestamp.Before(prev.Block.Header.Timestamp)) {
			t.Fatalf("block %d: parent %s at %v, want %s at or after %v", i,
				b.Header.PrevBlock, b.Header.Timestamp, prev.Hash, prev.Block.Header.Timestamp)
		}
		if got := r.drawn[i]; got != (i+1)*txPerBlock {
			t.Fatalf("block %d comes after %d simulated transactions, want %d", i, got,
				(i+1)*txPerBlock)
		}
		if n := len(b.Transactions) - 1; n > 2*txPerBlock {
			t.Errorf("block %d mines %d transactions, want at most %d", i, n, 2*txPerBlock)
		}
		prev = e
	}

	blockAt := map[*actors.ChainEvent]int{}
	for i, item := range r.items {
		if item.Event != nil && item.Event.Kind == actors.BlockConnected {
			blockAt[item.Event] = i
		}
	}
	for _, e := range r.blocks {
		for _, tx := range e.Block.Transactions[1:] {
			txid := tx.TxHash().String()
			at, ok := r.arrived[txid]
			switch {
			case !ok || at > blockAt[e]:
				t.Fatalf("block %d mines %s, which did not arrive before it", e.Height, txid)
			case r.mined[txid] != 1:
				t.Fatalf("%s mined %d times, want once", txid, r.mined[txid])
			}
		}
	}
	for txid, at := range r.arrived {
		if at < r.cut && r.mined[txid] == 0 && r.removed[txid] == 0 {
			t.Errorf("%s arrived before the last block and was neither mined nor removed",
				txid)
		}
	}
}

// checkSimRemovals checks the removed transactions of a run: each arrived first, is removed
// once and never mined; a replacement spends the same outpoints, signals RBF, pays the
// same scripts a little less, and is mined.
func checkSimRemovals(t *testing.T, r *simRun) {
	t.Helper()
	for txid, n := range r.removed {
		at, ok := r.arrived[txid]
		switch {
		case !ok || n != 1:
			t.Fatalf("%s removed %d times, arrived %v; want once, after its arrival", txid, n,
				ok)
		case r.mined[txid] != 0:
			t.Fatalf("removed %s was mined", txid)
		}
		by, replaced := r.replacedBy[txid]
		if !replaced {
			continue
		}
		orig, bump := r.items[at].Msg, r.tx(by)
		if r.mined[by] != 1 {
			t.Errorf("replacement %s of %s mined %d times, want once", by, txid, r.mined[by])
		}
		if !bitcoin.Summarize(bump).RBF {
			t.Errorf("replacement %s does not signal RBF", by)
		}
		gave := bitcoin.Summarize(orig).ValueSat - bitcoin.Summarize(bump).ValueSat
		if len(bump.TxOut) != len(orig.TxOut) || gave <= 0 {
			t.Errorf("replacement %s: %d outputs giving %d sat to fees, want %d outputs "+
				"giving more", by, len(bump.TxOut), gave, len(orig.TxOut))
			continue
		}
		for i, out := range bump.TxOut {
			if !bytes.Equal(out.PkScript, orig.TxOut[i].PkScript) {
				t.Errorf("replacement %s output %d pays another script", by, i)
			}
		}
	}
}

// TestSimFeedDeterministic checks that the seed alone decides the feed: two feeds of one
// seed, and a feed rewound, yield the same bytes; another seed does not, though its chain
// starts on the same fixed parent.
func TestSimFeedDeterministic(t *testing.T) {
	t.Parallel()
	const n = 3000
	tests := []struct {
		name string
		cfg  actors.SimConfig
	}{
		{"small blocks", actors.SimConfig{Seed: 11, TxPerBlock: 30}},
		{"default blocks", actors.SimConfig{Seed: 12}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a, b := newSimFeed(t, tt.cfg), newSimFeed(t, tt.cfg)
			first := simDigest(t, a, n)
			if got := simDigest(t, b, n); got != first {
				t.Errorf("a second feed of seed %d: digest %s, want %s", tt.cfg.Seed, got, first)
			}
			if err := a.Rewind(); err != nil {
				t.Fatalf("Rewind: %v", err)
			}
			if got := simDigest(t, a, n); got != first {
				t.Errorf("after Rewind: digest %s, want %s", got, first)
			}
			other := tt.cfg
			other.Seed++
			if got := simDigest(t, newSimFeed(t, other), n); got == first {
				t.Errorf("seeds %d and %d yield the same items", tt.cfg.Seed, other.Seed)
			}

			one := readSim(t, newSimFeed(t, tt.cfg), 1, 20_000).blocks[0].Block
			two := readSim(t, newSimFeed(t, other), 1, 20_000).blocks[0].Block
			if one.Header.PrevBlock != two.Header.PrevBlock ||
				one.Header.PrevBlock == (chainhash.Hash{}) {
				t.Errorf("first parents %s and %s, want one fixed non-zero hash",
					one.Header.PrevBlock, two.Header.PrevBlock)
			}
		})
	}
}

func TestNewSimFeedConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		cfg       actors.SimConfig
		wantErr   bool
		wantFirst int // simulated transactions before the first block
	}{
		{"zero picks the default", actors.SimConfig{}, false, actors.DefaultSimTxPerBlock},
		{"small blocks", actors.SimConfig{TxPerBlock: 5}, false, 5},
		{"negative refused", actors.SimConfig{TxPerBlock: -1}, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f, err := actors.NewSimFeed(tt.cfg)
			if (err != nil) != tt.wantErr {
				t.Fatalf("NewSimFeed(%+v) error %v, want error %v", tt.cfg, err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if got := readSim(t, f, 1, 20_000).drawn[0]; got != tt.wantFirst {
				t.Errorf("first block after %d transactions, want %d", got, tt.wantFirst)
			}
		})
	}
}
