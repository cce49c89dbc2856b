package system_test

import (
	"testing"

	"github.com/whalecast/whalecast/internal/auth"
	"github.com/whalecast/whalecast/internal/btcdtest"
)

// earlyWhales is how many transactions of 100 BTC or more blocks 0 to 14131 hold.
const earlyWhales = 66

// TestResumeAcrossRestart runs three engines one after another on one data directory. Each
// phase's client resumes from what the previous one saw; together they must see every seq
// once, densely, and the store must never number an alert twice.
func TestResumeAcrossRestart(t *testing.T) {
	dataDir := t.TempDir()
	block := btcdtest.Block277647(t)
	early := btcdtest.EarlyChain(t)
	tok := token(t, "resumer", auth.PermRead)

	phases := []struct {
		name   string
		source string
		// txs is how many transactions the source feeds in all.
		txs   int64
		since int64
		// read is how many alerts the client reads; it stops there.
		read     int
		wantSeqs []uint64
		wantLast uint64
		// wantStored is how many alerts this engine stores.
		wantStored int64
	}{
		{name: "first run, client reads seq 1 only", source: block, txs: txsIn277647,
			since: 0, read: 1, wantSeqs: []uint64{1}, wantLast: 3, wantStored: 3},
		{name: "same block again adds nothing", source: block, txs: txsIn277647,
			since: 1, read: 2, wantSeqs: []uint64{2, 3}, wantLast: 3, wantStored: 0},
		{name: "early chain numbers on from 4", source: block + "," + early,
			txs: txsIn277647 + 115, since: 1, read: 2 + earlyWhales,
			wantSeqs: seqRange(2, 3+earlyWhales), wantLast: 3 + earlyWhales,
			wantStored: earlyWhales},
	}
	seen := map[string]uint64{}
	for _, ph := range phases {
		t.Run(ph.name, func(t *testing.T) {
			cfg := replayConfig(t)
			cfg.DataDir = dataDir
			cfg.Source = "replay:" + ph.source
			te := startEngine(t, cfg)

			c := dial(t, te.wsURL())
			authenticate(t, c, tok, ph.since)
			alerts := readAlerts(t, c, ph.read)
			for i, m := range alerts {
				if m.Seq != ph.wantSeqs[i] {
					t.Fatalf("alert %d: got seq %d, want %d", i, m.Seq, ph.wantSeqs[i])
				}
				if prev, ok := seen[m.Data.TxID]; ok && prev != m.Seq {
					t.Errorf("txid %s: got seq %d, but it was seq %d before", m.Data.TxID,
						m.Seq, prev)
				}
				seen[m.Data.TxID] = m.Seq
				if m.Seq <= 3 && m.Data.TxID != wantWhales[m.Seq-1] {
					t.Errorf("seq %d: got txid %s, want %s", m.Seq, m.Data.TxID,
						wantWhales[m.Seq-1])
				}
			}

			te.waitTxs(t, ph.txs)
			te.waitLastSeq(t, ph.wantLast)
			if ph.read == len(ph.wantSeqs) && ph.wantSeqs[len(ph.wantSeqs)-1] == ph.wantLast {
				expectNothing(t, c, quiet)
			}
			// Closing first spares the shutdown its wait for the client's close reply.
			_ = c.Close()
			te.shutdown(t)
			if got := te.Stats().AlertsStored.Load(); got != ph.wantStored {
				t.Errorf("alerts stored by this engine: got %d, want %d", got, ph.wantStored)
			}
			if got := te.Store().LastSeq(); got != ph.wantLast {
				t.Errorf("last seq after shutdown: got %d, want %d", got, ph.wantLast)
			}
		})
	}
}

// seqRange returns first, first+1, ..., last.
func seqRange(first, last uint64) []uint64 {
	out := make([]uint64, 0, last-first+1)
	for s := first; s <= last; s++ {
		out = append(out, s)
	}
	return out
}
