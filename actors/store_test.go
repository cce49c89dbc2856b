package actors_test

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/whalecast/whalecast/actors"
	"github.com/whalecast/whalecast/internal/alert"
	"github.com/whalecast/whalecast/internal/auth"
	"github.com/whalecast/whalecast/persistence"
)

var errDiskFull = errors.New("test: disk full")

// flakyStore refuses its first Append as a failing disk would, and accepts later ones: only
// the store actor's own fail-closed state can then keep later alerts out.
type flakyStore struct {
	*persistence.Memory
	mu      sync.Mutex
	appends int
}

func (s *flakyStore) Append(batch []alert.Record) ([]alert.Stored, error) {
	s.mu.Lock()
	s.appends++
	first := s.appends == 1
	s.mu.Unlock()
	if first {
		return nil, errDiskFull
	}
	return s.Memory.Append(batch)
}

func (s *flakyStore) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.appends
}

func TestStoreFailsClosed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		flaky       bool
		wantAppends int // calls that reached a flaky store; 0 to skip the check
	}{
		{"memory store refuses a write", false, 0},
		{"store that would recover", true, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var flaky *flakyStore
			cfg := engineConfig{}
			if tt.flaky {
				cfg.Store = func(m *persistence.Memory) actors.AlertStore {
					flaky = &flakyStore{Memory: m}
					return flaky
				}
			}
			e := newEngine(t, cfg)
			if !tt.flaky {
				e.mem.FailWrites(errDiskFull)
			}
			peer := newFakePeer(0)
			pid, _ := e.connect(t, peer, auth.PermRead)

			e.publish(whale(1, 500))
			waitFor(t, "the write failure", func() bool { return e.stats.StoreErrors.Load() == 1 })
			e.publish(whale(2, 600), whale(3, 700))
			waitFor(t, "three lost alerts", func() bool { return e.stats.AlertsLost.Load() == 3 })

			e.send(pid, `{"type":"ping"}`)
			if a := answers(peer.next(t, 1)); a[0] != "pong" {
				t.Errorf("got %q, want pong with no alert before it", a[0])
			}
			counters := []struct {
				name string
				got  int64
			}{
				{"AlertsStored", e.stats.AlertsStored.Load()},
				{"AlertsPublished", e.stats.AlertsPublished.Load()},
				{"Deliveries", e.stats.Deliveries.Load()},
			}
			for _, c := range counters {
				if c.got != 0 {
					t.Errorf("%s %d, want 0", c.name, c.got)
				}
			}
			if got := e.stats.StoreErrors.Load(); got != 1 {
				t.Errorf("StoreErrors %d, want 1", got)
			}
			if got := e.mem.LastSeq(); got != 0 {
				t.Errorf("LastSeq %d, want nothing stored", got)
			}
			if tt.wantAppends > 0 && flaky.count() != tt.wantAppends {
				t.Errorf("store written %d times, want %d: a failed store must not be retried",
					flaky.count(), tt.wantAppends)
			}
		})
	}
}

// gatedStore holds every Append until release is closed, and records the batch sizes.
type gatedStore struct {
	*persistence.Memory
	release  chan struct{}
	openOnce sync.Once
	entered  chan int
	mu       sync.Mutex
	batches  []int
}

func newGatedStore(m *persistence.Memory) *gatedStore {
	return &gatedStore{Memory: m, release: make(chan struct{}), entered: make(chan int, 64)}
}

func (s *gatedStore) Append(batch []alert.Record) ([]alert.Stored, error) {
	s.mu.Lock()
	s.batches = append(s.batches, len(batch))
	s.mu.Unlock()
	s.entered <- len(batch)
	<-s.release
	return s.Memory.Append(batch)
}

func (s *gatedStore) sizes() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int(nil), s.batches...)
}

// waitEntered waits until an Append is in progress and returns its batch size.
func (s *gatedStore) waitEntered(tb testing.TB) int {
	tb.Helper()
	select {
	case n := <-s.entered:
		return n
	case <-timeAfter(tb):
		tb.Fatalf("no Append within %v", waitLimit)
		return 0
	}
}

func TestStoreGroupCommitPublishesOnlyDurable(t *testing.T) {
	t.Parallel()
	e, gated := newGatedEngine(t)
	peer := newFakePeer(0)
	pid, _ := e.connect(t, peer, auth.PermRead)

	e.publish(whale(1, 100))
	if n := gated.waitEntered(t); n != 1 {
		t.Fatalf("first batch of %d alerts, want 1", n)
	}
	e.publish(whales(2, 5)...)
	e.send(pid, `{"type":"ping"}`)
	if a := answers(peer.next(t, 1)); a[0] != "pong" {
		t.Errorf("while the write is in progress got %q, want pong: nothing is published "+
			"before it is durable", a[0])
	}
	if got := e.stats.AlertsPublished.Load(); got != 0 {
		t.Errorf("AlertsPublished %d while the write is in progress, want 0", got)
	}

	gated.open()
	if ok, diff := equalSeqs(seqsOf(t, peer.next(t, 5)), seqRange(1, 5)); !ok {
		t.Errorf("after the writes: %s", diff)
	}
	if got := fmt.Sprint(gated.sizes()); got != "[1 4]" {
		t.Errorf("batches %s, want [1 4]: candidates queued during a write go in one batch", got)
	}
	if got := e.stats.AlertsStored.Load(); got != 5 {
		t.Errorf("AlertsStored %d, want 5", got)
	}
}

func TestStoreDrainsOnStop(t *testing.T) {
	t.Parallel()
	e, gated := newGatedEngine(t)
	e.publish(whale(1, 100))
	gated.waitEntered(t)
	e.publish(whales(2, 4)...)

	stopped := e.sys.Root.PoisonFuture(e.store)
	gated.open()
	if err := stopped.Wait(); err != nil {
		t.Fatalf("stop the store: %v", err)
	}
	if got := e.mem.LastSeq(); got != 4 {
		t.Errorf("LastSeq %d after stop, want 4: accepted alerts are written on stop", got)
	}
	if got := e.stats.AlertsLost.Load(); got != 0 {
		t.Errorf("AlertsLost %d, want 0", got)
	}
}

func TestStoreRefusedBatchKeepsStoreHealthy(t *testing.T) {
	t.Parallel()
	e := newEngine(t, engineConfig{})
	peer := newFakePeer(0)
	e.connect(t, peer, auth.PermRead)

	e.publish(alert.Alert{ValueSat: 1, Detector: "large_value"}) // no txid
	waitFor(t, "the refused alert", func() bool { return e.stats.AlertsLost.Load() == 1 })
	e.publish(whale(2, 300))
	if seqs := seqsOf(t, peer.next(t, 1)); seqs[0] != 1 {
		t.Errorf("after a refused alert got seq %d, want 1", seqs[0])
	}
	if got := e.stats.StoreErrors.Load(); got != 0 {
		t.Errorf("StoreErrors %d, want 0: a refused batch is not a write failure", got)
	}
	if err := e.mem.Health(); err != nil {
		t.Errorf("store health %v, want nil", err)
	}
}

// TestStoreRefusedAlertLosesOnlyItself: a bad alert grouped with good ones by the group
// commit costs only itself; the good ones are written again one by one.
func TestStoreRefusedAlertLosesOnlyItself(t *testing.T) {
	t.Parallel()
	e, gated := newGatedEngine(t)
	peer := newFakePeer(0)
	e.connect(t, peer, auth.PermRead)

	e.publish(whale(1, 100))
	gated.waitEntered(t)
	e.publish(whale(2, 200), alert.Alert{ValueSat: 1, Detector: "large_value"}, whale(3, 300))
	gated.open()

	if ok, diff := equalSeqs(seqsOf(t, peer.next(t, 3)), seqRange(1, 3)); !ok {
		t.Errorf("published: %s", diff)
	}
	waitFor(t, "the refused alert counted", func() bool {
		return e.stats.AlertsLost.Load() == 1
	})
	if got := e.stats.AlertsStored.Load(); got != 3 {
		t.Errorf("AlertsStored %d, want 3", got)
	}
}

// TestStoreStopCountsTheWriteInFlight: a write still running when the store stops is waited
// for, counted and published, although its result message reaches a stopping actor.
func TestStoreStopCountsTheWriteInFlight(t *testing.T) {
	t.Parallel()
	e, gated := newGatedEngine(t)
	peer := newFakePeer(0)
	e.connect(t, peer, auth.PermRead)

	e.publish(whale(1, 100))
	gated.waitEntered(t)
	stopped := e.sys.Root.PoisonFuture(e.store)
	// Give the poison pill time to reach the store, so that it stops with the write
	// still blocked; the store then waits for it.
	time.Sleep(50 * time.Millisecond)
	gated.open()
	if err := stopped.Wait(); err != nil {
		t.Fatalf("stop store: %v", err)
	}
	if got := e.stats.AlertsStored.Load(); got != 1 {
		t.Errorf("AlertsStored %d, want 1", got)
	}
	if seqs := seqsOf(t, peer.next(t, 1)); seqs[0] != 1 {
		t.Errorf("published seq %d, want 1", seqs[0])
	}
}

// newGatedEngine returns an engine whose store holds every write until gated.open; the
// gate opens by itself when the test ends.
func newGatedEngine(t *testing.T) (*engine, *gatedStore) {
	t.Helper()
	var gated *gatedStore
	e := newEngine(t, engineConfig{Store: func(m *persistence.Memory) actors.AlertStore {
		gated = newGatedStore(m)
		return gated
	}})
	t.Cleanup(gated.open)
	return e, gated
}

// open lets every held and future write through; calling it again does nothing.
func (s *gatedStore) open() {
	s.openOnce.Do(func() { close(s.release) })
}

// TestStorePacedByBroadcaster gives the store a broadcaster that hands nothing out until
// told to: the store stops committing about MaxBroadcastLag records ahead of it, and goes
// on once the broadcaster reports them offered.
func TestStorePacedByBroadcaster(t *testing.T) {
	t.Parallel()
	sys := actor.NewActorSystem()
	t.Cleanup(sys.Shutdown)
	mem := persistence.NewMemory()
	published := make(chan *actors.Published, 1024)
	fake := sys.Root.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
		if p, ok := ctx.Message().(*actors.Published); ok {
			published <- p
		}
	}))
	log := slog.New(slog.DiscardHandler)
	store := sys.Root.Spawn(actors.NewStoreProps(mem, fake, actors.NewStats(testStart), log))

	const total = actors.MaxBroadcastLag + 3*persistence.MaxBatch
	for i := range total {
		a := whale(i+1, 100)
		sys.Root.Send(store, &actors.Candidate{Record: alert.Record{Alert: &a}})
	}
	var replyTo *actor.PID
	var last uint64
	waitFor(t, "the store to stop ahead of the broadcaster", func() bool {
		for {
			select {
			case p := <-published:
				replyTo, last = p.ReplyTo, p.Entries[len(p.Entries)-1].Stored.Seq
				continue
			default:
			}
			return last > actors.MaxBroadcastLag
		}
	})
	time.Sleep(50 * time.Millisecond)
	if got := mem.LastSeq(); got >= total || got > actors.MaxBroadcastLag+
		persistence.MaxBatch {
		t.Fatalf("stored %d of %d with nothing offered, want at most %d", got, total,
			actors.MaxBroadcastLag+persistence.MaxBatch)
	}
	if replyTo == nil {
		t.Fatal("Published without ReplyTo")
	}

	sys.Root.Send(replyTo, &actors.Offered{Seq: last})
	waitFor(t, "every candidate stored once the broadcaster caught up", func() bool {
		if mem.LastSeq() < total {
			sys.Root.Send(replyTo, &actors.Offered{Seq: mem.LastSeq()})
			return false
		}
		return true
	})
}
