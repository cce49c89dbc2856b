package actors_test

import (
	"log/slog"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/whalecast/whalecast/actors"
	"github.com/whalecast/whalecast/internal/alert"
	"github.com/whalecast/whalecast/persistence"
)

// sizedMemory is a memory store that reports a size, as Badger does.
type sizedMemory struct {
	*persistence.Memory
}

func (sizedMemory) Size() (lsm, vlog int64) { return 4096, 512 }

// TestStoreQueueMetrics holds the broadcaster back: the store's gauges show the records
// stored but not handed out (broadcast lag) and those waiting to be written, every write is
// timed and every record counted by detector and status; once the broadcaster catches up
// both queues read zero.
func TestStoreQueueMetrics(t *testing.T) {
	t.Parallel()
	sys := actor.NewActorSystem()
	t.Cleanup(sys.Shutdown)
	mem := sizedMemory{persistence.NewMemory()}
	published := make(chan *actors.Published, 1024)
	fake := sys.Root.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
		if p, ok := ctx.Message().(*actors.Published); ok {
			published <- p
		}
	}))
	stats := actors.NewStats(testStart)
	store := sys.Root.Spawn(actors.NewStoreProps(mem, fake, stats,
		slog.New(slog.DiscardHandler)))

	const total = actors.MaxBroadcastLag + 3*persistence.MaxBatch
	for i := range total {
		a := whale(i+1, 100)
		sys.Root.Send(store, &actors.Candidate{Record: alert.Record{Alert: &a}})
	}
	var replyTo *actor.PID
	waitFor(t, "the store to stop ahead of the broadcaster", func() bool {
		for {
			select {
			case p := <-published:
				replyTo = p.ReplyTo
				continue
			default:
			}
			return stats.BroadcastLag.Load() > actors.MaxBroadcastLag &&
				stats.StorePending.Load() > 0
		}
	})
	snap := stats.Snapshot(time.Now())
	stored := int64(mem.LastSeq())
	if got := snap.Queues.BroadcastLag; got != stored {
		t.Errorf("broadcast lag with nothing offered: got %d, want the %d stored", got, stored)
	}
	if got := snap.Queues.StorePending; got+stored != total {
		t.Errorf("store pending: got %d, want %d - %d stored", got, total, stored)
	}
	if got := snap.AlertsByDetector["large_value"]["mempool"]; got != stored {
		t.Errorf("large_value mempool records: got %d, want %d", got, stored)
	}
	if w := snap.Store.WriteDuration; w.Count == 0 || w.Count > uint64(stored) {
		t.Errorf("store writes timed: got %d, want 1 to %d", w.Count, stored)
	}
	if snap.Store.LSMBytes != 4096 || snap.Store.VlogBytes != 512 {
		t.Errorf("store size: got %d and %d, want the store's 4096 and 512",
			snap.Store.LSMBytes, snap.Store.VlogBytes)
	}

	waitFor(t, "every record stored and handed out", func() bool {
		sys.Root.Send(replyTo, &actors.Offered{Seq: mem.LastSeq()})
		return mem.LastSeq() == total && stats.BroadcastLag.Load() == 0 &&
			stats.StorePending.Load() == 0
	})
}
