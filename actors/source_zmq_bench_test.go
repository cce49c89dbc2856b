package actors_test

import (
	"errors"
	"testing"
	"time"

	"github.com/whalecast/whalecast/actors"
	"github.com/whalecast/whalecast/internal/bitcoin"
	"github.com/whalecast/whalecast/internal/zmqtest"
)

// BenchmarkZMQFeed measures a transaction's way from the publisher's socket to Next,
// without RPC and with fee lookups on the fake node (which knows none of the transactions,
// so each batch is one HTTP round trip answered "not found"). Transactions go out in
// chunks, each taken whole before the next, so that none is dropped.
func BenchmarkZMQFeed(b *testing.B) {
	for _, withRPC := range []bool{false, true} {
		name := "no rpc"
		if withRPC {
			name = "fees from rpc"
		}
		b.Run(name, func(b *testing.B) {
			sim := bitcoin.NewSim(1)
			raws := make([][]byte, 1000)
			for i := range raws {
				raws[i] = sim.NextRaw()
			}
			pub := zmqtest.NewPublisher(b, "")
			cfg := actors.ZMQConfig{}
			if withRPC {
				node := zmqtest.NewNode(b, zmqEarlyChain(b)[:1], 0)
				cfg.RPC = node.Client(b)
			}
			feed := openZMQFeed(b, pub.Endpoint(), cfg)
			pub.WaitSubscribed(b)
			b.ReportAllocs()

			b.ResetTimer()
			for done := 0; done < b.N; {
				n := min(len(raws), b.N-done)
				for _, raw := range raws[:n] {
					pub.Publish(b, "rawtx", raw)
				}
				takeRaw(b, feed, n)
				done += n
			}
			b.StopTimer()
			if s := feed.Stats(); s.Dropped != 0 || s.FeeErrors != 0 {
				b.Fatalf("stats %+v, want nothing dropped and no fee error", s)
			}
		})
	}
}

// takeRaw takes n transactions from feed within waitLimit.
func takeRaw(tb testing.TB, feed actors.Feed, n int) {
	tb.Helper()
	deadline := time.Now().Add(waitLimit)
	for got := 0; got < n; {
		if time.Now().After(deadline) {
			tb.Fatalf("took %d transactions of %d", got, n)
		}
		ftx, err := feed.Next()
		switch {
		case errors.Is(err, actors.ErrNoTx):
		case err != nil:
			tb.Fatalf("next: %v", err)
		case ftx.Event == nil:
			got++
		}
	}
}
