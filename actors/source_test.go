package actors_test

import (
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/whalecast/whalecast/actors"
	"github.com/whalecast/whalecast/internal/alert"
	"github.com/whalecast/whalecast/internal/btcdtest"
	"github.com/whalecast/whalecast/internal/clock"
)

// stingyDetector stands in for the detector: it acknowledges a transaction only when the
// source would otherwise have to stop (window transactions unacknowledged), oldest first, so
// the source runs with its window full. A window of 0 never acknowledges.
type stingyDetector struct {
	window int

	mu       sync.Mutex
	txids    []string
	ordinals []uint64
	acked    uint64
	maxOpen  int
}

// countQuery asks a stingyDetector how many transactions it received; it answers an int.
type countQuery struct{}

func (d *stingyDetector) receive(ctx actor.Context) {
	if _, ok := ctx.Message().(countQuery); ok {
		ctx.Respond(d.count())
		return
	}
	m, ok := ctx.Message().(*actors.Tx)
	if !ok {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.txids = append(d.txids, m.Msg.TxHash().String())
	d.ordinals = append(d.ordinals, m.Ordinal)
	open := int(m.Ordinal - d.acked)
	d.maxOpen = max(d.maxOpen, open)
	if d.window > 0 && open >= d.window {
		d.acked++
		ctx.Send(m.ReplyTo, &actors.Processed{N: 1})
	}
}

func (d *stingyDetector) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.txids)
}

// closeCounter counts the Close calls of the feed it wraps.
type closeCounter struct {
	actors.Feed
	mu     sync.Mutex
	closes int
}

func (f *closeCounter) Close() error {
	f.mu.Lock()
	f.closes++
	f.mu.Unlock()
	return f.Feed.Close()
}

func TestSourceReplayWindow(t *testing.T) {
	t.Parallel()
	want := block277647Txs(t)
	path := btcdtest.Block277647(t)
	tests := []struct {
		name       string
		window     int
		wantWindow int
	}{
		{"one at a time", 1, 1},
		{"window of eight", 8, 8},
		{"default window", 0, 1024},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sys := newActorSystem(t, nil)
			stats := actors.NewStats(testStart)
			det := &stingyDetector{window: tt.wantWindow}
			detPID := sys.Root.Spawn(actor.PropsFromFunc(det.receive))
			replay, err := actors.NewReplayFeed(path)
			if err != nil {
				t.Fatalf("open replay: %v", err)
			}
			feed := &closeCounter{Feed: replay}
			src := sys.Root.Spawn(actors.NewSourceProps(feed,
				actors.SourceConfig{Window: tt.window}, detPID, clock.NewFake(testStart), stats,
				discardLogger()))

			waitFor(t, "212 transactions", func() bool { return det.count() >= len(want) })
			if err := sys.Root.StopFuture(src).Wait(); err != nil {
				t.Fatalf("stop source: %v", err)
			}
			det.mu.Lock()
			defer det.mu.Unlock()
			if len(det.txids) != len(want) {
				t.Fatalf("detector got %d transactions, want %d", len(det.txids), len(want))
			}
			for i, tx := range want {
				if det.ordinals[i] != uint64(i+1) || det.txids[i] != tx.TxHash().String() {
					t.Fatalf("transaction %d: ordinal %d txid %s, want %d %s", i,
						det.ordinals[i], det.txids[i], i+1, tx.TxHash())
				}
			}
			if det.maxOpen != min(tt.wantWindow, len(want)) {
				t.Errorf("in flight at most %d, want the whole window %d", det.maxOpen,
					min(tt.wantWindow, len(want)))
			}
			if got := stats.SourceErrors.Load(); got != 0 {
				t.Errorf("SourceErrors %d, want 0", got)
			}
			feed.mu.Lock()
			defer feed.mu.Unlock()
			if feed.closes != 1 {
				t.Errorf("feed closed %d times on stop, want once", feed.closes)
			}
		})
	}
}

// TestSourceWindowBound counts exactly what a full-speed source sends with no
// acknowledgement but acked: a source that overran its window by one would be caught.
func TestSourceWindowBound(t *testing.T) {
	t.Parallel()
	path := btcdtest.Block277647(t)
	tests := []struct {
		name   string
		window int
		acked  uint64
		want   int
	}{
		{"nothing acknowledged", 8, 0, 8},
		{"five acknowledged", 8, 5, 13},
		{"window of one, one acknowledged", 1, 1, 2},
		{"the default window holds the whole block", 0, 0, 212},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sys := newActorSystem(t, nil)
			det := &stingyDetector{}
			detPID := sys.Root.Spawn(actor.PropsFromFunc(det.receive))
			t.Cleanup(func() { _ = sys.Root.StopFuture(detPID).Wait() })
			replay, err := actors.NewReplayFeed(path)
			if err != nil {
				t.Fatalf("open replay: %v", err)
			}
			src := sys.Root.Spawn(actors.NewSourceProps(replay,
				actors.SourceConfig{Window: tt.window}, detPID, clock.NewFake(testStart),
				actors.NewStats(testStart), discardLogger()))

			// Started (the first pump) runs before any message; the acknowledgement and the
			// poison follow in order, so every send is done when the source has stopped.
			if tt.acked > 0 {
				sys.Root.Send(src, &actors.Processed{N: tt.acked})
			}
			if err := sys.Root.PoisonFuture(src).Wait(); err != nil {
				t.Fatalf("stop source: %v", err)
			}
			res, err := sys.Root.RequestFuture(detPID, countQuery{}, waitLimit).Result()
			if err != nil {
				t.Fatalf("count query: %v", err)
			}
			if got := res.(int); got != tt.want {
				t.Errorf("sent %d transactions, want %d", got, tt.want)
			}
		})
	}
}

// TestSourceReplayEndToEnd runs the replay source at full speed into the real detector.
func TestSourceReplayEndToEnd(t *testing.T) {
	t.Parallel()
	sys := newActorSystem(t, nil)
	stats := actors.NewStats(testStart)
	det, rec, _ := spawnDetector(t, sys, stats, actors.LargeValue{MinSat: 100 * alert.SatPerBTC})
	replay, err := actors.NewReplayFeed(btcdtest.Block277647(t))
	if err != nil {
		t.Fatalf("open replay: %v", err)
	}
	src := sys.Root.Spawn(actors.NewSourceProps(replay, actors.SourceConfig{Window: 16}, det,
		clock.NewFake(testStart), stats, discardLogger()))
	t.Cleanup(func() { _ = sys.Root.StopFuture(src).Wait() })

	waitFor(t, "212 transactions", func() bool { return stats.TxsReceived.Load() == 212 })
	waitFor(t, "3 alerts", func() bool { return len(rec.txids()) == 3 })
	for i, w := range block277647Whales {
		if got := rec.txids()[i]; got != w.txid {
			t.Errorf("alert %d: %s, want %s", i, got, w.txid)
		}
	}
}

// TestSourcePacesOnClock checks a rated source sends what the rate allows on each tick of the
// fake clock.
func TestSourcePacesOnClock(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		rate     float64
		advances []time.Duration
		want     int
	}{
		{"100 per second", 100, repeat(10*time.Millisecond, 50), 50},
		{"400 per second", 400, repeat(10*time.Millisecond, 25), 100},
		{"half a transaction per tick", 50, repeat(10*time.Millisecond, 9), 4},
		{"a stall is made up for one second's worth", 50, []time.Duration{10 * time.Second}, 51},
		{"nothing before the first tick", 100, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sys := newActorSystem(t, nil)
			stats := actors.NewStats(testStart)
			clk := clock.NewFake(testStart)
			det := &stingyDetector{window: 1 << 30}
			detPID := sys.Root.Spawn(actor.PropsFromFunc(det.receive))
			feed, err := actors.NewSimFeed(actors.SimConfig{Seed: 7})
			if err != nil {
				t.Fatalf("sim feed: %v", err)
			}
			src := sys.Root.Spawn(actors.NewSourceProps(feed,
				actors.SourceConfig{Rate: tt.rate}, detPID, clk, stats, discardLogger()))
			t.Cleanup(func() { _ = sys.Root.StopFuture(src).Wait() })

			for _, d := range tt.advances {
				waitFor(t, "the next tick", func() bool { return clk.Pending() == 1 })
				clk.Advance(d)
			}
			// The source sends before it arms its next tick, so once the tick is armed every
			// transaction is in the detector's mailbox, ahead of this query.
			waitFor(t, "the last tick's sends", func() bool { return clk.Pending() == 1 })
			res, err := sys.Root.RequestFuture(detPID, countQuery{}, waitLimit).Result()
			if err != nil {
				t.Fatalf("count query: %v", err)
			}
			if got := res.(int); got != tt.want {
				t.Errorf("sent %d transactions, want %d", got, tt.want)
			}
		})
	}
}
