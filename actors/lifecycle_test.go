package actors_test

import (
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/whalecast/whalecast/actors"
	"github.com/whalecast/whalecast/internal/alert"
	"github.com/whalecast/whalecast/internal/bitcoin"
	"github.com/whalecast/whalecast/internal/chaintest"
)

// realBlock loads mainnet block 277647 from the btcd module.
func realBlock(tb testing.TB) (*wire.MsgBlock, chainhash.Hash) {
	b, h, _ := chaintest.Block277647(tb)
	return b, h
}

var (
	biggest = chaintest.Biggest
	spender = chaintest.Spender
)

// blockWith returns a block on top of prev holding a coinbase for height and txs.
func blockWith(prev chainhash.Hash, height int64, txs ...*wire.MsgTx) (*wire.MsgBlock,
	chainhash.Hash) {
	return chaintest.BlockOn(prev, height, 0, txs...)
}

// lcEvent is one step of a lifecycle scenario.
type lcEvent struct {
	name string
	run  func(l *actors.Lifecycle, now time.Time) []actors.Change
}

// step describes an update as a scenario expects it.
type step struct {
	Status, Previous   alert.Status
	Height             int64
	Confirmations      int64
	ReplacedBy, Confl  string
	Final              bool
	BlockHashIsPresent bool
}

func stepOf(c actors.Change) step {
	u := c.Update
	return step{Status: u.Status, Previous: u.Previous, Height: u.Height,
		Confirmations: u.Confirmations, ReplacedBy: u.ReplacedBy, Confl: u.ConflictedBy,
		Final: u.Final, BlockHashIsPresent: u.BlockHash != ""}
}

func TestLifecycleTransitions(t *testing.T) {
	block, hash := realBlock(t)
	height, _ := bitcoin.CoinbaseHeight(block)
	whale := biggest(block)
	whaleID := whale.TxHash().String()
	rbf := spender(whale, 1)
	rbfID := rbf.TxHash().String()
	ds := spender(whale, 2)
	dsID := ds.TxHash().String()
	prev := block.Header.PrevBlock
	withoutWhale := slices.DeleteFunc(slices.Clone(block.Transactions[1:]),
		func(tx *wire.MsgTx) bool { return tx == whale })
	rival, rivalHash := blockWith(prev, height, append(withoutWhale, ds)...)
	again, againHash := blockWith(prev, height, whale)
	mined, minedHash := blockWith(prev, height, rbf)

	observe := func(tx *wire.MsgTx) lcEvent {
		return lcEvent{"observe " + tx.TxHash().String()[:8],
			func(l *actors.Lifecycle, now time.Time) []actors.Change {
				return l.Observe(tx, tx.TxHash().String(), now)
			}}
	}
	connect := func(b *wire.MsgBlock, h chainhash.Hash, height int64) lcEvent {
		return lcEvent{"connect", func(l *actors.Lifecycle, now time.Time) []actors.Change {
			return l.Connect(b, h, height, now)
		}}
	}
	emptyBlocks := func(from chainhash.Hash, first int64, n int) []lcEvent {
		var out []lcEvent
		for i := range n {
			b, h := blockWith(from, first+int64(i))
			out = append(out, connect(b, h, first+int64(i)))
			from = h
		}
		return out
	}
	disconnect := func(h chainhash.Hash) lcEvent {
		return lcEvent{"disconnect", func(l *actors.Lifecycle, now time.Time) []actors.Change {
			return l.Disconnect(h, now)
		}}
	}
	removed := lcEvent{"removed", func(l *actors.Lifecycle, now time.Time) []actors.Change {
		l.Removed(whaleID, now)
		return nil
	}}
	tick := lcEvent{"tick", func(l *actors.Lifecycle, now time.Time) []actors.Change {
		return l.Tick(now.Add(actors.DefaultRemovalGrace))
	}}
	snapshotWithout := lcEvent{"snapshot", func(l *actors.Lifecycle,
		now time.Time) []actors.Change {
		return l.MempoolSnapshot(map[string]struct{}{"other": {}}, now)
	}}
	snapshotWith := lcEvent{"snapshot with it", func(l *actors.Lifecycle,
		now time.Time) []actors.Change {
		return l.MempoolSnapshot(map[string]struct{}{"other": {}, whaleID: {}}, now)
	}}

	tests := []struct {
		name   string
		events []lcEvent
		want   []step
	}{{
		name:   "confirmed, then final after six blocks",
		events: append([]lcEvent{connect(block, hash, height)}, emptyBlocks(hash, height+1, 5)...),
		want: []step{
			{Status: "confirmed", Previous: "mempool", Height: height, Confirmations: 1,
				BlockHashIsPresent: true},
			{Status: "confirmed", Previous: "confirmed", Height: height, Confirmations: 6,
				Final: true, BlockHashIsPresent: true},
		},
	}, {
		name:   "announced twice changes nothing",
		events: []lcEvent{observe(whale), observe(whale), tick},
	}, {
		name:   "rbf replacement: removed, then the replacement added",
		events: []lcEvent{removed, observe(rbf), tick},
		want:   []step{{Status: "replaced", Previous: "mempool", ReplacedBy: rbfID}},
	}, {
		name:   "replacement seen, then mined: replaced stays",
		events: []lcEvent{observe(rbf), tick, connect(mined, minedHash, height)},
		want:   []step{{Status: "replaced", Previous: "mempool", ReplacedBy: rbfID}},
	}, {
		name:   "double spend mined without a mempool sighting",
		events: []lcEvent{removed, connect(rival, rivalHash, height)},
		want: []step{{Status: "conflicted", Previous: "mempool", Height: height, Confl: dsID,
			BlockHashIsPresent: true}},
	}, {
		name:   "conflict announced, then mined within the grace: conflicted",
		events: []lcEvent{observe(ds), connect(rival, rivalHash, height), tick},
		want: []step{{Status: "conflicted", Previous: "mempool", Height: height, Confl: dsID,
			BlockHashIsPresent: true}},
	}, {
		name:   "dropped, then back",
		events: []lcEvent{removed, tick, observe(whale)},
		want: []step{{Status: "dropped", Previous: "mempool"},
			{Status: "mempool", Previous: "dropped"}},
	}, {
		name:   "missing from a resync snapshot: dropped",
		events: []lcEvent{snapshotWithout, tick},
		want:   []step{{Status: "dropped", Previous: "mempool"}},
	}, {
		name:   "dropped, then present in a resync snapshot: back",
		events: []lcEvent{removed, tick, snapshotWith},
		want: []step{{Status: "dropped", Previous: "mempool"},
			{Status: "mempool", Previous: "dropped"}},
	}, {
		name:   "replaced, then present in a resync snapshot: back, as when seen again",
		events: []lcEvent{removed, observe(rbf), tick, snapshotWith},
		want: []step{{Status: "replaced", Previous: "mempool", ReplacedBy: rbfID},
			{Status: "mempool", Previous: "replaced"}},
	}, {
		name:   "replaced, then seen again: back",
		events: []lcEvent{removed, observe(rbf), tick, observe(whale)},
		want: []step{{Status: "replaced", Previous: "mempool", ReplacedBy: rbfID},
			{Status: "mempool", Previous: "replaced"}},
	}, {
		name: "reorg: confirmed, disconnected, confirmed again in the rival block",
		events: []lcEvent{connect(block, hash, height), disconnect(hash),
			connect(again, againHash, height)},
		want: []step{
			{Status: "confirmed", Previous: "mempool", Height: height, Confirmations: 1,
				BlockHashIsPresent: true},
			{Status: "reorged", Previous: "confirmed", Height: height,
				BlockHashIsPresent: true},
			{Status: "confirmed", Previous: "reorged", Height: height, Confirmations: 1,
				BlockHashIsPresent: true},
		},
	}, {
		name: "reorg: the rival block mines a double spend",
		events: []lcEvent{connect(block, hash, height), disconnect(hash),
			connect(rival, rivalHash, height)},
		want: []step{
			{Status: "confirmed", Previous: "mempool", Height: height, Confirmations: 1,
				BlockHashIsPresent: true},
			{Status: "reorged", Previous: "confirmed", Height: height,
				BlockHashIsPresent: true},
			{Status: "conflicted", Previous: "reorged", Height: height, Confl: dsID,
				BlockHashIsPresent: true},
		},
	}, {
		name:   "a block seen twice counts once",
		events: []lcEvent{connect(block, hash, height), connect(block, hash, height)},
		want: []step{{Status: "confirmed", Previous: "mempool", Height: height,
			Confirmations: 1, BlockHashIsPresent: true}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := actors.NewLifecycle(actors.LifecycleConfig{})
			now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
			a := alert.Alert{TxID: whaleID, ValueSat: bitcoin.Summarize(whale).ValueSat,
				Detector: "large_value"}
			if _, ok := l.Track(a, whale); !ok {
				t.Fatal("Track refused a new alert")
			}
			var got []step
			for _, ev := range tt.events {
				now = now.Add(time.Second)
				for _, c := range ev.run(l, now) {
					if c.Update.TxID != whaleID || c.Update.ValueSat != a.ValueSat ||
						c.Update.Detector != "large_value" {
						t.Errorf("%s: update %+v does not describe the alert", ev.name, c.Update)
					}
					got = append(got, stepOf(c))
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("updates:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestLifecycleRestoreGoesOn(t *testing.T) {
	block, hash := realBlock(t)
	height, _ := bitcoin.CoinbaseHeight(block)
	whale := biggest(block)
	whaleID := whale.TxHash().String()

	first := actors.NewLifecycle(actors.LifecycleConfig{})
	state, ok := first.Track(alert.Alert{TxID: whaleID, Detector: "large_value"}, whale)
	if !ok {
		t.Fatal("Track refused a new alert")
	}
	now := time.Now()
	changes := first.Connect(block, hash, height, now)
	if len(changes) != 1 || changes[0].State == nil {
		t.Fatalf("Connect changes %+v, want one confirmation with its state", changes)
	}

	second := actors.NewLifecycle(actors.LifecycleConfig{})
	for _, s := range [][]byte{state, changes[0].State} {
		if err := second.Restore(s); err != nil {
			t.Fatal(err)
		}
	}
	if st, _ := second.Status(whaleID); st != alert.StatusConfirmed {
		t.Fatalf("restored status %q, want confirmed", st)
	}
	if second.Tip() != height {
		t.Errorf("restored tip %d, want %d", second.Tip(), height)
	}
	if _, ok := second.Track(alert.Alert{TxID: whaleID}, whale); ok {
		t.Error("a restored alert was tracked again")
	}
	// The restored outpoint index still finds a double spend.
	rival, rivalHash := blockWith(block.Header.PrevBlock, height, spender(whale, 9))
	second.Disconnect(hash, now)
	got := second.Connect(rival, rivalHash, height, now)
	if len(got) != 1 || got[0].Update.Status != alert.StatusConflicted {
		t.Fatalf("after restore, a mined double spend gave %+v, want conflicted", got)
	}

	for _, bad := range []string{`{`, `{"txid":"","status":"mempool"}`,
		`{"txid":"ab","status":"lost"}`} {
		if err := second.Restore([]byte(bad)); err == nil {
			t.Errorf("Restore(%s) = nil, want an error", bad)
		}
	}
	var decoded map[string]any
	if err := json.Unmarshal(state, &decoded); err != nil || decoded["spends"] == nil {
		t.Errorf("state %s does not list the spent outpoints", state)
	}
}

func TestLifecycleBoundsTracked(t *testing.T) {
	block, _ := realBlock(t)
	l := actors.NewLifecycle(actors.LifecycleConfig{MaxTracked: 3})
	var ids []string
	for _, tx := range block.Transactions[1:6] {
		id := tx.TxHash().String()
		ids = append(ids, id)
		l.Track(alert.Alert{TxID: id}, tx)
	}
	if l.Tracked() != 3 {
		t.Fatalf("tracked %d, want the bound 3", l.Tracked())
	}
	for i, id := range ids {
		_, ok := l.Status(id)
		if want := i >= 2; ok != want {
			t.Errorf("alert %d tracked = %v, want %v (the oldest go first)", i, ok, want)
		}
	}
}

func TestLifecycleBoundsInputs(t *testing.T) {
	big := wire.NewMsgTx(2)
	for i := range actors.MaxTrackedInputs + 500 {
		big.AddTxIn(&wire.TxIn{PreviousOutPoint: wire.OutPoint{Index: uint32(i)}})
	}
	big.AddTxOut(wire.NewTxOut(300*alert.SatPerBTC, []byte{0x51}))
	l := actors.NewLifecycle(actors.LifecycleConfig{})
	state, ok := l.Track(alert.Alert{TxID: big.TxHash().String()}, big)
	if !ok {
		t.Fatal("Track refused a new alert")
	}
	var decoded struct {
		Spends []string `json:"spends"`
	}
	if err := json.Unmarshal(state, &decoded); err != nil {
		t.Fatal(err)
	}
	if len(decoded.Spends) != actors.MaxTrackedInputs {
		t.Errorf("state holds %d outpoints, want the bound %d", len(decoded.Spends),
			actors.MaxTrackedInputs)
	}
	if len(state) > 100_000 {
		t.Errorf("state of %d bytes, want it well under the store's 1 MiB bound", len(state))
	}
}

// TestReplaySkipsABlockListedTwice replays a file holding the same block twice, as overlapping
// globs would: the second copy is neither a reorg nor a new block.
func TestReplaySkipsABlockListedTwice(t *testing.T) {
	block, _ := realBlock(t)
	line := chaintest.Hex(t, block)
	path := filepath.Join(t.TempDir(), "twice.hex")
	if err := os.WriteFile(path, []byte(line+"\n"+line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	feed, err := actors.NewReplayFeed(path)
	if err != nil {
		t.Fatal(err)
	}
	defer feed.Close()
	events := map[actors.EventKind]int{}
	txs := 0
	for range 1000 {
		item, err := feed.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if item.Event != nil {
			events[item.Event.Kind]++
		} else {
			txs++
		}
	}
	if txs != len(block.Transactions)-1 || events[actors.BlockConnected] != 1 ||
		events[actors.BlockDisconnected] != 0 {
		t.Errorf("replay gave %d txs and events %v, want %d txs and one connection",
			txs, events, len(block.Transactions)-1)
	}
}
