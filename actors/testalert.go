package actors

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/whalecast/whalecast/internal/alert"
	"github.com/whalecast/whalecast/internal/clock"
)

// TestAlertEvery is the interval of --test alerts.
const TestAlertEvery = 10 * time.Second

// testAlerts sends a clearly marked test alert (detector "test", test true) to the store at a
// fixed interval, so that operators and clients can check the path end to end.
type testAlerts struct {
	store *actor.PID
	clock clock.Clock
	every time.Duration
	log   *slog.Logger
	gen   uint64
}

type testTick struct{ gen uint64 }

// NewTestAlertProps returns the props of the --test alert generator.
func NewTestAlertProps(store *actor.PID, clk clock.Clock, every time.Duration,
	log *slog.Logger) *actor.Props {
	return actor.PropsFromProducer(func() actor.Actor {
		return &testAlerts{store: store, clock: clk, every: every, log: log}
	})
}

// Receive implements actor.Actor.
func (t *testAlerts) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		t.log.Info("test alerts enabled", "every", t.every.String())
		t.schedule(ctx)
	case *testTick:
		if msg.gen != t.gen {
			return
		}
		a := NewTestAlert(t.clock.Now())
		ctx.Send(t.store, &Candidate{Record: alert.Record{Alert: &a}})
		t.schedule(ctx)
	}
}

func (t *testAlerts) schedule(ctx actor.Context) {
	t.gen++
	gen, self, root := t.gen, ctx.Self(), ctx.ActorSystem().Root
	t.clock.AfterFunc(t.every, func() { root.Send(self, &testTick{gen: gen}) })
}

// NewTestAlert returns a synthetic alert: a random txid that no real transaction has,
// detector "test" and Test set. Filters let it through whatever their threshold.
func NewTestAlert(now time.Time) alert.Alert {
	var id [32]byte
	_, _ = rand.Read(id[:])
	return alert.Alert{
		TxID:      hex.EncodeToString(id[:]),
		ValueSat:  0,
		Outputs:   1,
		FirstSeen: now.UTC(),
		Detector:  "test",
		Test:      true,
	}
}
