package system_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/whalecast/whalecast/internal/auth"
	"github.com/whalecast/whalecast/internal/chaintest"
)

// lifecycleExtra is what an alert_update carries besides wantRecord's fields.
type lifecycleExtra struct {
	ConflictedBy string `json:"conflicted_by"`
	BlockHash    string `json:"block_hash"`
}

func extraOf(tb testing.TB, m serverMsg) lifecycleExtra {
	tb.Helper()
	var f struct {
		Data lifecycleExtra `json:"data"`
	}
	if err := json.Unmarshal(m.Raw, &f); err != nil {
		tb.Fatalf("decode %s: %v", m.Raw, err)
	}
	return f.Data
}

// writeReplay writes blocks as a replay text file, one hex block per line.
func writeReplay(tb testing.TB, blocks ...*wire.MsgBlock) string {
	tb.Helper()
	lines := make([]string, len(blocks))
	for i, b := range blocks {
		lines[i] = chaintest.Hex(tb, b)
	}
	path := filepath.Join(tb.TempDir(), "chain.hex")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}

// update returns the alert_update record of whale i (0..2 of block 277647).
func update(seq uint64, i int, status, previous string, height, confirmations int64,
	final bool) wantRecord {
	w := block277647[i]
	return wantRecord{typ: "alert_update", seq: seq, txid: w.txid, valueSat: w.valueSat,
		status: status, previous: previous, alertSeq: w.seq, height: height,
		confirmations: confirmations, final: final}
}

// TestLifecycleReplayedReorg replays mainnet block 277647, then a competing block on the
// same parent, and checks the exact records a live client and a resuming client receive.
func TestLifecycleReplayedReorg(t *testing.T) {
	block, hash, h := chaintest.Block277647(t)
	big := chaintest.Biggest(block) // wantWhales[1], 927 BTC
	ds := chaintest.Spender(big, 1)
	prev := block.Header.PrevBlock
	rival, rivalHash := chaintest.BlockOn(prev, h, 1,
		append(chaintest.Without(block, big), ds)...)
	same, _ := chaintest.BlockOn(prev, h, 2, block.Transactions[1:]...)
	// Five blocks on the rival: the block that mined both outcomes then has six
	// confirmations, and every alert settles.
	var onRival []*wire.MsgBlock
	tip := rivalHash
	for i := range int64(5) {
		var b *wire.MsgBlock
		b, tip = chaintest.BlockOn(tip, h+1+i, 0)
		onRival = append(onRival, b)
	}

	tests := []struct {
		name   string
		blocks []*wire.MsgBlock
		want   []wantRecord
		// conflicted is the seq of the update that must name ds as conflicting.
		conflicted uint64
	}{{
		name:   "the rival mines a double spend of the 927 BTC whale, then settles",
		blocks: append([]*wire.MsgBlock{block, rival}, onRival...),
		want: append(slices277647(), update(7, 0, "reorged", "confirmed", h, 0, false),
			update(8, 1, "reorged", "confirmed", h, 0, false),
			update(9, 2, "reorged", "confirmed", h, 0, false),
			update(10, 0, "confirmed", "reorged", h, 1, false),
			update(11, 2, "confirmed", "reorged", h, 1, false),
			update(12, 1, "conflicted", "reorged", h, 0, false),
			update(13, 0, "confirmed", "confirmed", h, 6, true),
			update(14, 1, "conflicted", "conflicted", h, 0, true),
			update(15, 2, "confirmed", "confirmed", h, 6, true)),
		conflicted: 12,
	}, {
		name:   "the rival mines the same transactions",
		blocks: []*wire.MsgBlock{block, same},
		want: append(slices277647(), update(7, 0, "reorged", "confirmed", h, 0, false),
			update(8, 1, "reorged", "confirmed", h, 0, false),
			update(9, 2, "reorged", "confirmed", h, 0, false),
			update(10, 0, "confirmed", "reorged", h, 1, false),
			update(11, 1, "confirmed", "reorged", h, 1, false),
			update(12, 2, "confirmed", "reorged", h, 1, false)),
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := replayConfig(t)
			cfg.Source = "replay:" + writeReplay(t, tt.blocks...)
			te := startEngine(t, cfg)
			tok := token(t, "watcher", auth.PermRead)

			live := dial(t, te.wsURL())
			authenticate(t, live, tok, 0)
			got := readRecords(t, live, len(tt.want))
			checkRecords(t, got, tt.want)
			te.waitLastSeq(t, uint64(len(tt.want)))
			expectNothing(t, live, quiet)
			checkBlocks(t, got, hash, tt.conflicted, ds.TxHash().String())

			// A client resuming after the reorg gets the same history from its seq on.
			for _, since := range []uint64{0, 5, 9} {
				c := dial(t, te.wsURL())
				authenticate(t, c, tok, int64(since))
				checkRecords(t, readRecords(t, c, len(tt.want)-int(since)), tt.want[since:])
				expectNothing(t, c, quiet)
			}
		})
	}
}

// slices277647 returns a copy of the records of block 277647.
func slices277647() []wantRecord {
	return append([]wantRecord(nil), block277647...)
}

// checkBlocks checks that the reorged updates name the disconnected block and that the
// conflicted one names the double spend.
func checkBlocks(tb testing.TB, got []serverMsg, disconnected chainhash.Hash,
	conflicted uint64, ds string) {
	tb.Helper()
	for _, m := range got {
		x := extraOf(tb, m)
		if m.Data.Status == "reorged" && x.BlockHash != disconnected.String() {
			tb.Errorf("seq %d reorged in block %s, want %s", m.Seq, x.BlockHash, disconnected)
		}
		if m.Seq == conflicted && x.ConflictedBy != ds {
			tb.Errorf("seq %d conflicted by %q, want %s", m.Seq, x.ConflictedBy, ds)
		}
	}
}
