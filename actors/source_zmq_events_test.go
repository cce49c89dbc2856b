package actors_test

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/whalecast/whalecast/actors"
	"github.com/whalecast/whalecast/internal/bitcoin"
	"github.com/whalecast/whalecast/internal/btcdtest"
	"github.com/whalecast/whalecast/internal/zmqtest"
)

// The real blocks these tests replay are read once per test binary.
var (
	zmqBlockOnce, zmqEarlyOnce sync.Once
	zmqBlockValue              *wire.MsgBlock
	zmqEarlyBlocks             []*wire.MsgBlock
)

// zmqEarlyCount is how many blocks of the early chain the tests use.
const zmqEarlyCount = 110

// zmqBlock returns mainnet block 277647 (213 transactions, BIP34 height).
func zmqBlock(tb testing.TB) *wire.MsgBlock {
	tb.Helper()
	zmqBlockOnce.Do(func() {
		blocks := zmqReadBlocks(tb, btcdtest.Block277647(tb), 1)
		zmqBlockValue = blocks[0]
	})
	if zmqBlockValue == nil {
		tb.Fatal("block 277647 was not read")
	}
	return zmqBlockValue
}

// zmqEarlyChain returns mainnet blocks 0 to zmqEarlyCount-1.
func zmqEarlyChain(tb testing.TB) []*wire.MsgBlock {
	tb.Helper()
	zmqEarlyOnce.Do(func() {
		zmqEarlyBlocks = zmqReadBlocks(tb, btcdtest.EarlyChain(tb), zmqEarlyCount)
	})
	if len(zmqEarlyBlocks) != zmqEarlyCount {
		tb.Fatalf("read %d early blocks, want %d", len(zmqEarlyBlocks), zmqEarlyCount)
	}
	return zmqEarlyBlocks
}

func zmqReadBlocks(tb testing.TB, path string, n int) []*wire.MsgBlock {
	tb.Helper()
	r, err := bitcoin.OpenFile(path)
	if err != nil {
		tb.Fatalf("open %s: %v", path, err)
	}
	defer r.Close()
	var blocks []*wire.MsgBlock
	for len(blocks) < n {
		item, err := r.Next()
		if err != nil {
			tb.Fatalf("%s: block %d: %v", path, len(blocks), err)
		}
		blocks = append(blocks, item.Block)
	}
	return blocks
}

// zmqChildBlock builds a block on parent at height, BIP34 style: a coinbase stating the height
// (tag tells siblings apart) followed by txs, with a real merkle root and no proof of work.
func zmqChildBlock(parent *wire.MsgBlock, height int64, tag byte,
	txs ...*wire.MsgTx) *wire.MsgBlock {
	script := []byte{3, byte(height), byte(height >> 8), byte(height >> 16), 1, tag}
	coinbase := wire.NewMsgTx(1)
	coinbase.AddTxIn(&wire.TxIn{PreviousOutPoint: wire.OutPoint{Index: wire.MaxPrevOutIndex},
		SignatureScript: script, Sequence: wire.MaxTxInSequenceNum})
	coinbase.AddTxOut(&wire.TxOut{Value: 25 * 100_000_000, PkScript: []byte{0x51}})

	blk := &wire.MsgBlock{Header: wire.BlockHeader{Version: 2,
		PrevBlock: parent.BlockHash(), Timestamp: parent.Header.Timestamp.Add(10 * time.Minute),
		Bits: parent.Header.Bits, Nonce: uint32(tag)}}
	blk.Transactions = append([]*wire.MsgTx{coinbase}, txs...)
	ids := make([]chainhash.Hash, len(blk.Transactions))
	for i, tx := range blk.Transactions {
		ids[i] = tx.TxHash()
	}
	blk.Header.MerkleRoot = zmqMerkleRoot(ids)
	return blk
}

// zmqMerkleRoot hashes pairs level by level; an odd level repeats its last hash.
func zmqMerkleRoot(ids []chainhash.Hash) chainhash.Hash {
	for len(ids) > 1 {
		if len(ids)%2 == 1 {
			ids = append(ids, ids[len(ids)-1])
		}
		up := make([]chainhash.Hash, len(ids)/2)
		for i := range up {
			up[i] = chainhash.DoubleHashH(append(ids[2*i][:], ids[2*i+1][:]...))
		}
		ids = up
	}
	return ids[0]
}

// zmqRespend returns a transaction spending the same inputs as tx with cut satoshis less on
// its first output: a replacement, or a double spend.
func zmqRespend(tx *wire.MsgTx, cut int64) *wire.MsgTx {
	out := tx.Copy()
	out.TxOut[0].Value -= cut
	return out
}

// zmqNames names hashes in test output; a hash without a name shows its first 8 digits.
type zmqNames map[string]string

func (l zmqNames) add(name string, h chainhash.Hash) zmqNames {
	l[h.String()] = name
	return l
}

func (l zmqNames) of(id string) string {
	if name, ok := l[id]; ok {
		return name
	}
	return id[:min(8, len(id))]
}

// describe shows an item of a feed in one line.
func (l zmqNames) describe(ftx actors.FeedTx) string {
	if ftx.Event == nil {
		fee := "nil"
		if ftx.Fee != nil {
			fee = fmt.Sprintf("%d/%d", ftx.Fee.Sat, ftx.Fee.VSize)
		}
		return fmt.Sprintf("tx %s fee=%s", l.of(ftx.Msg.TxHash().String()), fee)
	}
	e := ftx.Event
	switch e.Kind {
	case actors.BlockConnected:
		return fmt.Sprintf("connected %s@%d txs=%d", l.of(e.Hash.String()), e.Height,
			len(e.Block.Transactions))
	case actors.BlockDisconnected:
		return "disconnected " + l.of(e.Hash.String())
	case actors.TxRemoved:
		return "removed " + l.of(e.TxID)
	case actors.MempoolSnapshot:
		var names []string
		for id := range e.Mempool {
			names = append(names, l.of(id))
		}
		slices.Sort(names)
		return "snapshot " + strings.Join(names, ",")
	}
	return "unknown event"
}

// takeZMQItems takes n items from feed, within waitLimit, and describes them.
func takeZMQItems(tb testing.TB, feed actors.Feed, n int, l zmqNames) []string {
	tb.Helper()
	var got []string
	deadline := time.Now().Add(waitLimit)
	for len(got) < n {
		if time.Now().After(deadline) {
			tb.Fatalf("got %d items %q, want %d", len(got), got, n)
		}
		ftx, err := feed.Next()
		switch {
		case errors.Is(err, actors.ErrNoTx):
		case err != nil:
			tb.Fatalf("next after %q: %v", got, err)
		default:
			got = append(got, l.describe(ftx))
		}
	}
	return got
}

// expectZMQQuiet checks that feed yields nothing more for d.
func expectZMQQuiet(tb testing.TB, feed actors.Feed, d time.Duration, l zmqNames) {
	tb.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); {
		ftx, err := feed.Next()
		if err == nil {
			tb.Errorf("unexpected item %s", l.describe(ftx))
		} else if !errors.Is(err, actors.ErrNoTx) {
			tb.Fatalf("next: %v", err)
		}
	}
}

// zmqLogs keeps every log line of a feed.
type zmqLogs struct {
	mu    sync.Mutex
	lines []string
}

func (b *zmqLogs) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.lines = append(b.lines, strings.TrimSpace(string(p)))
	return len(p), nil
}

func (b *zmqLogs) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// matching returns the lines containing every one of parts.
func (b *zmqLogs) matching(parts ...string) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, line := range b.lines {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(line, p)
		}
		if all {
			out = append(out, line)
		}
	}
	return out
}

// openZMQFeed opens a feed on endpoint with fast backoff and short waits unless cfg sets
// them; it is closed at cleanup.
func openZMQFeed(tb testing.TB, endpoint string, cfg actors.ZMQConfig) *actors.ZMQFeed {
	tb.Helper()
	cfg.Endpoint = endpoint
	cfg.MinBackoff = orDuration(cfg.MinBackoff, 10*time.Millisecond)
	cfg.MaxBackoff = orDuration(cfg.MaxBackoff, 50*time.Millisecond)
	cfg.FeeWait = orDuration(cfg.FeeWait, 10*time.Millisecond)
	cfg.ResyncDelay = orDuration(cfg.ResyncDelay, 50*time.Millisecond)
	if cfg.Logger == nil {
		cfg.Logger = discardLogger()
	}
	feed, err := actors.NewZMQFeed(cfg)
	if err != nil {
		tb.Fatalf("open zmq feed: %v", err)
	}
	tb.Cleanup(func() { _ = feed.Close() })
	return feed
}

func orDuration(v, def time.Duration) time.Duration {
	if v == 0 {
		return def
	}
	return v
}

// TestZMQFeedEvents publishes what Bitcoin Core publishes in a few mempool and chain
// situations, on real mainnet transactions and blocks, and checks what the feed yields.
func TestZMQFeedEvents(t *testing.T) {
	t.Parallel()
	blk := zmqBlock(t)
	txs := blk.Transactions[1:]
	a, b := txs[0], txs[1]
	bump := zmqRespend(a, 2_000)
	x1 := zmqChildBlock(blk, 277648, 1, zmqRespend(b, 500))
	y1 := zmqChildBlock(blk, 277648, 2, txs[2])
	y2 := zmqChildBlock(y1, 277649, 3)
	names := zmqNames{}.add("A", a.TxHash()).add("B", b.TxHash()).
		add("A'", bump.TxHash()).add("B'", zmqRespend(b, 500).TxHash()).
		add("C", txs[2].TxHash()).add("blk", blk.BlockHash()).
		add("X1", x1.BlockHash()).add("Y1", y1.BlockHash()).add("Y2", y2.BlockHash())
	tests := []struct {
		name    string
		publish func(tb testing.TB, p *zmqtest.Publisher)
		want    []string
	}{
		{"announced twice", func(tb testing.TB, p *zmqtest.Publisher) {
			p.PublishTx(tb, a)
			p.Publish(tb, "rawtx", zmqtest.TxBytes(a))
		}, []string{"tx A fee=nil", "tx A fee=nil"}},
		{"replaced by fee", func(tb testing.TB, p *zmqtest.Publisher) {
			p.PublishTx(tb, a)
			p.PublishRemoved(tb, a)
			p.PublishTx(tb, bump)
		}, []string{"tx A fee=nil", "removed A", "tx A' fee=nil"}},
		{"double spend mined", func(tb testing.TB, p *zmqtest.Publisher) {
			p.PublishTx(tb, b)
			p.PublishBlock(tb, x1, true)
		}, []string{"tx B fee=nil", "tx B' fee=nil", "connected X1@277648 txs=2"}},
		{"reorg", func(tb testing.TB, p *zmqtest.Publisher) {
			p.PublishBlock(tb, blk, false)
			p.PublishBlock(tb, x1, false)
			p.PublishDisconnected(tb, x1)
			p.PublishBlock(tb, y1, true)
			p.PublishBlock(tb, y2, false)
		}, []string{"connected blk@277647 txs=213", "connected X1@277648 txs=2",
			"disconnected X1", "tx C fee=nil", "connected Y1@277648 txs=2",
			"connected Y2@277649 txs=1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pub := zmqtest.NewPublisher(t, "")
			feed := openZMQFeed(t, pub.Endpoint(), actors.ZMQConfig{})
			pub.WaitSubscribed(t)

			tt.publish(t, pub)
			if got := takeZMQItems(t, feed, len(tt.want), names); !slices.Equal(got, tt.want) {
				t.Errorf("items\n got %q\nwant %q", got, tt.want)
			}
			expectZMQQuiet(t, feed, 50*time.Millisecond, names)
			if s := feed.Stats(); s.Corrupt != 0 || s.Lost != 0 || s.Dropped != 0 {
				t.Errorf("stats %+v, want nothing corrupt, lost or dropped", s)
			}
		})
	}
}

// TestZMQFeedCorruptLogged sends a burst of corrupt messages between two good ones: each
// is counted and skipped, and the burst costs one log line.
func TestZMQFeedCorruptLogged(t *testing.T) {
	t.Parallel()
	blk := zmqBlock(t)
	a, b := blk.Transactions[1], blk.Transactions[2]
	names := zmqNames{}.add("A", a.TxHash()).add("B", b.TxHash())
	logs := &zmqLogs{}
	pub := zmqtest.NewPublisher(t, "")
	feed := openZMQFeed(t, pub.Endpoint(), actors.ZMQConfig{LogEvery: time.Hour,
		Logger: logs.logger()})
	pub.WaitSubscribed(t)

	pub.PublishTx(t, a)
	raw := zmqtest.BlockBytes(blk)
	pub.Publish(t, "rawblock", raw[:len(raw)-1])
	pub.Publish(t, "rawblock", zmqtest.BlockBytes(&wire.MsgBlock{Header: blk.Header}))
	pub.Publish(t, "sequence", pub.SequenceBody(a.TxHash(), 'X', true))
	pub.Publish(t, "sequence", pub.SequenceBody(a.TxHash(), 'C', true))
	pub.Publish(t, "rawtx", []byte{2, 0, 0, 0})
	pub.Send(t, []byte("rawblock"), raw)
	pub.PublishTx(t, b)

	want := []string{"tx A fee=nil", "tx B fee=nil"}
	if got := takeZMQItems(t, feed, 2, names); !slices.Equal(got, want) {
		t.Errorf("items %q, want %q", got, want)
	}
	waitFor(t, "six corrupt messages", func() bool { return feed.Stats().Corrupt == 6 })
	if got := logs.matching("zmq message skipped"); len(got) != 1 {
		t.Errorf("logged %d lines for the corrupt messages, want 1: %q", len(got), got)
	}
	if s := feed.Stats(); s.Blocks != 0 || s.Received != 2 {
		t.Errorf("stats %+v, want no block and two transactions", s)
	}
}

// TestZMQFeedGapWithoutRPC checks that a feed without RPC counts a gap and says that a
// resync needs --rpc.
func TestZMQFeedGapWithoutRPC(t *testing.T) {
	t.Parallel()
	blk := zmqBlock(t)
	logs := &zmqLogs{}
	pub := zmqtest.NewPublisher(t, "")
	feed := openZMQFeed(t, pub.Endpoint(), actors.ZMQConfig{Logger: logs.logger()})
	pub.WaitSubscribed(t)

	pub.PublishTx(t, blk.Transactions[1])
	pub.Skip("rawtx", 3)
	pub.PublishTx(t, blk.Transactions[2])
	nextTxids(t, feed, 2)
	waitFor(t, "the gap", func() bool { return feed.Stats().Lost == 3 })
	if got := logs.matching("zmq messages lost", "topic=rawtx", `resync="needs --rpc"`); len(
		got) != 1 {
		t.Errorf("gap log lines %q, want one saying a resync needs --rpc", got)
	}
	if s := feed.Stats(); s.Resyncs != 0 || s.ResyncErrors != 0 {
		t.Errorf("stats %+v, want no resync", s)
	}
}
