package actors_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/wire/v2"

	"github.com/whalecast/whalecast/actors"
	"github.com/whalecast/whalecast/internal/zmqtest"
)

// rpcFixture is a publisher, a fake node and a feed using both, on the early chain up to
// block 100 and mempool transactions of block 277647 (T0 to T9), T0 in the node's mempool
// from the start.
type rpcFixture struct {
	pub   *zmqtest.Publisher
	node  *zmqtest.Node
	feed  *actors.ZMQFeed
	chain []*wire.MsgBlock
	txs   []*wire.MsgTx
	names zmqNames
}

// newRPCFixture starts the fixture and waits for the feed's baseline; cfg may set the
// feed's options.
func newRPCFixture(t *testing.T, cfg actors.ZMQConfig) *rpcFixture {
	t.Helper()
	fx := &rpcFixture{chain: zmqEarlyChain(t), txs: zmqBlock(t).Transactions[1:11],
		names: zmqNames{}}
	for i, blk := range fx.chain {
		fx.names.add(fmt.Sprintf("b%d", i), blk.BlockHash())
	}
	for i, tx := range fx.txs {
		fx.names.add(fmt.Sprintf("T%d", i), tx.TxHash())
	}
	fx.node = zmqtest.NewNode(t, fx.chain[:101], 0)
	fx.node.AddTx(fx.txs[0], fx.fee(0))
	fx.pub = zmqtest.NewPublisher(t, "")
	cfg.RPC = fx.node.Client(t)
	fx.feed = openZMQFeed(t, fx.pub.Endpoint(), cfg)
	fx.pub.WaitSubscribed(t)

	fx.expectCalls(t, "getrawmempool", "getbestblockhash", "getblockheader b100")
	return fx
}

// fee is the fee the node gives Ti.
func (fx *rpcFixture) fee(i int) zmqtest.Fee {
	return zmqtest.Fee{Sat: int64(1000 * (i + 1)), VSize: int64(200 + i)}
}

// feeText is how an item shows fx.fee(i).
func (fx *rpcFixture) feeText(i int) string {
	return fmt.Sprintf("tx T%d fee=%d/%d", i, 1000*(i+1), 200+i)
}

// announce adds Ti to the node's mempool and publishes it.
func (fx *rpcFixture) announce(t *testing.T, i int) {
	t.Helper()
	fx.node.AddTx(fx.txs[i], fx.fee(i))
	fx.pub.PublishTx(t, fx.txs[i])
}

// expectCalls waits until the node answered len(want) calls since the last check and
// compares them, hashes shown by their names.
func (fx *rpcFixture) expectCalls(t *testing.T, want ...string) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d calls to the node", len(want)), func() bool {
		return fx.node.CallCount() >= len(want)
	})
	var got []string
	for _, call := range fx.node.TakeCalls() {
		for id, name := range fx.names {
			call = strings.ReplaceAll(call, id, name)
		}
		got = append(got, call)
	}
	if !slices.Equal(got, want) {
		t.Errorf("calls to the node\n got %q\nwant %q", got, want)
	}
}

// expectItems takes len(want) items and compares them.
func (fx *rpcFixture) expectItems(t *testing.T, want ...string) {
	t.Helper()
	if got := takeZMQItems(t, fx.feed, len(want), fx.names); !slices.Equal(got, want) {
		t.Errorf("items\n got %q\nwant %q", got, want)
	}
}

// TestZMQFeedResync makes the feed miss messages and checks that it resyncs through the
// node: the blocks and the transactions it missed come through, then the mempool.
func TestZMQFeedResync(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		miss      func(t *testing.T, fx *rpcFixture)
		wantItems func(fx *rpcFixture) []string
		wantCalls []string
		wantLost  uint64
	}{
		{name: "counter gap", miss: func(t *testing.T, fx *rpcFixture) {
			fx.node.AddTx(fx.txs[2], fx.fee(2))
			fx.node.AddTx(fx.txs[3], fx.fee(3))
			fx.node.Connect(fx.chain[101], fx.chain[102])
			fx.pub.Skip("rawtx", 4)
			fx.pub.Skip("sequence", 4)
			fx.pub.Skip("rawblock", 2)
		}, wantItems: func(fx *rpcFixture) []string {
			return []string{fx.feeText(4), "connected b101@101 txs=1",
				"connected b102@102 txs=1", fx.feeText(2), fx.feeText(3),
				"snapshot T0,T1,T2,T3,T4"}
		}, wantCalls: []string{"getmempoolentry T4", "getblockheader b100",
			"getblockhash 101", "getblock b101", "getblockhash 102", "getblock b102",
			"getrawmempool", "getrawtransaction T2,T3", "getmempoolentry T2,T3"},
			wantLost: 8},
		{name: "counter back", miss: func(t *testing.T, fx *rpcFixture) {
			fx.node.AddTx(fx.txs[2], fx.fee(2))
			fx.node.RemoveTx(fx.txs[0])
			fx.pub.ResetCounters()
		}, wantItems: func(fx *rpcFixture) []string {
			return []string{fx.feeText(4), fx.feeText(2), "snapshot T1,T2,T4"}
		}, wantCalls: []string{"getmempoolentry T4", "getblockheader b100",
			"getrawmempool", "getrawtransaction T2", "getmempoolentry T2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fx := newRPCFixture(t, actors.ZMQConfig{})
			fx.announce(t, 1)
			fx.expectItems(t, fx.feeText(1))
			fx.expectCalls(t, "getmempoolentry T1")

			tt.miss(t, fx)
			fx.announce(t, 4)
			fx.expectItems(t, tt.wantItems(fx)...)
			fx.expectCalls(t, tt.wantCalls...)
			expectZMQQuiet(t, fx.feed, 150*time.Millisecond, fx.names)
			s := fx.feed.Stats()
			if s.Resyncs != 1 || s.ResyncErrors != 0 || s.Lost != tt.wantLost {
				t.Errorf("stats %+v, want 1 resync, no error, %d lost", s, tt.wantLost)
			}
			if n := fx.node.CallCount(); n != 0 {
				t.Errorf("%d more calls to the node after the resync: %q", n,
					fx.node.TakeCalls())
			}
		})
	}
}

// TestZMQFeedResyncOnReconnect restarts the publisher (its counters start again at 0):
// the feed reconnects, resyncs once, and goes on.
func TestZMQFeedResyncOnReconnect(t *testing.T) {
	t.Parallel()
	fx := newRPCFixture(t, actors.ZMQConfig{})
	fx.announce(t, 1)
	fx.expectItems(t, fx.feeText(1))
	fx.expectCalls(t, "getmempoolentry T1")

	if err := fx.pub.Close(); err != nil {
		t.Fatalf("close the publisher: %v", err)
	}
	fx.node.AddTx(fx.txs[2], fx.fee(2))
	fx.node.Connect(fx.chain[101])
	second := zmqtest.NewPublisher(t, fx.pub.Endpoint())
	second.WaitSubscribed(t)
	fx.expectItems(t, "connected b101@101 txs=1", fx.feeText(2), "snapshot T0,T1,T2")
	fx.expectCalls(t, "getblockheader b100", "getblockhash 101", "getblock b101",
		"getrawmempool", "getrawtransaction T2", "getmempoolentry T2")

	fx.pub = second
	fx.announce(t, 3)
	fx.expectItems(t, fx.feeText(3))
	fx.expectCalls(t, "getmempoolentry T3")
	expectZMQQuiet(t, fx.feed, 150*time.Millisecond, fx.names)
	if s := fx.feed.Stats(); s.Resyncs != 1 || s.Reconnects == 0 || s.ResyncTxs != 1 {
		t.Errorf("stats %+v, want a reconnect, 1 resync and 1 transaction fetched", s)
	}
}

// TestZMQFeedResyncChain checks the chain side of a resync: a block the feed passed on
// that left the main chain is disconnected, and at most MaxResyncBlocks are connected.
func TestZMQFeedResyncChain(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		bound     int
		gap       int
		wantItems []string
		wantCalls []string
		wantLog   string
	}{
		{name: "reorg", gap: 2, wantItems: []string{"tx T1 fee=2000/201",
			"disconnected X101", "connected b101@101 txs=1", "connected b102@102 txs=1",
			"snapshot T0,T1"},
			wantCalls: []string{"getmempoolentry T1", "getblockheader X101",
				"getblockheader b100", "getblockhash 101", "getblock b101",
				"getblockhash 102", "getblock b102", "getrawmempool"},
			wantLog: "zmq resynced"},
		{name: "gap over the bound", bound: 2, gap: 4, wantItems: []string{
			"tx T1 fee=2000/201", "disconnected X101", "connected b101@101 txs=1",
			"connected b102@102 txs=1", "snapshot T0,T1"},
			wantCalls: []string{"getmempoolentry T1", "getblockheader X101",
				"getblockheader b100", "getblockhash 101", "getblock b101",
				"getblockhash 102", "getblock b102", "getrawmempool"},
			wantLog: "zmq chain gap over the resync bound"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			logs := &zmqLogs{}
			fx := newRPCFixture(t, actors.ZMQConfig{MaxResyncBlocks: tt.bound,
				Logger: logs.logger()})
			x101 := zmqChildBlock(fx.chain[100], 101, 7)
			fx.names.add("X101", x101.BlockHash())
			fx.node.Connect(x101)
			fx.pub.PublishBlock(t, x101, true)
			fx.expectItems(t, "connected X101@101 txs=1")

			fx.node.Disconnect()
			fx.node.Connect(fx.chain[101 : 101+tt.gap]...)
			fx.pub.Skip("sequence", uint32(1+tt.gap))
			fx.announce(t, 1)
			fx.expectItems(t, tt.wantItems...)
			fx.expectCalls(t, tt.wantCalls...)
			if got := logs.matching(tt.wantLog); len(got) != 1 {
				t.Errorf("log lines %q, want one %q", got, tt.wantLog)
			}
			if s := fx.feed.Stats(); s.Blocks != 3 || s.Disconnected != 1 {
				t.Errorf("stats %+v, want 3 blocks connected and 1 disconnected", s)
			}
		})
	}
}

// TestZMQFeedResyncRetry makes the node fail a resync twice: each failure is counted and
// retried after a backoff, and the third attempt passes the mempool on once.
func TestZMQFeedResyncRetry(t *testing.T) {
	t.Parallel()
	logs := &zmqLogs{}
	fx := newRPCFixture(t, actors.ZMQConfig{Logger: logs.logger()})
	fx.announce(t, 1)
	fx.expectItems(t, fx.feeText(1))
	fx.expectCalls(t, "getmempoolentry T1")

	fx.node.FailNext("getrawmempool", 2)
	fx.pub.Skip("rawtx", 1)
	fx.announce(t, 2)
	fx.expectItems(t, fx.feeText(2), "snapshot T0,T1,T2")
	fx.expectCalls(t, "getmempoolentry T2",
		"getblockheader b100", "getrawmempool failed",
		"getblockheader b100", "getrawmempool failed",
		"getblockheader b100", "getrawmempool")

	expectZMQQuiet(t, fx.feed, 100*time.Millisecond, fx.names)
	if s := fx.feed.Stats(); s.Resyncs != 1 || s.ResyncErrors != 2 {
		t.Errorf("stats %+v, want 1 resync after 2 errors", s)
	}
	if got := logs.matching("zmq resync failed", "503"); len(got) != 1 {
		t.Errorf("failure log lines %q, want one (throttled)", got)
	}
}

// TestZMQFeedResyncKeepsReading holds a resync inside a call to the node: Next still
// answers within PollWait, and the reader keeps draining the socket meanwhile.
func TestZMQFeedResyncKeepsReading(t *testing.T) {
	t.Parallel()
	fx := newRPCFixture(t, actors.ZMQConfig{})
	fx.announce(t, 1)
	fx.expectItems(t, fx.feeText(1))
	fx.expectCalls(t, "getmempoolentry T1")

	release := fx.node.Hold("getrawmempool")
	defer release()
	fx.pub.Skip("rawtx", 1)
	fx.announce(t, 2)
	fx.expectItems(t, fx.feeText(2))
	fx.expectCalls(t, "getmempoolentry T2", "getblockheader b100")
	waitFor(t, "the resync to wait on the node", func() bool {
		return slices.Contains(fx.node.HeldNow(), "getrawmempool")
	})

	for i := 5; i < 10; i++ {
		fx.pub.PublishTx(t, fx.txs[i])
	}
	waitFor(t, "the reader to take 7 transactions", func() bool {
		return fx.feed.Stats().Received == 7
	})
	for range 5 {
		start := time.Now()
		if _, err := fx.feed.Next(); !errors.Is(err, actors.ErrNoTx) {
			t.Fatalf("next during the resync: %v, want ErrNoTx", err)
		}
		if took := time.Since(start); took > time.Second {
			t.Errorf("next took %v during a resync", took)
		}
	}

	release()
	fx.expectItems(t, "snapshot T0,T1,T2", "tx T5 fee=nil", "tx T6 fee=nil", "tx T7 fee=nil",
		"tx T8 fee=nil", "tx T9 fee=nil")
	fx.expectCalls(t, "getrawmempool", "getmempoolentry T5,T6,T7,T8,T9")
}

// TestZMQFeedFees checks the fees the feed attaches: from the node in batches (an event
// between the transactions waits in the batch, in order), nil for a transaction the node
// no longer has, nil when the node fails. Without RPC they are nil: TestZMQFeedEvents.
func TestZMQFeedFees(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		batch     int
		inNode    []int
		fail      int
		wantItems []string
		wantCalls []string
		wantErrs  uint64
	}{
		{name: "one batch", inNode: []int{1, 2, 3},
			wantItems: []string{"tx T1 fee=2000/201", "removed T9", "tx T2 fee=3000/202",
				"tx T3 fee=4000/203"},
			wantCalls: []string{"getmempoolentry T1,T2,T3"}},
		{name: "batches of two", batch: 2, inNode: []int{1, 2, 3},
			wantItems: []string{"tx T1 fee=2000/201", "removed T9", "tx T2 fee=3000/202",
				"tx T3 fee=4000/203"},
			wantCalls: []string{"getmempoolentry T1,T2", "getmempoolentry T3"}},
		{name: "not in the node's mempool", inNode: []int{2},
			wantItems: []string{"tx T1 fee=nil", "removed T9", "tx T2 fee=3000/202",
				"tx T3 fee=nil"},
			wantCalls: []string{"getmempoolentry T1,T2,T3"}},
		{name: "node fails", inNode: []int{1, 2, 3}, fail: 1,
			wantItems: []string{"tx T1 fee=nil", "removed T9", "tx T2 fee=nil",
				"tx T3 fee=nil"},
			wantCalls: []string{"getmempoolentry failed"}, wantErrs: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fx := newRPCFixture(t, actors.ZMQConfig{FeeBatch: tt.batch,
				FeeWait: 200 * time.Millisecond})
			for _, i := range tt.inNode {
				fx.node.AddTx(fx.txs[i], fx.fee(i))
			}
			fx.node.FailNext("getmempoolentry", tt.fail)
			fx.pub.PublishTx(t, fx.txs[1])
			fx.pub.PublishRemoved(t, fx.txs[9])
			fx.pub.PublishTx(t, fx.txs[2])
			fx.pub.PublishTx(t, fx.txs[3])
			fx.expectItems(t, tt.wantItems...)
			fx.expectCalls(t, tt.wantCalls...)
			if got := fx.feed.Stats().FeeErrors; got != tt.wantErrs {
				t.Errorf("fee errors %d, want %d", got, tt.wantErrs)
			}

			fx.announce(t, 4)
			fx.expectItems(t, fx.feeText(4))
		})
	}
}

// TestZMQFeedStrayBlock: Bitcoin Core publishes rawblock for the new tip only, so after a
// reorg to a longer branch the feed receives a block whose parent it never saw. With RPC
// the block is held back and a resync connects the branch in order; without RPC the block
// goes on as it is, and the log says that the skipped blocks need --rpc.
func TestZMQFeedStrayBlock(t *testing.T) {
	t.Parallel()
	t.Run("with rpc", func(t *testing.T) {
		t.Parallel()
		logs := &zmqLogs{}
		fx := newRPCFixture(t, actors.ZMQConfig{Logger: logs.logger()})
		x101 := zmqChildBlock(fx.chain[100], 101, 7)
		fx.names.add("X101", x101.BlockHash())
		fx.node.Connect(x101)
		fx.pub.PublishBlock(t, x101, true)
		fx.expectItems(t, "connected X101@101 txs=1")

		fx.node.Disconnect()
		fx.node.Connect(fx.chain[101], fx.chain[102])
		fx.pub.PublishDisconnected(t, x101)
		fx.pub.PublishConnected(t, fx.chain[101])
		fx.pub.PublishConnected(t, fx.chain[102])
		fx.pub.Publish(t, zmqtest.TopicRawBlock, zmqtest.BlockBytes(fx.chain[102]))
		fx.expectItems(t, "disconnected X101", "connected b101@101 txs=1",
			"connected b102@102 txs=1", "snapshot T0")
		fx.expectCalls(t, "getblockheader b100", "getblockhash 101", "getblock b101",
			"getblockhash 102", "getblock b102", "getrawmempool")

		fx.node.Connect(fx.chain[103])
		fx.pub.PublishBlock(t, fx.chain[103], false)
		// An early block states no height (no BIP34): the lifecycle counts from its tip.
		fx.expectItems(t, "connected b103@0 txs=1")
		expectZMQQuiet(t, fx.feed, 150*time.Millisecond, fx.names)
		if n := fx.node.CallCount(); n != 0 {
			t.Errorf("%d more calls to the node: %q", n, fx.node.TakeCalls())
		}
		if s := fx.feed.Stats(); s.Resyncs != 1 || s.Lost != 0 || s.Disconnected != 1 {
			t.Errorf("stats %+v, want 1 resync, nothing lost, 1 block disconnected", s)
		}
		if got := logs.matching("zmq block does not extend the tip", "resync=asked"); len(
			got) != 1 {
			t.Errorf("log lines %q, want one for the stray block", got)
		}
	})
	t.Run("without rpc", func(t *testing.T) {
		t.Parallel()
		chain := zmqEarlyChain(t)
		names := zmqNames{}.add("b100", chain[100].BlockHash()).
			add("b102", chain[102].BlockHash())
		logs := &zmqLogs{}
		pub := zmqtest.NewPublisher(t, "")
		feed := openZMQFeed(t, pub.Endpoint(), actors.ZMQConfig{Logger: logs.logger()})
		pub.WaitSubscribed(t)

		pub.PublishBlock(t, chain[100], false)
		pub.PublishConnected(t, chain[101])
		pub.PublishBlock(t, chain[102], false)
		want := []string{"connected b100@0 txs=1", "connected b102@0 txs=1"}
		if got := takeZMQItems(t, feed, len(want), names); !slices.Equal(got, want) {
			t.Errorf("items %q, want %q", got, want)
		}
		if got := logs.matching("zmq block does not extend the tip",
			`resync="needs --rpc"`); len(got) != 1 {
			t.Errorf("log lines %q, want one saying the resync needs --rpc", got)
		}
	})
}
