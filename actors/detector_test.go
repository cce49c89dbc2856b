package actors_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"testing"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/whalecast/whalecast/actors"
	"github.com/whalecast/whalecast/internal/alert"
	"github.com/whalecast/whalecast/internal/btcdtest"
)

// Block 277647's whales at 100 BTC, in block order, with their total output.
var block277647Whales = []struct {
	txid  string
	value int64
}{
	{"d385205568e5420bc73b190ede001678730d42744d0716d2c5c2b6467cf73082", 10_302_775_338},
	{"5143ba5524d21b646de5cd5a1ab6ee7b7823a59c87a347d3b5339e9f977e7dcd", 92_700_000_000},
	{"712db987272743dd6e02bdd00fd8a0718bbfd04d13495a97eb70cdc42c010b1e", 13_330_798_472},
}

// feedTxs reads every transaction a replay feed of spec yields.
func feedTxs(tb testing.TB, spec string) []*wire.MsgTx {
	tb.Helper()
	feed, err := actors.NewReplayFeed(spec)
	if err != nil {
		tb.Fatalf("open replay %s: %v", spec, err)
	}
	defer feed.Close()
	var out []*wire.MsgTx
	for {
		ftx, err := feed.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			tb.Fatalf("replay %s after %d transactions: %v", spec, len(out), err)
		}
		if ftx.Event == nil {
			out = append(out, ftx.Msg)
		}
	}
}

// The replays are read once per test binary: decoding the early chain takes a while.
var (
	blockOnce, chainOnce sync.Once
	blockTxs, chainTxs   []*wire.MsgTx
)

// block277647Txs returns the 212 non-coinbase transactions of block 277647, in block order.
func block277647Txs(tb testing.TB) []*wire.MsgTx {
	tb.Helper()
	path := btcdtest.Block277647(tb)
	blockOnce.Do(func() { blockTxs = feedTxs(tb, path) })
	if len(blockTxs) != 212 {
		tb.Fatalf("block 277647 replays %d transactions, want 212", len(blockTxs))
	}
	return blockTxs
}

// earlyChainTxs returns the non-coinbase transactions of mainnet blocks 0 to 14131.
func earlyChainTxs(tb testing.TB) []*wire.MsgTx {
	tb.Helper()
	path := btcdtest.EarlyChain(tb)
	chainOnce.Do(func() { chainTxs = feedTxs(tb, path) })
	if len(chainTxs) == 0 {
		tb.Fatalf("the early chain replays no transaction")
	}
	return chainTxs
}

// spawnDetector returns a detector with rules whose candidates and acknowledgements go to a
// recorder.
func spawnDetector(tb testing.TB, sys *actor.ActorSystem, stats *actors.Stats,
	rules ...actors.Rule) (*actor.PID, *recorder, *actor.PID) {
	tb.Helper()
	rec, recPID := spawnRecorder(tb, sys)
	pid := sys.Root.Spawn(actors.NewDetectorProps(rules, recPID, stats, discardLogger()))
	tb.Cleanup(func() { _ = sys.Root.StopFuture(pid).Wait() })
	return pid, rec, recPID
}

// feed sends txs to the detector with ordinals first, first+1, ...; raw sends their bytes
// instead of the decoded form. It returns the last ordinal.
func feed(tb testing.TB, sys *actor.ActorSystem, detector, replyTo *actor.PID,
	txs []*wire.MsgTx, first uint64, raw bool) uint64 {
	tb.Helper()
	ord := first
	for _, tx := range txs {
		m := &actors.Tx{Ordinal: ord, Msg: tx, SeenAt: testStart, ReplyTo: replyTo}
		if raw {
			var buf bytes.Buffer
			if err := tx.Serialize(&buf); err != nil {
				tb.Fatalf("serialize %s: %v", tx.TxHash(), err)
			}
			m.Msg, m.Raw = nil, buf.Bytes()
		}
		sys.Root.Send(detector, m)
		ord++
	}
	return ord - 1
}

func TestDetectorBlock277647(t *testing.T) {
	t.Parallel()
	txs := block277647Txs(t)
	tests := []struct {
		name string
		raw  bool
	}{
		{"decoded transactions", false},
		{"raw bytes", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sys := newActorSystem(t, nil)
			stats := actors.NewStats(testStart)
			det, rec, recPID := spawnDetector(t, sys, stats,
				actors.LargeValue{MinSat: 100 * alert.SatPerBTC})

			last := feed(t, sys, det, recPID, txs, 1, tt.raw)
			rec.waitAcked(t, last)
			rec.mu.Lock()
			got := slices.Clone(rec.candidates)
			rec.mu.Unlock()
			if len(got) != len(block277647Whales) {
				t.Fatalf("got %d alerts %v, want %d", len(got), rec.txids(), len(block277647Whales))
			}
			for i, w := range block277647Whales {
				a := got[i]
				if a.TxID != w.txid || a.ValueSat != w.value {
					t.Errorf("alert %d: %s %d sat, want %s %d sat", i, a.TxID, a.ValueSat,
						w.txid, w.value)
				}
				if a.Detector != "large_value" || !a.FirstSeen.Equal(testStart) || a.Test {
					t.Errorf("alert %d: detector %q first_seen %v test %v, want large_value %v "+
						"false", i, a.Detector, a.FirstSeen, a.Test, testStart)
				}
				if a.Outputs < 1 || a.LargestOutputSat > a.ValueSat || a.VSize <= 0 {
					t.Errorf("alert %d: outputs %d largest %d vsize %d do not add up", i,
						a.Outputs, a.LargestOutputSat, a.VSize)
				}
			}

			again := feed(t, sys, det, recPID, txs, last+1, tt.raw)
			rec.waitAcked(t, again)
			if n := len(rec.txids()); n != 3 {
				t.Errorf("after the same block again: %d alerts, want still 3", n)
			}
			counters := []struct {
				name      string
				got, want int64
			}{
				{"TxsReceived", stats.TxsReceived.Load(), 2 * 212},
				{"AlertsDetected", stats.AlertsDetected.Load(), 3},
				{"DuplicateTxs", stats.DuplicateTxs.Load(), 3},
				{"TxDecodeErrors", stats.TxDecodeErrors.Load(), 0},
			}
			for _, c := range counters {
				if c.got != c.want {
					t.Errorf("%s %d, want %d", c.name, c.got, c.want)
				}
			}
		})
	}
}

func TestDetectorEarlyChain(t *testing.T) {
	t.Parallel()
	txs := earlyChainTxs(t)
	tests := []struct {
		name   string
		minBTC int64
		want   int
	}{
		{"100 BTC", 100, 66},
		{"1,000 BTC", 1000, 15},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sys := newActorSystem(t, nil)
			stats := actors.NewStats(testStart)
			det, rec, recPID := spawnDetector(t, sys, stats,
				actors.LargeValue{MinSat: tt.minBTC * alert.SatPerBTC})
			rec.waitAcked(t, feed(t, sys, det, recPID, txs, 1, false))

			rec.mu.Lock()
			defer rec.mu.Unlock()
			if len(rec.candidates) != tt.want {
				t.Errorf("%d alerts, want %d", len(rec.candidates), tt.want)
			}
			for _, a := range rec.candidates {
				if a.ValueSat < tt.minBTC*alert.SatPerBTC {
					t.Errorf("alert %s of %d sat is under the threshold", a.TxID, a.ValueSat)
				}
			}
			if got := stats.TxsReceived.Load(); got != int64(len(txs)) {
				t.Errorf("TxsReceived %d, want %d", got, len(txs))
			}
		})
	}
}

func TestDetectorRejectsUndecodable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		raw  []byte
	}{
		{"empty", nil},
		{"garbage", []byte("definitely not a transaction")},
		{"truncated", []byte{0x01, 0x00, 0x00, 0x00, 0x01}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sys := newActorSystem(t, nil)
			stats := actors.NewStats(testStart)
			det, rec, recPID := spawnDetector(t, sys, stats, actors.LargeValue{MinSat: 0})
			sys.Root.Send(det, &actors.Tx{Ordinal: 1, Raw: tt.raw, ReplyTo: recPID})
			rec.waitAcked(t, 1)
			if got := stats.TxDecodeErrors.Load(); got != 1 {
				t.Errorf("TxDecodeErrors %d, want 1", got)
			}
			if got := rec.txids(); len(got) != 0 {
				t.Errorf("alerts %v for an undecodable transaction, want none", got)
			}
		})
	}
}

// firstRuleWins names its alerts "first" and matches every transaction over MinSat.
type firstRuleWins struct{ actors.LargeValue }

func (firstRuleWins) Name() string { return "first" }

func TestDetectorFirstMatchingRuleNamesAlert(t *testing.T) {
	t.Parallel()
	txs := block277647Txs(t)
	sys := newActorSystem(t, nil)
	stats := actors.NewStats(testStart)
	det, rec, recPID := spawnDetector(t, sys, stats,
		firstRuleWins{actors.LargeValue{MinSat: 500 * alert.SatPerBTC}},
		actors.LargeValue{MinSat: 100 * alert.SatPerBTC})
	rec.waitAcked(t, feed(t, sys, det, recPID, txs, 1, false))

	rec.mu.Lock()
	defer rec.mu.Unlock()
	var got []string
	for _, a := range rec.candidates {
		got = append(got, a.Detector)
	}
	if want := "[large_value first large_value]"; fmt.Sprint(got) != want {
		t.Errorf("detectors %v, want %s: the 927 BTC one matches the first rule", got, want)
	}
}
