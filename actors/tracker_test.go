package actors_test

import (
	"encoding/json"
	"testing"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/whalecast/whalecast/actors"
	"github.com/whalecast/whalecast/internal/alert"
	"github.com/whalecast/whalecast/internal/auth"
	"github.com/whalecast/whalecast/internal/bitcoin"
)

// spawnTracker starts a tracker that writes through the engine's store actor and reloads
// the engine's stored states.
func spawnTracker(tb testing.TB, e *engine) *actor.PID {
	tb.Helper()
	pid := e.sys.Root.Spawn(actors.NewTrackerProps(actors.TrackerConfig{
		States:   e.mem.States,
		AlertSeq: e.mem.AlertSeq,
	}, e.store, e.clock, e.stats, e.log))
	tb.Cleanup(func() { _ = e.sys.Root.StopFuture(pid).Wait() })
	return pid
}

// observeWhale sends the detector's observation of tx; flagged adds its alert.
func observeWhale(e *engine, tracker, ackTo *actor.PID, tx *wire.MsgTx, flagged bool) {
	sum := bitcoin.Summarize(tx)
	m := &actors.Observed{Msg: tx, Summary: sum, AckTo: ackTo}
	if flagged {
		m.Alert = &alert.Alert{TxID: sum.TxID, ValueSat: sum.ValueSat, Detector: "large_value",
			FirstSeen: e.clock.Now()}
	}
	e.sys.Root.Send(tracker, m)
}

// updateData is the part of an alert_update's data the tracker tests check.
type updateData struct {
	TxID          string `json:"txid"`
	AlertSeq      uint64 `json:"alert_seq"`
	Status        string `json:"status"`
	Previous      string `json:"previous"`
	Height        int64  `json:"height"`
	Confirmations int64  `json:"confirmations"`
	ReplacedBy    string `json:"replaced_by"`
	Final         bool   `json:"final"`
}

func decodeUpdate(tb testing.TB, f serverFrame) updateData {
	tb.Helper()
	if f.Type != "alert_update" {
		tb.Fatalf("frame seq %d is %q, want alert_update", f.Seq, f.Type)
	}
	var u updateData
	if err := json.Unmarshal(f.Data, &u); err != nil {
		tb.Fatalf("alert_update seq %d: %v", f.Seq, err)
	}
	return u
}

func TestTrackerConfirmsAndSettles(t *testing.T) {
	t.Parallel()
	block, hash := realBlock(t)
	height, _ := bitcoin.CoinbaseHeight(block)
	whaleTx := biggest(block)
	txid := whaleTx.TxHash().String()

	e := newEngine(t, engineConfig{})
	peer := newFakePeer(0)
	e.connect(t, peer, auth.PermRead)
	rec, recPID := spawnRecorder(t, e.sys)
	tracker := spawnTracker(t, e)

	observeWhale(e, tracker, recPID, whaleTx, true)
	observeWhale(e, tracker, recPID, block.Transactions[1], false)
	e.sys.Root.Send(tracker, &actors.ChainEvent{Kind: actors.BlockConnected, Block: block,
		Hash: hash, Height: height, AckTo: recPID})
	prev := hash
	for i := range actors.DefaultSettleBlocks - 1 {
		b, h := blockWith(prev, height+1+int64(i))
		e.sys.Root.Send(tracker, &actors.ChainEvent{Kind: actors.BlockConnected, Block: b,
			Hash: h, AckTo: recPID})
		prev = h
	}
	rec.waitAcked(t, 2+actors.DefaultSettleBlocks)

	frames := peer.next(t, 3)
	if a := alertData(t, frames[0]); frames[0].Seq != 1 || a.TxID != txid ||
		a.Status != "mempool" {
		t.Fatalf("first frame seq %d %+v, want the whale_alert seq 1 in mempool",
			frames[0].Seq, a)
	}
	want := []updateData{
		{TxID: txid, AlertSeq: 1, Status: "confirmed", Previous: "mempool", Height: height,
			Confirmations: 1},
		{TxID: txid, AlertSeq: 1, Status: "confirmed", Previous: "confirmed", Height: height,
			Confirmations: actors.DefaultSettleBlocks, Final: true},
	}
	for i, w := range want {
		f := frames[i+1]
		if got := decodeUpdate(t, f); f.Seq != uint64(i+2) || got != w {
			t.Errorf("frame seq %d: %+v\nwant seq %d: %+v", f.Seq, got, i+2, w)
		}
	}
	if n := e.stats.AlertsSettled.Load(); n != 1 {
		t.Errorf("settled %d alerts, want 1", n)
	}
	if n := e.stats.Tracked.Load(); n != 0 {
		t.Errorf("still tracking %d alerts after the final update, want 0", n)
	}
	states := 0
	_ = e.mem.States(func(string, []byte) error { states++; return nil })
	if states != 0 {
		t.Errorf("%d tracker states stored after the final update, want 0", states)
	}
}

func TestTrackerReplacementAfterGraceAndRestart(t *testing.T) {
	t.Parallel()
	block, _ := realBlock(t)
	whaleTx := biggest(block)
	txid := whaleTx.TxHash().String()
	rbf := spender(whaleTx, 7)

	e := newEngine(t, engineConfig{})
	peer := newFakePeer(0)
	e.connect(t, peer, auth.PermRead)
	rec, recPID := spawnRecorder(t, e.sys)
	first := spawnTracker(t, e)
	observeWhale(e, first, recPID, whaleTx, true)
	rec.waitAcked(t, 1)
	_ = e.sys.Root.StopFuture(first).Wait()

	// A new tracker reloads the stored state: the alert is followed across the restart.
	second := spawnTracker(t, e)
	e.sys.Root.Send(second, &actors.ChainEvent{Kind: actors.TxRemoved, TxID: txid,
		AckTo: recPID})
	observeWhale(e, second, recPID, rbf, false)
	rec.waitAcked(t, 3)
	waitFor(t, "the tracker's tick", func() bool { return e.clock.Pending() > 0 })
	e.clock.Advance(actors.DefaultRemovalGrace + actors.DefaultTrackerTick)

	frames := peer.next(t, 2)
	got := decodeUpdate(t, frames[1])
	want := updateData{TxID: txid, AlertSeq: 1, Status: "replaced", Previous: "mempool",
		ReplacedBy: rbf.TxHash().String()}
	if frames[1].Seq != 2 || got != want {
		t.Errorf("update seq %d: %+v\nwant seq 2: %+v", frames[1].Seq, got, want)
	}
}

// TestTrackerSettledStaysSettledAfterRestart raises an alert again after a restart, once its
// outcome settled: it must not be followed again (no update after the final one).
func TestTrackerSettledStaysSettledAfterRestart(t *testing.T) {
	t.Parallel()
	block, hash := realBlock(t)
	height, _ := bitcoin.CoinbaseHeight(block)
	whaleTx := biggest(block)

	e := newEngine(t, engineConfig{})
	rec, recPID := spawnRecorder(t, e.sys)
	settle := func(tracker *actor.PID) {
		observeWhale(e, tracker, recPID, whaleTx, true)
		e.sys.Root.Send(tracker, &actors.ChainEvent{Kind: actors.BlockConnected,
			Block: block, Hash: hash, Height: height, AckTo: recPID})
		prev := hash
		for i := range actors.DefaultSettleBlocks - 1 {
			b, h := blockWith(prev, height+1+int64(i))
			e.sys.Root.Send(tracker, &actors.ChainEvent{Kind: actors.BlockConnected,
				Block: b, Hash: h, AckTo: recPID})
			prev = h
		}
	}

	first := spawnTracker(t, e)
	settle(first)
	rec.waitAcked(t, 1+actors.DefaultSettleBlocks)
	_ = e.sys.Root.StopFuture(first).Wait()
	if last := e.mem.LastSeq(); last != 3 {
		t.Fatalf("first run stored %d records, want the alert, its confirmation and final", last)
	}

	second := spawnTracker(t, e)
	settle(second)
	rec.waitAcked(t, 2*(1+actors.DefaultSettleBlocks))
	if last := e.mem.LastSeq(); last != 3 {
		t.Errorf("after the restart the store holds %d records, want still 3", last)
	}
	if n := e.stats.Tracked.Load(); n != 0 {
		t.Errorf("the restarted tracker follows %d alerts, want 0", n)
	}
}
