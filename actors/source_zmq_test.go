package actors_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/whalecast/whalecast/actors"
	"github.com/whalecast/whalecast/internal/alert"
	"github.com/whalecast/whalecast/internal/clock"
	"github.com/whalecast/whalecast/internal/zmqtest"
)

// newTestZMQFeed opens a feed on endpoint with fast backoff; it is closed at cleanup.
func newTestZMQFeed(tb testing.TB, endpoint string) *actors.ZMQFeed {
	tb.Helper()
	feed, err := actors.NewZMQFeed(actors.ZMQConfig{Endpoint: endpoint,
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
		Logger: discardLogger()})
	if err != nil {
		tb.Fatalf("open zmq feed: %v", err)
	}
	tb.Cleanup(func() { _ = feed.Close() })
	return feed
}

// nextTxids takes n transactions from feed and returns their txids.
func nextTxids(tb testing.TB, feed actors.Feed, n int) []string {
	tb.Helper()
	var got []string
	deadline := time.Now().Add(waitLimit)
	for len(got) < n {
		if time.Now().After(deadline) {
			tb.Fatalf("got %d transactions %v, want %d", len(got), got, n)
		}
		ftx, err := feed.Next()
		switch {
		case errors.Is(err, actors.ErrNoTx):
		case err != nil:
			tb.Fatalf("next after %d transactions: %v", len(got), err)
		default:
			got = append(got, ftx.Msg.TxHash().String())
		}
	}
	return got
}

func txids(txs ...*wire.MsgTx) []string {
	out := make([]string, len(txs))
	for i, tx := range txs {
		out[i] = tx.TxHash().String()
	}
	return out
}

// TestZMQSourceBlock277647 publishes block 277647 as mempool notifications, the first
// whale twice (as when a block includes it), and checks that the source and the detector
// alert each of the three whales once.
func TestZMQSourceBlock277647(t *testing.T) {
	t.Parallel()
	txs := block277647Txs(t)
	pub := zmqtest.NewPublisher(t, "")
	feed := newTestZMQFeed(t, pub.Endpoint())
	sys := newActorSystem(t, nil)
	stats := actors.NewStats(testStart)
	det, rec, _ := spawnDetector(t, sys, stats,
		actors.LargeValue{MinSat: 100 * alert.SatPerBTC})
	src := sys.Root.Spawn(actors.NewSourceProps(feed, actors.SourceConfig{}, det,
		clock.Real{}, stats, discardLogger()))
	t.Cleanup(func() { _ = sys.Root.StopFuture(src).Wait() })

	pub.WaitSubscribed(t)
	for _, tx := range txs {
		pub.PublishTx(t, tx)
	}
	again := slices.IndexFunc(txs, func(tx *wire.MsgTx) bool {
		return tx.TxHash().String() == block277647Whales[0].txid
	})
	pub.Publish(t, "rawtx", zmqtest.TxBytes(txs[again]))
	waitFor(t, "every transaction at the detector, a repeat and three alerts", func() bool {
		return stats.TxsReceived.Load() == int64(len(txs)+1) &&
			stats.DuplicateTxs.Load() >= 1 && len(rec.txids()) >= 3
	})

	var want []string
	for _, w := range block277647Whales {
		want = append(want, w.txid)
	}
	if got := rec.txids(); !slices.Equal(got, want) {
		t.Errorf("alerts %v, want %v", got, want)
	}
	if got := stats.DuplicateTxs.Load(); got != 1 {
		t.Errorf("duplicates %d, want 1", got)
	}
	if got := feed.Stats(); got.Lost != 0 || got.Corrupt != 0 || got.Dropped != 0 {
		t.Errorf("feed stats %+v, want nothing lost, corrupt or dropped", got)
	}
}

// TestZMQFeedFraming checks that bad messages are skipped and counted, and that a gap in a
// topic's counter is counted, while the stream goes on.
func TestZMQFeedFraming(t *testing.T) {
	t.Parallel()
	txs := block277647Txs(t)[:3]
	tests := []struct {
		name        string
		middle      func(tb testing.TB, p *zmqtest.Publisher)
		wantCorrupt uint64
		wantLost    uint64
	}{
		{"clean", func(testing.TB, *zmqtest.Publisher) {}, 0, 0},
		{"two frames", func(tb testing.TB, p *zmqtest.Publisher) {
			p.Send(tb, []byte("rawtx"), zmqtest.TxBytes(txs[1]))
		}, 1, 0},
		{"four frames", func(tb testing.TB, p *zmqtest.Publisher) {
			p.Send(tb, []byte("rawtx"), zmqtest.TxBytes(txs[1]), []byte{0, 0, 0, 0}, nil)
		}, 1, 0},
		{"three-byte counter", func(tb testing.TB, p *zmqtest.Publisher) {
			p.Send(tb, []byte("rawtx"), zmqtest.TxBytes(txs[1]), []byte{1, 0, 0})
		}, 1, 0},
		{"undecodable transaction", func(tb testing.TB, p *zmqtest.Publisher) {
			p.Publish(tb, "rawtx", []byte{1, 0, 0, 0, 0xff})
		}, 1, 0},
		{"short sequence body", func(tb testing.TB, p *zmqtest.Publisher) {
			p.Publish(tb, "sequence", []byte("A"))
		}, 1, 0},
		{"rawtx counter gap", func(tb testing.TB, p *zmqtest.Publisher) {
			p.Skip("rawtx", 5)
		}, 0, 5},
		{"sequence counter gap", func(tb testing.TB, p *zmqtest.Publisher) {
			p.Skip("sequence", 2)
		}, 0, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pub := zmqtest.NewPublisher(t, "")
			feed := newTestZMQFeed(t, pub.Endpoint())
			pub.WaitSubscribed(t)

			pub.PublishTx(t, txs[0])
			tt.middle(t, pub)
			pub.PublishTx(t, txs[2])
			gotTxs, wantTxs := nextTxids(t, feed, 2), txids(txs[0], txs[2])
			if !slices.Equal(gotTxs, wantTxs) {
				t.Errorf("transactions %v, want %v", gotTxs, wantTxs)
			}
			// The last sequence message follows the last rawtx: wait until it was read.
			waitFor(t, "the last message", func() bool {
				s := feed.Stats()
				return s.Corrupt+s.Lost >= tt.wantCorrupt+tt.wantLost
			})
			got := feed.Stats()
			if got.Corrupt != tt.wantCorrupt || got.Lost != tt.wantLost || got.Received != 2 {
				t.Errorf("stats %+v, want corrupt %d lost %d received 2", got, tt.wantCorrupt,
					tt.wantLost)
			}
		})
	}
}

// TestZMQFeedPublisherRestart stops the publisher and starts another on the same port, its
// counters back at 0: the feed reconnects and goes on without counting a gap.
func TestZMQFeedPublisherRestart(t *testing.T) {
	t.Parallel()
	txs := block277647Txs(t)[:2]
	first := zmqtest.NewPublisher(t, "")
	feed := newTestZMQFeed(t, first.Endpoint())
	first.WaitSubscribed(t)
	first.PublishTx(t, txs[0])
	if got, want := nextTxids(t, feed, 1), txids(txs[0]); !slices.Equal(got, want) {
		t.Fatalf("before the restart: %v, want %v", got, want)
	}

	if err := first.Close(); err != nil {
		t.Fatalf("close the first publisher: %v", err)
	}
	second := zmqtest.NewPublisher(t, first.Endpoint())
	second.WaitSubscribed(t)
	second.PublishTx(t, txs[1])
	if got, want := nextTxids(t, feed, 1), txids(txs[1]); !slices.Equal(got, want) {
		t.Fatalf("after the restart: %v, want %v", got, want)
	}
	if got := feed.Stats(); got.Reconnects == 0 || got.Lost != 0 {
		t.Errorf("stats %+v, want a reconnect and nothing lost", got)
	}
}

// TestZMQFeedClose checks that Close ends a feed whose publisher never came up: the reader
// stops backing off and Next reports io.EOF.
func TestZMQFeedClose(t *testing.T) {
	t.Parallel()
	pub := zmqtest.NewPublisher(t, "")
	endpoint := pub.Endpoint()
	if err := pub.Close(); err != nil {
		t.Fatalf("close publisher: %v", err)
	}
	feed := newTestZMQFeed(t, endpoint)
	if _, err := feed.Next(); !errors.Is(err, actors.ErrNoTx) {
		t.Fatalf("next before close: %v, want ErrNoTx", err)
	}

	closed := make(chan error, 1)
	go func() { closed <- feed.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatalf("close: %v", err)
		}
	case <-time.After(waitLimit):
		t.Fatalf("close still blocked after %v", waitLimit)
	}
	if _, err := feed.Next(); !errors.Is(err, io.EOF) {
		t.Errorf("next after close: %v, want io.EOF", err)
	}
}

// TestZMQFeedCloseDuringSilentHandshake: a peer that accepts TCP and never answers the ZMTP
// greeting must not hold Close (zmq4 runs its handshake without a deadline).
func TestZMQFeedCloseDuringSilentHandshake(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var (
		mu   sync.Mutex
		held []net.Conn
	)
	accepted := make(chan struct{}, 1)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c) // never read, never written
			mu.Unlock()
			select {
			case accepted <- struct{}{}:
			default:
			}
		}
	}()
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			_ = c.Close()
		}
	}()

	feed := newTestZMQFeed(t, "tcp://"+ln.Addr().String())
	select {
	case <-accepted:
	case <-time.After(waitLimit):
		t.Fatal("the feed never connected")
	}
	closed := make(chan error, 1)
	go func() { closed <- feed.Close() }()
	select {
	case <-closed:
	case <-time.After(3 * time.Second):
		t.Fatal("Close hung on a peer that never answers the handshake")
	}
}

// idleFeed never has a transaction; it counts the calls to Next.
type idleFeed struct{ calls atomic.Int64 }

func (f *idleFeed) Next() (actors.FeedTx, error) {
	f.calls.Add(1)
	return actors.FeedTx{}, actors.ErrNoTx
}
func (f *idleFeed) Rewind() error { return nil }
func (f *idleFeed) Close() error  { return nil }

// TestSourceIdleFeed checks that a source asks an empty live feed once per tick, at rate 0
// (no busy loop on its own acknowledgements) as at a fixed rate.
func TestSourceIdleFeed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		rate float64
	}{
		{"rate 0", 0},
		{"rate 100", 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sys := newActorSystem(t, nil)
			stats := actors.NewStats(testStart)
			det := &stingyDetector{window: 1}
			detPID := sys.Root.Spawn(actor.PropsFromFunc(det.receive))
			clk := clock.NewFake(testStart)
			feed := &idleFeed{}
			src := sys.Root.Spawn(actors.NewSourceProps(feed,
				actors.SourceConfig{Rate: tt.rate}, detPID, clk, stats, discardLogger()))
			t.Cleanup(func() { _ = sys.Root.StopFuture(src).Wait() })

			const ticks = 5
			for i := range ticks {
				waitFor(t, fmt.Sprintf("tick %d scheduled", i), func() bool {
					return clk.Pending() == 1 && feed.calls.Load() >= int64(i)
				})
				clk.Advance(10 * time.Millisecond)
			}
			waitFor(t, "the last tick", func() bool { return clk.Pending() == 1 })
			if got := feed.calls.Load(); got > ticks+1 {
				t.Errorf("next called %d times in %d ticks, want at most %d", got, ticks,
					ticks+1)
			}
			if got := stats.SourceErrors.Load(); got != 0 {
				t.Errorf("source errors %d, want 0", got)
			}
		})
	}
}

func TestValidateZMQEndpoint(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		ep      string
		wantErr bool
	}{
		{"loopback", "tcp://127.0.0.1:28332", false},
		{"host name", "tcp://node.example:28332", false},
		{"ipv6", "tcp://[::1]:28332", false},
		{"empty", "", true},
		{"no scheme", "127.0.0.1:28332", true},
		{"ipc", "ipc:///tmp/bitcoind.sock", true},
		{"no host", "tcp://:28332", true},
		{"no port", "tcp://127.0.0.1", true},
		{"port 0", "tcp://127.0.0.1:0", true},
		{"port too big", "tcp://127.0.0.1:65536", true},
		{"path", "tcp://127.0.0.1:28332/rawtx", true},
		{"user", "tcp://u:p@127.0.0.1:28332", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := actors.ValidateZMQEndpoint(tt.ep)
			if (err != nil) != tt.wantErr {
				t.Errorf("ValidateZMQEndpoint(%q) = %v, want error %v", tt.ep, err, tt.wantErr)
			}
		})
	}
}

// hostilePublisher accepts ZMTP connections on 127.0.0.1, sends a greeting (and, when
// ready is set, a READY command naming a PUB socket), then a frame header announcing 1 TB.
// It counts the connections it accepted.
func hostilePublisher(tb testing.TB, ready bool) (string, *atomic.Int64) {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	greeting := make([]byte, 64)
	greeting[0], greeting[9], greeting[10], greeting[32] = 0xff, 0x7f, 3, 1
	copy(greeting[12:], "NULL")
	readyBody := append([]byte{5}, "READY"...)
	readyBody = append(append(readyBody, 11), "Socket-Type"...)
	readyBody = append(binary.BigEndian.AppendUint32(readyBody, 3), "PUB"...)
	huge := binary.BigEndian.AppendUint64([]byte{0x06}, 1<<40) // a long command
	if ready {
		huge[0] = 0x02 // a long message frame
	}

	var accepted atomic.Int64
	var wg sync.WaitGroup
	conns := make(chan net.Conn, 64)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range cap(conns) {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			conns <- c
			out := slices.Clone(greeting)
			if ready {
				out = append(append(out, 0x04, byte(len(readyBody))), readyBody...)
			}
			_, _ = c.Write(append(out, huge...))
		}
	}()
	tb.Cleanup(func() {
		_ = ln.Close()
		wg.Wait()
		close(conns)
		for c := range conns {
			_ = c.Close()
		}
	})
	return "tcp://" + ln.Addr().String(), &accepted
}

// TestZMQFeedHugeFrame: a publisher announcing a frame of a terabyte, during the handshake
// or after it, costs a failed connection, not the process: zmq4 would allocate what the
// header says.
func TestZMQFeedHugeFrame(t *testing.T) {
	t.Parallel()
	for _, ready := range []bool{false, true} {
		t.Run(fmt.Sprintf("after READY %v", ready), func(t *testing.T) {
			t.Parallel()
			endpoint, accepted := hostilePublisher(t, ready)
			feed := newTestZMQFeed(t, endpoint)
			waitFor(t, "the feed to connect again", func() bool {
				s := feed.Stats()
				return accepted.Load() >= 2 && s.Reconnects >= 1 && s.Corrupt >= 1
			})
			if _, err := feed.Next(); !errors.Is(err, actors.ErrNoTx) {
				t.Errorf("next: %v, want ErrNoTx", err)
			}
		})
	}
}
