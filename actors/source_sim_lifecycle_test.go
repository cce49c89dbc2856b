package actors_test

import (
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/btcsuite/btcd/wire/v2"

	"github.com/whalecast/whalecast/actors"
	"github.com/whalecast/whalecast/internal/alert"
	"github.com/whalecast/whalecast/internal/clock"
)

// pacedFeed plays a feed at a live pace on the fake clock: it advances the clock by step
// before each transaction, records every item, and ends after limit items.
type pacedFeed struct {
	actors.Feed
	clock *clock.Fake
	step  time.Duration
	limit int

	mu    sync.Mutex
	items []actors.FeedTx
	ended bool
}

func (f *pacedFeed) Next() (actors.FeedTx, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.items) >= f.limit {
		f.ended = true
		return actors.FeedTx{}, io.EOF
	}
	item, err := f.Feed.Next()
	if err != nil {
		return item, err
	}
	if item.Event == nil {
		f.clock.Advance(f.step)
	}
	f.items = append(f.items, item)
	return item, nil
}

func (f *pacedFeed) hasEnded() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.ended
}

// simOutcome is what the simulated chain did with an alerted transaction.
type simOutcome struct {
	mined    int64  // height of the block that mined it; 0 when none did
	removed  bool   // removed from the mempool
	replaced string // the replacement, when one followed the removal
}

// simOutcomes reads what the chain did with every transaction of items, and the tip.
func simOutcomes(items []actors.FeedTx) (map[string]simOutcome, int64) {
	out := map[string]simOutcome{}
	txs := map[string]*wire.MsgTx{}
	var tip int64
	lastRemoved := ""
	for _, item := range items {
		removed := ""
		switch e := item.Event; {
		case e == nil:
			txid := item.Msg.TxHash().String()
			txs[txid] = item.Msg
			if lastRemoved != "" && spendsSame(txs[lastRemoved], item.Msg) {
				o := out[lastRemoved]
				o.replaced = txid
				out[lastRemoved] = o
			}
		case e.Kind == actors.TxRemoved:
			removed = e.TxID
			o := out[removed]
			o.removed = true
			out[removed] = o
		case e.Kind == actors.BlockConnected:
			tip = e.Height
			for _, tx := range e.Block.Transactions[1:] {
				txid := tx.TxHash().String()
				o := out[txid]
				o.mined = e.Height
				out[txid] = o
			}
		}
		lastRemoved = removed
	}
	return out, tip
}

// storedLifecycle reads the store: every alert's txid, and each alert's updates in order.
func storedLifecycle(tb testing.TB, e *engine) ([]string, map[string][]alert.Update) {
	tb.Helper()
	records, err := e.mem.Range(0, 1<<20)
	if err != nil {
		tb.Fatalf("read the store: %v", err)
	}
	var txids []string
	updates := map[string][]alert.Update{}
	for _, r := range records {
		if r.Kind == alert.KindAlert {
			var a alert.Alert
			if err := json.Unmarshal(r.Data, &a); err != nil {
				tb.Fatalf("record %d: %v", r.Seq, err)
			}
			txids = append(txids, a.TxID)
			continue
		}
		var u alert.Update
		if err := json.Unmarshal(r.Data, &u); err != nil {
			tb.Fatalf("record %d: %v", r.Seq, err)
		}
		updates[u.TxID] = append(updates[u.TxID], u)
	}
	return txids, updates
}

// checkSimAlert checks one alert's updates against what the chain did with its transaction;
// it returns the status the alert ended in, "" for one still in the mempool.
func checkSimAlert(o simOutcome, tip int64, ups []alert.Update) (alert.Status, error) {
	var last alert.Update
	if len(ups) > 0 {
		last = ups[len(ups)-1]
	}
	settled := tip-o.mined+1 >= actors.DefaultSettleBlocks
	switch {
	case o.mined > 0 && (len(ups) == 0 || ups[0].Status != alert.StatusConfirmed ||
		ups[0].Height != o.mined):
		return "", fmt.Errorf("mined at %d: first update %+v, want confirmed there", o.mined,
			ups)
	case o.mined > 0 && settled != last.Final:
		return "", fmt.Errorf("mined at %d, tip %d: last update final %v, want %v", o.mined,
			tip, last.Final, settled)
	case o.removed && o.replaced != "" && !(last.Status == alert.StatusReplaced &&
		last.ReplacedBy == o.replaced || last.Status == alert.StatusConflicted &&
		last.ConflictedBy == o.replaced):
		return "", fmt.Errorf("replaced by %s: last update %+v, want replaced or conflicted "+
			"by it", o.replaced, last)
	case o.removed && o.replaced == "" && last.Status != alert.StatusDropped:
		return "", fmt.Errorf("dropped: last update %+v, want dropped", last)
	case o.mined == 0 && !o.removed && len(ups) != 0:
		return "", fmt.Errorf("still in the mempool: updates %+v, want none", ups)
	}
	return last.Status, nil
}

// checkSimAlerts checks every stored alert against outcomes; it returns how many ended in
// each status, and what does not match.
func checkSimAlerts(tb testing.TB, e *engine, outcomes map[string]simOutcome,
	tip int64) (map[alert.Status]int, []error) {
	tb.Helper()
	txids, updates := storedLifecycle(tb, e)
	counts := map[alert.Status]int{}
	var errs []error
	for _, txid := range txids {
		status, err := checkSimAlert(outcomes[txid], tip, updates[txid])
		if err != nil {
			errs = append(errs, fmt.Errorf("alert %s: %w", txid, err))
		}
		counts[status]++
	}
	return counts, errs
}

// TestSimFeedLifecycle runs the simulated feed through the detector, the tracker and the
// store at 7 tx/s on the fake clock, and checks that every whale alert follows what the
// simulated chain did with it: confirmed by the block that mined it (and final six blocks
// later), replaced (or conflicted, when the block came within the grace) by its fee bump,
// dropped, or left in the mempool.
func TestSimFeedLifecycle(t *testing.T) {
	t.Parallel()
	e := newEngine(t, engineConfig{Quiet: true})
	tracker := spawnTracker(t, e)
	detector := e.sys.Root.Spawn(actors.NewDetectorProps([]actors.Rule{
		actors.LargeValue{MinSat: 100 * alert.SatPerBTC}}, tracker, e.stats, e.log))
	t.Cleanup(func() { _ = e.sys.Root.StopFuture(detector).Wait() })
	feed := &pacedFeed{Feed: newSimFeed(t, actors.SimConfig{Seed: 1, TxPerBlock: 140}),
		clock: e.clock, step: time.Second / 7, limit: 6000}

	// A window of one: each item is done (its alert durable) before the clock moves on.
	src := e.sys.Root.Spawn(actors.NewSourceProps(feed, actors.SourceConfig{Window: 1},
		detector, e.clock, e.stats, e.log))
	t.Cleanup(func() { _ = e.sys.Root.StopFuture(src).Wait() })
	deadline := time.Now().Add(time.Minute)
	for !feed.hasEnded() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if !feed.hasEnded() {
		t.Fatal("the feed did not end within a minute")
	}

	// The removals of the last seconds wait for their grace.
	e.clock.Advance(actors.DefaultRemovalGrace + actors.DefaultTrackerTick)
	outcomes, tip := simOutcomes(feed.items)
	var counts map[alert.Status]int
	var errs []error
	for range 100 {
		if counts, errs = checkSimAlerts(t, e, outcomes, tip); len(errs) == 0 {
			break
		}
		time.Sleep(waitLimit / 100)
	}
	for _, err := range errs {
		t.Error(err)
	}

	t.Logf("alerts by last status: %v", counts)
	if counts[alert.StatusConfirmed] == 0 {
		t.Errorf("no alert confirmed; by last status: %v", counts)
	}
	if counts[alert.StatusReplaced]+counts[alert.StatusDropped] == 0 {
		t.Errorf("no alert replaced or dropped; by last status: %v", counts)
	}
	if got := e.stats.AlertsSettled.Load(); got == 0 {
		t.Errorf("no alert settled")
	}
}
