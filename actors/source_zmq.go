package actors

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zeromq/zmq4"
	"github.com/go-zeromq/zmq4/transport"

	"github.com/whalecast/whalecast/internal/bitcoin"
)

// Topics of Bitcoin Core's ZMQ notifications that the live feed subscribes to.
const (
	zmqTopicRawTx    = "rawtx"
	zmqTopicSequence = "sequence"
)

// ZMQConfig sets up a live feed from Bitcoin Core's ZMQ publisher. The zero value of every
// field but Endpoint picks its default.
type ZMQConfig struct {
	// Endpoint is the publisher's address, "tcp://HOST:PORT" (bitcoind's -zmqpubrawtx).
	Endpoint string
	// Buffer bounds the transactions received but not yet taken by the source (default
	// 4096); when it is full, new transactions are dropped and counted.
	Buffer int
	// PollWait is how long Next waits for a transaction before it reports ErrNoTx
	// (default 5ms). It bounds how long the source actor may block in Next.
	PollWait time.Duration
	// MinBackoff is the first wait before a reconnect (default 100ms); each failed attempt
	// doubles it up to MaxBackoff (default 5s).
	MinBackoff time.Duration
	// MaxBackoff bounds the wait between reconnects.
	MaxBackoff time.Duration
	// LogEvery is the least interval between two log lines of one kind of repeated problem
	// (corrupt frame, gap, drop, reconnect); default 1s.
	LogEvery time.Duration
	// Logger receives the feed's events; nil discards them.
	Logger *slog.Logger
}

// ZMQStats counts the events of a live feed since it opened.
type ZMQStats struct {
	// Received is the rawtx messages whose transaction decoded.
	Received uint64 `json:"received"`
	// Dropped is the transactions lost because the buffer was full.
	Dropped uint64 `json:"dropped"`
	// Corrupt is the messages skipped for bad framing or an undecodable transaction.
	Corrupt uint64 `json:"corrupt"`
	// Lost is the messages missing according to the per-topic counters.
	Lost uint64 `json:"lost"`
	// Reconnects is the connection attempts after the first one, failed or not.
	Reconnects uint64 `json:"reconnects"`
}

// ZMQFeed is a live feed of mempool transactions from Bitcoin Core's ZMQ rawtx topic. A
// reader goroutine owns the socket and fills a bounded buffer; Next takes from it and never
// blocks longer than PollWait. Next, Rewind and Close are for the source actor; Stats may
// be called from anywhere.
type ZMQFeed struct {
	cfg    ZMQConfig
	log    *slog.Logger
	txs    chan FeedTx
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once

	received, dropped, corrupt, lost, reconnects atomic.Uint64

	// counters is the last counter seen per topic, kept across reconnects so that messages
	// published during an outage count as lost. Only the reader goroutine uses it.
	counters map[string]uint32
}

// NewZMQFeed validates cfg and starts the feed's reader, which connects in the background
// (a publisher that is not up yet is retried with backoff).
func NewZMQFeed(cfg ZMQConfig) (*ZMQFeed, error) {
	if err := ValidateZMQEndpoint(cfg.Endpoint); err != nil {
		return nil, err
	}
	cfg.Buffer = defaultIfZero(cfg.Buffer, 4096)
	cfg.PollWait = defaultIfZero(cfg.PollWait, 5*time.Millisecond)
	cfg.MinBackoff = defaultIfZero(cfg.MinBackoff, 100*time.Millisecond)
	cfg.MaxBackoff = max(defaultIfZero(cfg.MaxBackoff, 5*time.Second), cfg.MinBackoff)
	cfg.LogEvery = defaultIfZero(cfg.LogEvery, time.Second)
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	f := &ZMQFeed{cfg: cfg, log: log.With("remote", cfg.Endpoint),
		txs: make(chan FeedTx, cfg.Buffer), ctx: ctx, cancel: cancel}
	f.wg.Add(1)
	go f.run()
	return f, nil
}

func defaultIfZero[T int | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// Next returns the next transaction received, ErrNoTx when none arrived within PollWait,
// and io.EOF once the feed is closed.
func (f *ZMQFeed) Next() (FeedTx, error) {
	select {
	case tx := <-f.txs:
		return tx, nil
	default:
	}
	t := time.NewTimer(f.cfg.PollWait)
	defer t.Stop()
	select {
	case tx := <-f.txs:
		return tx, nil
	case <-f.ctx.Done():
		return FeedTx{}, io.EOF
	case <-t.C:
		return FeedTx{}, ErrNoTx
	}
}

// Rewind implements Feed; a live feed has no beginning to go back to, so it does nothing.
func (f *ZMQFeed) Rewind() error { return nil }

// Close stops the reader, closes the socket and waits for the reader to return. Next
// reports io.EOF afterwards. Close may be called more than once.
func (f *ZMQFeed) Close() error {
	f.once.Do(func() {
		f.cancel()
		f.wg.Wait()
	})
	return nil
}

// Stats returns the feed's counters.
func (f *ZMQFeed) Stats() ZMQStats {
	return ZMQStats{Received: f.received.Load(), Dropped: f.dropped.Load(),
		Corrupt: f.corrupt.Load(), Lost: f.lost.Load(), Reconnects: f.reconnects.Load()}
}

// run connects, reads until the connection fails, and reconnects with backoff until Close.
func (f *ZMQFeed) run() {
	defer f.wg.Done()
	backoff := f.cfg.MinBackoff
	limits := newLogLimiter(f.cfg.LogEvery)
	for attempt := 0; f.ctx.Err() == nil; attempt++ {
		if attempt > 0 {
			f.reconnects.Add(1)
			if limits.allow("reconnect") {
				f.log.Warn("zmq reconnecting", "backoff", backoff,
					"reconnects", f.reconnects.Load())
			}
			if !f.sleep(backoff) {
				return
			}
			backoff = min(2*backoff, f.cfg.MaxBackoff)
		}
		if f.session(limits) {
			backoff = f.cfg.MinBackoff
		}
	}
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

// session reads one connection until it fails; it reports whether any message arrived,
// so that a connection that worked resets the backoff.
func (f *ZMQFeed) session(limits *logLimiter) bool {
	// zmq4 runs the ZMTP handshake without a deadline and without watching the context: a
	// peer that accepts TCP and never answers would hold Dial, and so Close, for ever. The
	// guarded transport closes the connection when the session's context ends, and a timer
	// ends that context if the handshake takes longer than the dial timeout.
	sctx, cancel := context.WithCancel(f.ctx)
	defer cancel()
	sock := zmq4.NewSub(sctx, zmq4.WithDialerMaxRetries(0),
		zmq4.WithDialerTimeout(f.cfg.MaxBackoff))
	defer sock.Close()
	handshake := time.AfterFunc(f.cfg.MaxBackoff, cancel)
	err := sock.Dial(guardedEndpoint(f.cfg.Endpoint))
	handshake.Stop()
	if err != nil {
		if limits.allow("dial") {
			f.log.Warn("zmq dial failed", "err", err)
		}
		return false
	}
	for _, topic := range []string{zmqTopicRawTx, zmqTopicSequence} {
		if err := sock.SetOption(zmq4.OptionSubscribe, topic); err != nil {
			f.log.Warn("zmq subscribe failed", "topic", topic, "err", err)
			return false
		}
	}
	f.log.Info("zmq connected")
	// TODO: resync the mempool through JSON-RPC after a reconnect or a counter gap; it
	// waits for the RPC client of a later slice, so for now a gap is only counted and logged.
	if f.counters == nil {
		f.counters = make(map[string]uint32)
	}
	got := false
	for {
		msg, err := sock.Recv()
		if err != nil {
			if f.ctx.Err() == nil && limits.allow("recv") {
				f.log.Warn("zmq connection lost", "err", err)
			}
			return got
		}
		got = true
		f.handle(msg.Frames, f.counters, limits)
	}
}

// handle checks one message's framing and counter and queues its transaction, if any. A
// well-framed message counts against its topic's counter even when its body is bad.
func (f *ZMQFeed) handle(frames [][]byte, counters map[string]uint32, limits *logLimiter) {
	topic, body, seq, err := parseZMQMessage(frames)
	if err != nil {
		f.skip(err, limits)
		return
	}
	f.checkCounter(topic, seq, counters, limits)
	if topic == zmqTopicSequence && len(body) != 33 && len(body) != 41 {
		f.skip(fmt.Errorf("%w: sequence body of %d bytes", ErrZMQFrame, len(body)), limits)
		return
	}
	if topic != zmqTopicRawTx {
		return
	}
	tx, err := bitcoin.DecodeTx(body)
	if err != nil {
		f.skip(fmt.Errorf("%w: rawtx: %w", ErrZMQFrame, err), limits)
		return
	}
	f.received.Add(1)
	select {
	case f.txs <- FeedTx{Raw: body, Msg: tx}:
	default:
		n := f.dropped.Add(1)
		if limits.allow("drop") {
			f.log.Warn("zmq buffer full: transaction dropped", "dropped", n)
		}
	}
}

func (f *ZMQFeed) skip(err error, limits *logLimiter) {
	n := f.corrupt.Add(1)
	if limits.allow("corrupt") {
		f.log.Warn("zmq message skipped", "err", err, "corrupt", n)
	}
}

// checkCounter counts the messages missing before seq on topic. The first message of a
// connection sets the expectation; a counter that goes back means the publisher restarted.
func (f *ZMQFeed) checkCounter(topic string, seq uint32, counters map[string]uint32,
	limits *logLimiter) {
	last, ok := counters[topic]
	counters[topic] = seq
	if !ok || seq == last+1 {
		return
	}
	if gap := seq - last - 1; seq > last && gap < 1<<31 {
		n := f.lost.Add(uint64(gap))
		if limits.allow("gap") {
			f.log.Warn("zmq messages lost", "topic", topic, "missing", gap, "lost", n)
		}
		return
	}
	if limits.allow("gap") {
		f.log.Warn("zmq counter went back", "topic", topic, "from", last, "to", seq)
	}
}

// parseZMQMessage splits a Bitcoin Core notification: topic, body and a 4-byte
// little-endian counter.
func parseZMQMessage(frames [][]byte) (topic string, body []byte, seq uint32, err error) {
	if len(frames) != 3 {
		return "", nil, 0, fmt.Errorf("%w: %d frames, want 3", ErrZMQFrame, len(frames))
	}
	if len(frames[2]) != 4 {
		return "", nil, 0, fmt.Errorf("%w: counter of %d bytes, want 4", ErrZMQFrame,
			len(frames[2]))
	}
	return string(frames[0]), frames[1], binary.LittleEndian.Uint32(frames[2]), nil
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

// logLimiter lets one line of each kind through per interval. Only the reader uses it.
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

// guardedTCP is zmq4's TCP transport with one change: a dialled connection is closed when
// the dial's context ends, so that a handshake cannot outlive the session that started it.
type guardedTCP struct {
	transport.Transport
}

// guardedScheme names guardedTCP in zmq4's transport registry.
const guardedScheme = "whalecast-tcp"

var registerGuarded sync.Once

// Dial implements transport.Transport.
func (g guardedTCP) Dial(ctx context.Context, d transport.Dialer, addr string) (net.Conn,
	error) {
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	context.AfterFunc(ctx, func() { _ = conn.Close() })
	return conn, nil
}

// guardedEndpoint turns tcp://HOST:PORT into the same address on guardedTCP, registering
// the transport on first use (zmq4's registry is process-wide).
func guardedEndpoint(endpoint string) string {
	registerGuarded.Do(func() {
		_ = zmq4.RegisterTransport(guardedScheme, guardedTCP{transport.New("tcp")})
	})
	return guardedScheme + strings.TrimPrefix(endpoint, "tcp")
}
