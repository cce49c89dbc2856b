package system_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/whalecast/whalecast/internal/alert"
	"github.com/whalecast/whalecast/internal/auth"
	"github.com/whalecast/whalecast/internal/btcdtest"
)

// What the early chain (btcd's blk_0_to_14131.dat) feeds: blocks 0 to 14131, their
// non-coinbase transactions, and those of 100 BTC or more among them.
const (
	blocksInEarlyChain = 14132
	txsInEarlyChain    = 115
	earlyWhales        = 66
)

// TestResumeAcrossRestart runs three engines one after another on one data directory. The
// expectation is read from the store once each engine is idle: each phase's client resumes
// from the last seq the previous one saw and must receive exactly the stored records after
// it, in order, with no gap and no duplicate; in the last phase a client resuming from 0
// receives the whole store. Across the restarts a stored record never changes, a whale keeps
// the seq of its alert, and its updates follow its lifecycle.
func TestResumeAcrossRestart(t *testing.T) {
	dataDir := t.TempDir()
	block := btcdtest.Block277647(t)
	early := btcdtest.EarlyChain(t)
	tok := token(t, "resumer", auth.PermRead)

	phases := []struct {
		name   string
		source string
		// txs and blocks are how many transactions and block connections the source feeds.
		txs, blocks int64
		// read is how many records the client reads before it leaves; 0 reads them all.
		read int
		// wantAlerts is how many alerts this engine stores.
		wantAlerts int64
		// fromZero adds a second client that resumes from seq 0.
		fromZero bool
	}{
		{name: "first run, client reads seq 1 only", source: block, txs: txsIn277647,
			blocks: 1, read: 1, wantAlerts: 3},
		{name: "same block again adds nothing", source: block, txs: txsIn277647,
			blocks: 1, wantAlerts: 0},
		{name: "early chain numbers on", source: block + "," + early,
			txs: txsIn277647 + txsInEarlyChain, blocks: 1 + blocksInEarlyChain,
			wantAlerts: earlyWhales, fromZero: true},
	}
	var (
		since  uint64         // the last seq a client saw
		before []alert.Stored // the store after the previous phase
	)
	life := newLifecycles()
	for _, ph := range phases {
		ok := t.Run(ph.name, func(t *testing.T) {
			cfg := replayConfig(t)
			cfg.DataDir = dataDir
			cfg.Source = "replay:" + ph.source
			te := startEngine(t, cfg)
			c := dial(t, te.wsURL())
			authenticate(t, c, tok, int64(since))

			last := te.waitIdle(t, ph.txs, ph.blocks)
			stored := storedRecords(t, te)
			checkStore(t, stored, before, last)
			life.check(t, stored[len(before):], cfg.SettleBlocks, te.Stats().ChainTip.Load())

			want := stored[since:]
			if ph.read > 0 {
				want = want[:ph.read]
			}
			got := readRecords(t, c, len(want))
			checkFrames(t, got, want)
			if ph.read == 0 {
				expectNothing(t, c, quiet)
			}
			if len(got) > 0 {
				since = got[len(got)-1].Seq
			}
			if ph.fromZero {
				c0 := dial(t, te.wsURL())
				authenticate(t, c0, tok, 0)
				checkFrames(t, readRecords(t, c0, len(stored)), stored)
				expectNothing(t, c0, quiet)
				_ = c0.Close()
			}

			// Closing first spares the shutdown its wait for the client's close reply.
			_ = c.Close()
			te.shutdown(t)
			newRecords := stored[len(before):]
			if got := te.Stats().AlertsStored.Load(); got != ph.wantAlerts {
				t.Errorf("alerts stored by this engine: got %d, want %d", got, ph.wantAlerts)
			}
			if got, want := te.Stats().UpdatesStored.Load(),
				int64(len(newRecords))-ph.wantAlerts; got != want {
				t.Errorf("updates stored by this engine: got %d, want %d", got, want)
			}
			if got := te.Store().LastSeq(); got != last {
				t.Errorf("last seq after shutdown: got %d, want %d (stored while idle?)", got,
					last)
			}
			before = stored
		})
		if !ok {
			return
		}
	}
}

// waitIdle waits until the engine handled txs transactions and blocks block connections,
// and then until its store kept the same last seq for quiet; it returns that seq.
func (te *testEngine) waitIdle(tb testing.TB, txs, blocks int64) uint64 {
	tb.Helper()
	st := te.Stats()
	waitFor(tb, fmt.Sprintf("%d transactions and %d blocks", txs, blocks), func() bool {
		return st.TxsReceived.Load() >= txs && st.BlocksConnected.Load() >= blocks
	})
	last, still := te.Store().LastSeq(), time.Now()
	waitFor(tb, "the store to stay still for "+quiet.String(), func() bool {
		if seq := te.Store().LastSeq(); seq != last {
			last, still = seq, time.Now()
		}
		return time.Since(still) >= quiet
	})
	if got := st.TxsReceived.Load(); got != txs {
		tb.Errorf("transactions handled: got %d, want %d", got, txs)
	}
	if got := st.BlocksConnected.Load(); got != blocks {
		tb.Errorf("blocks connected: got %d, want %d", got, blocks)
	}
	return last
}

// maxStorePages bounds the pages storedRecords reads.
const maxStorePages = 1000

// storedRecords returns every record of the engine's store, in seq order.
func storedRecords(tb testing.TB, te *testEngine) []alert.Stored {
	tb.Helper()
	var out []alert.Stored
	after := uint64(0)
	for range maxStorePages {
		page, err := te.Store().Range(after, 1000)
		if err != nil {
			tb.Fatalf("range after %d: %v", after, err)
		}
		if len(page) == 0 {
			return out
		}
		out = append(out, page...)
		after = page[len(page)-1].Seq
	}
	tb.Fatalf("the store holds more than %d pages", maxStorePages)
	return nil
}

// checkStore checks that stored numbers its records 1 to last densely, starts with the
// records of block 277647, and kept the records of the previous run (before) as they were.
func checkStore(tb testing.TB, stored, before []alert.Stored, last uint64) {
	tb.Helper()
	if uint64(len(stored)) != last {
		tb.Fatalf("stored records: got %d, want %d (the last seq)", len(stored), last)
	}
	for i, st := range stored {
		if st.Seq != uint64(i+1) {
			tb.Fatalf("stored record %d: got seq %d, want %d", i+1, st.Seq, i+1)
		}
	}
	if len(stored) < len(before) {
		tb.Fatalf("stored records: got %d, want at least the %d of the previous run",
			len(stored), len(before))
	}
	for i, st := range before {
		if now := stored[i]; now.Kind != st.Kind || !bytes.Equal(now.Data, st.Data) {
			tb.Errorf("seq %d changed across the restart: got %s %s, want %s %s", st.Seq,
				now.Kind, now.Data, st.Kind, st.Data)
		}
	}
	first := make([]serverMsg, 0, len(block277647))
	for _, st := range stored[:min(len(stored), len(block277647))] {
		first = append(first, decodeFrame(tb, st))
	}
	checkRecords(tb, first, block277647)
}

// decodeFrame returns the message a client receives for st, decoded.
func decodeFrame(tb testing.TB, st alert.Stored) serverMsg {
	tb.Helper()
	frame := alert.Frame(st)
	var m serverMsg
	if err := json.Unmarshal(frame, &m); err != nil {
		tb.Fatalf("seq %d: decode %s: %v", st.Seq, frame, err)
	}
	m.Raw = frame
	return m
}

// checkFrames checks that got are, byte for byte, the messages of the records want.
func checkFrames(tb testing.TB, got []serverMsg, want []alert.Stored) {
	tb.Helper()
	if len(got) != len(want) {
		tb.Fatalf("records received: got %d, want %d", len(got), len(want))
	}
	bad := 0
	for i, m := range got {
		if frame := alert.Frame(want[i]); !bytes.Equal(m.Raw, frame) {
			if bad == 0 {
				tb.Errorf("record %d: got %s, want %s", i+1, m.Raw, frame)
			}
			bad++
		}
	}
	if bad > 0 {
		tb.Errorf("%d of %d records differ from the store", bad, len(got))
	}
}

// lifecycles follows the whales across the records of every run.
type lifecycles struct {
	alertSeq map[string]uint64 // txid -> seq of its whale_alert
	status   map[string]string // txid -> status after its last record
	height   map[string]int64  // txid -> height of the block that confirmed it
	final    map[string]bool   // txid -> its final update was stored
}

func newLifecycles() *lifecycles {
	return &lifecycles{alertSeq: map[string]uint64{}, status: map[string]string{},
		height: map[string]int64{}, final: map[string]bool{}}
}

// check follows records, the new records of a run, and checks them against the lifecycle: an
// alert is raised once (so a restart never numbers it again) in status mempool; an update
// names its alert's seq, leaves the status the previous record set, and nothing follows a
// final update. Every replayed whale is mined, so after the run each is confirmed, with a
// final update once tip reaches settle confirmations, and only then.
func (l *lifecycles) check(tb testing.TB, records []alert.Stored, settle, tip int64) {
	tb.Helper()
	for _, st := range records {
		m := decodeFrame(tb, st)
		d := m.Data
		if m.Type == "whale_alert" {
			if prev, ok := l.alertSeq[d.TxID]; ok {
				tb.Errorf("seq %d: txid %s alerted again, its alert is seq %d", m.Seq, d.TxID,
					prev)
			}
			if d.Status != "mempool" {
				tb.Errorf("seq %d: alert status %q, want mempool", m.Seq, d.Status)
			}
			l.alertSeq[d.TxID], l.status[d.TxID] = m.Seq, d.Status
			continue
		}
		l.checkUpdate(tb, m, settle)
	}
	for txid, seq := range l.alertSeq {
		h := l.height[txid]
		due := h > 0 && tip-h+1 >= settle
		if l.status[txid] != "confirmed" || l.final[txid] != due {
			tb.Errorf("txid %s (alert seq %d): got status %q final %v, want confirmed final "+
				"%v (mined at %d, tip %d)", txid, seq, l.status[txid], l.final[txid], due, h,
				tip)
		}
	}
}

// checkUpdate checks one alert_update against what came before it.
func (l *lifecycles) checkUpdate(tb testing.TB, m serverMsg, settle int64) {
	tb.Helper()
	d := m.Data
	alertSeq, ok := l.alertSeq[d.TxID]
	switch {
	case m.Type != "alert_update":
		tb.Errorf("seq %d: got type %q, want whale_alert or alert_update", m.Seq, m.Type)
		return
	case !ok:
		tb.Errorf("seq %d: update of txid %s, which has no alert", m.Seq, d.TxID)
		return
	case d.AlertSeq != alertSeq:
		tb.Errorf("seq %d: alert_seq %d, want %d", m.Seq, d.AlertSeq, alertSeq)
	case l.final[d.TxID]:
		tb.Errorf("seq %d: update of txid %s after its final update", m.Seq, d.TxID)
	case d.Previous != l.status[d.TxID]:
		tb.Errorf("seq %d: previous %q, want %q", m.Seq, d.Previous, l.status[d.TxID])
	}
	switch {
	case d.Final:
		l.final[d.TxID] = true
		if d.Status != d.Previous {
			tb.Errorf("seq %d: final update to %q, want its status %q again", m.Seq,
				d.Status, d.Previous)
		}
		if d.Status == "confirmed" && (d.Confirmations != settle ||
			d.Height != l.height[d.TxID]) {
			tb.Errorf("seq %d: final confirmation %+v, want %d confirmations at height %d",
				m.Seq, d, settle, l.height[d.TxID])
		}
	case d.Status == "confirmed":
		if d.Previous == "confirmed" || d.Confirmations != 1 || d.Height <= 0 {
			tb.Errorf("seq %d: confirmation %+v, want a first confirmation at a height",
				m.Seq, d)
		}
		l.height[d.TxID] = d.Height
	}
	l.status[d.TxID] = d.Status
}
