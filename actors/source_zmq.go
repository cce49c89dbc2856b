package actors

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/whalecast/whalecast/internal/corerpc"
)

// Defaults of ZMQConfig.
const (
	DefaultZMQBuffer       = 4096
	DefaultZMQPollWait     = 5 * time.Millisecond
	DefaultZMQMinBackoff   = 100 * time.Millisecond
	DefaultZMQMaxBackoff   = 5 * time.Second
	DefaultZMQLogEvery     = time.Second
	DefaultFeeBatch        = 100
	DefaultFeeWait         = 50 * time.Millisecond
	DefaultRecentTxs       = 200_000
	DefaultMaxResyncBlocks = 20
	DefaultResyncDelay     = 100 * time.Millisecond
)

// ZMQConfig sets up a live feed from Bitcoin Core's ZMQ publisher. The zero value of every
// field but Endpoint picks its default.
//
// The node must publish rawtx, rawblock and sequence on Endpoint (-zmqpubrawtx,
// -zmqpubrawblock and -zmqpubsequence may all name the same address). Without rawblock the
// feed sees no block connected, so no alert is ever confirmed; without sequence it sees no
// removal from the mempool and no block disconnected.
type ZMQConfig struct {
	// Endpoint is the publisher's address, "tcp://HOST:PORT".
	Endpoint string
	// Buffer bounds the messages the socket reader hands to the feed's worker and the worker
	// has not taken yet (default 4096). When it is full, new messages are dropped and
	// counted; with RPC, a dropped block or mempool event also triggers a resync.
	Buffer int
	// PollWait is how long Next waits for a transaction before it reports ErrNoTx
	// (default 5ms). It bounds how long the source actor may block in Next.
	PollWait time.Duration
	// MinBackoff is the first wait before a reconnect or before retrying a failed resync
	// (default 100ms); each failed attempt doubles it up to MaxBackoff (default 5s).
	MinBackoff time.Duration
	// MaxBackoff bounds the wait between reconnects and between resync attempts.
	MaxBackoff time.Duration
	// LogEvery is the least interval between two log lines of one kind of repeated problem
	// (corrupt frame, gap, drop, reconnect, failed fee lookup); default 1s.
	LogEvery time.Duration
	// RPC is the node's JSON-RPC interface, used for fees and resyncs. Nil turns both off:
	// every Fee is nil, and a gap is only counted and logged.
	RPC CoreNode
	// FeeBatch is the most transactions whose fees are asked for in one batch call (default
	// and maximum corerpc.MaxBatch, 100).
	FeeBatch int
	// FeeWait is the longest a transaction waits for others to share its fee lookup
	// (default 50ms). Only with RPC.
	FeeWait time.Duration
	// RecentTxs bounds the txids the feed remembers having passed on, or having found in
	// the mempool at the baseline (default 200,000: about 28 MB). A resync fetches only the
	// mempool transactions not among them, so when the mempool holds more, the oldest of
	// it may be passed on by a resync as if new.
	RecentTxs int
	// MaxResyncBlocks bounds the blocks one resync connects (default 20). A longer gap is
	// logged, and the blocks past the bound are not seen.
	MaxResyncBlocks int
	// ResyncDelay is how long the worker waits after a trigger before it resyncs (default
	// 100ms), so that a burst of triggers (a reconnect reveals gaps on every topic) costs
	// one resync.
	ResyncDelay time.Duration
	// Logger receives the feed's events; nil discards them.
	Logger *slog.Logger
}

// CoreNode is the part of Bitcoin Core's JSON-RPC interface the live feed uses.
// *corerpc.Client implements it. Its methods are called from the feed's worker goroutine
// only, one at a time.
type CoreNode interface {
	// RawMempool returns the mempool's txids and the mempool sequence they are valid at.
	RawMempool(ctx context.Context) ([]string, uint64, error)
	// RawTransactions returns the serialized transactions of txids, nil for unknown ones.
	RawTransactions(ctx context.Context, txids []string) ([][]byte, error)
	// MempoolEntries returns the fees of txids; Found is false for those not in the mempool.
	MempoolEntries(ctx context.Context, txids []string) ([]corerpc.MempoolEntry, error)
	// BestBlockHash returns the hash of the main chain's tip.
	BestBlockHash(ctx context.Context) (string, error)
	// BlockHash returns the hash of the main-chain block at height.
	BlockHash(ctx context.Context, height int64) (string, error)
	// Block returns the serialized block of hash.
	Block(ctx context.Context, hash string) ([]byte, error)
	// BlockHeader returns the height and main-chain confirmations of the block of hash.
	BlockHeader(ctx context.Context, hash string) (corerpc.BlockHeader, error)
}

// ZMQStats counts the events of a live feed since it opened.
type ZMQStats struct {
	// Received is the rawtx messages whose transaction decoded (coinbases excepted).
	Received uint64 `json:"received"`
	// Dropped is the messages lost because the buffer was full.
	Dropped uint64 `json:"dropped"`
	// Corrupt is the messages skipped for bad framing or an undecodable body, and the
	// connections dropped for a frame over the 8 MiB cap.
	Corrupt uint64 `json:"corrupt"`
	// Lost is the messages missing according to the per-topic counters.
	Lost uint64 `json:"lost"`
	// Reconnects is the connection attempts after the first one, failed or not.
	Reconnects uint64 `json:"reconnects"`
	// Blocks is the blocks connected: rawblock messages decoded and blocks a resync
	// connected.
	Blocks uint64 `json:"blocks"`
	// Disconnected is the blocks disconnected: sequence "D" messages and stale blocks a
	// resync found.
	Disconnected uint64 `json:"disconnected"`
	// Removed is the sequence "R" messages: transactions that left the mempool other than
	// by a block.
	Removed uint64 `json:"removed"`
	// Resyncs is the resyncs completed.
	Resyncs uint64 `json:"resyncs"`
	// ResyncErrors is the resync attempts that failed; each is retried after a backoff.
	ResyncErrors uint64 `json:"resync_errors"`
	// ResyncTxs is the transactions resyncs fetched from the node and passed on.
	ResyncTxs uint64 `json:"resync_txs"`
	// FeeErrors is the fee lookups that failed; their transactions went on without a fee.
	FeeErrors uint64 `json:"fee_errors"`
}

// zmqCounters are the atomic counters behind ZMQStats.
type zmqCounters struct {
	received, dropped, corrupt, lost, reconnects atomic.Uint64
	blocks, disconnected, removed                atomic.Uint64
	resyncs, resyncErrors, resyncTxs, feeErrors  atomic.Uint64
}

// ZMQFeed is a live feed of transactions and chain events from Bitcoin Core's ZMQ topics
// rawtx, rawblock and sequence.
//
// A reader goroutine owns the socket: it checks each message's framing and counter and
// hands what it carries to a bounded buffer without ever waiting, so the socket is always
// drained. A worker goroutine takes from that buffer in order, attaches fees (with RPC, one
// batch call per FeeBatch transactions or FeeWait), runs resyncs, and queues the results
// for Next, which never blocks longer than PollWait. Next, Rewind and Close are for the
// source actor; Stats may be called from anywhere.
//
// With RPC, the first connection reads a baseline: the mempool's txids are remembered as
// known (not fetched, not passed on) and the node's tip as the last block. Afterwards a gap
// in any topic's counter, a counter that goes back (the publisher restarted), a reconnect,
// a dropped event, or a block that does not extend the last one makes the worker resync,
// ResyncDelay later. (Bitcoin Core publishes rawblock for the new tip only, so a reorg to
// a longer branch shows as such a block: it is held back, and the resync connects it
// after the blocks below it.) The resync passes on, in order, what the worker received
// before it began. Then it disconnects the remembered blocks the node no longer has on its
// main chain and connects the blocks it missed (at most MaxResyncBlocks). Then it fetches
// the mempool transactions it has not passed on recently, passes them on, and reports a
// MempoolSnapshot of every txid in the node's mempool. What arrives during the resync follows it,
// so later events override the snapshot. Triggers seen before a resync begins coalesce into it,
// those seen during it into one more; a failed resync is retried with backoff.
type ZMQFeed struct {
	cfg ZMQConfig
	log *slog.Logger
	// handoff carries the reader's items to the worker; arrivals counts the items queued.
	handoff  chan zmqItem
	arrivals atomic.Uint64
	// seen counts the messages and connections the reader has seen; want is its value when
	// the reader last asked for a resync, and wake tells the worker, its one slot
	// coalescing requests. A resync that starts once the reader has seen want covers the
	// request.
	seen, want atomic.Uint64
	wake       chan struct{}
	// out carries the worker's items to Next.
	out chan FeedTx

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once

	zmqCounters
}

// zmqOutBuffer bounds the items the worker has ready for Next.
const zmqOutBuffer = 256

// NewZMQFeed validates cfg and starts the feed's reader, which connects in the background
// (a publisher that is not up yet is retried with backoff), and its worker.
func NewZMQFeed(cfg ZMQConfig) (*ZMQFeed, error) {
	if err := ValidateZMQEndpoint(cfg.Endpoint); err != nil {
		return nil, err
	}

	f := newZMQFeed(cfg)
	f.wg.Add(2)
	go f.runReader()
	go f.runWorker()
	return f, nil
}

// newZMQFeed fills in cfg's defaults and returns a feed whose goroutines are not started.
func newZMQFeed(cfg ZMQConfig) *ZMQFeed {
	cfg.Buffer = defaultIfZero(cfg.Buffer, DefaultZMQBuffer)
	cfg.PollWait = defaultIfZero(cfg.PollWait, DefaultZMQPollWait)
	cfg.MinBackoff = defaultIfZero(cfg.MinBackoff, DefaultZMQMinBackoff)
	cfg.MaxBackoff = max(defaultIfZero(cfg.MaxBackoff, DefaultZMQMaxBackoff), cfg.MinBackoff)
	cfg.LogEvery = defaultIfZero(cfg.LogEvery, DefaultZMQLogEvery)
	cfg.FeeBatch = min(defaultIfZero(cfg.FeeBatch, DefaultFeeBatch), corerpc.MaxBatch)
	cfg.FeeWait = defaultIfZero(cfg.FeeWait, DefaultFeeWait)
	cfg.RecentTxs = defaultIfZero(cfg.RecentTxs, DefaultRecentTxs)
	cfg.MaxResyncBlocks = defaultIfZero(cfg.MaxResyncBlocks, DefaultMaxResyncBlocks)
	cfg.ResyncDelay = defaultIfZero(cfg.ResyncDelay, DefaultResyncDelay)
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}

	ctx, cancel := context.WithCancel(context.Background())
	return &ZMQFeed{cfg: cfg, log: log.With("remote", cfg.Endpoint),
		handoff: make(chan zmqItem, cfg.Buffer), wake: make(chan struct{}, 1),
		out: make(chan FeedTx, zmqOutBuffer), ctx: ctx, cancel: cancel}
}

func defaultIfZero[T int | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// Next returns the next transaction or event, ErrNoTx when none arrived within PollWait,
// and io.EOF once the feed is closed.
func (f *ZMQFeed) Next() (FeedTx, error) {
	select {
	case tx := <-f.out:
		return tx, nil
	default:
	}

	t := time.NewTimer(f.cfg.PollWait)
	defer t.Stop()
	select {
	case tx := <-f.out:
		return tx, nil
	case <-f.ctx.Done():
		return FeedTx{}, io.EOF
	case <-t.C:
		return FeedTx{}, ErrNoTx
	}
}

// Rewind implements Feed; a live feed has no beginning to go back to, so it does nothing.
func (f *ZMQFeed) Rewind() error { return nil }

// Close stops the reader and the worker (cancelling a resync or a fee lookup under way),
// closes the socket, waits for both goroutines to return, and closes the idle connections
// of the RPC client if it has a CloseIdleConnections method. Next reports io.EOF
// afterwards. Close may be called more than once.
func (f *ZMQFeed) Close() error {
	f.once.Do(func() {
		f.cancel()
		f.wg.Wait()
		if c, ok := f.cfg.RPC.(interface{ CloseIdleConnections() }); ok {
			c.CloseIdleConnections()
		}
	})
	return nil
}

// Stats returns the feed's counters.
func (f *ZMQFeed) Stats() ZMQStats {
	return ZMQStats{Received: f.received.Load(), Dropped: f.dropped.Load(),
		Corrupt: f.corrupt.Load(), Lost: f.lost.Load(), Reconnects: f.reconnects.Load(),
		Blocks: f.blocks.Load(), Disconnected: f.disconnected.Load(),
		Removed: f.removed.Load(), Resyncs: f.resyncs.Load(),
		ResyncErrors: f.resyncErrors.Load(), ResyncTxs: f.resyncTxs.Load(),
		FeeErrors: f.feeErrors.Load()}
}

// sleep waits d or until Close; it reports false on Close.
func (f *ZMQFeed) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-f.ctx.Done():
		return false
	}
}

// ValidateZMQEndpoint checks that ep is "tcp://HOST:PORT" with a port from 1 to 65535.
func ValidateZMQEndpoint(ep string) error {
	u, err := url.Parse(ep)
	if err != nil {
		return fmt.Errorf("actors: zmq endpoint %q: %w", ep, err)
	}
	port, perr := strconv.ParseUint(u.Port(), 10, 16)
	switch {
	case u.Scheme != "tcp":
		return fmt.Errorf("actors: zmq endpoint %q: want scheme tcp", ep)
	case u.Hostname() == "":
		return fmt.Errorf("actors: zmq endpoint %q: want a host", ep)
	case perr != nil || port == 0:
		return fmt.Errorf("actors: zmq endpoint %q: want a port from 1 to 65535", ep)
	case u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "":
		return fmt.Errorf("actors: zmq endpoint %q: want only tcp://HOST:PORT", ep)
	}
	return nil
}

// ErrZMQFrame marks a ZMQ message that does not follow Bitcoin Core's framing.
var ErrZMQFrame = errors.New("actors: bad zmq message")

// logLimiter lets one line of each kind through per interval. Each goroutine has its own.
type logLimiter struct {
	every time.Duration
	last  map[string]time.Time
}

func newLogLimiter(every time.Duration) *logLimiter {
	return &logLimiter{every: every, last: make(map[string]time.Time)}
}

func (l *logLimiter) allow(kind string) bool {
	now := time.Now()
	if t, ok := l.last[kind]; ok && now.Sub(t) < l.every {
		return false
	}
	l.last[kind] = now
	return true
}
