package actors

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/go-zeromq/zmq4"

	"github.com/whalecast/whalecast/internal/bitcoin"
)

// Topics of Bitcoin Core's ZMQ notifications that the live feed subscribes to.
const (
	zmqTopicRawTx    = "rawtx"
	zmqTopicRawBlock = "rawblock"
	zmqTopicSequence = "sequence"
)

// zmqTopics lists the subscriptions, in the order they are sent.
var zmqTopics = []string{zmqTopicRawTx, zmqTopicRawBlock, zmqTopicSequence}

// Sizes of a sequence body: a 32-byte hash and a label, followed for a mempool event by an
// 8-byte little-endian mempool sequence.
const (
	zmqSeqBlockLen = 33
	zmqSeqTxLen    = 41
)

// zmqItem is what the reader hands to the worker: a transaction or an event, numbered in
// arrival order.
type zmqItem struct {
	FeedTx
	arrival uint64
}

// zmqReader is the state of the reader goroutine.
type zmqReader struct {
	f      *ZMQFeed
	limits *logLimiter
	// counters is the last counter seen per topic, kept across reconnects so that messages
	// published during an outage count as lost.
	counters map[string]uint32
	// fresh marks the topics with no message yet on the current connection: a resync for
	// the connection is already asked for, so their first counter asks for none.
	fresh map[string]bool
}

func newZMQReader(f *ZMQFeed) *zmqReader {
	return &zmqReader{f: f, limits: newLogLimiter(f.cfg.LogEvery),
		counters: make(map[string]uint32), fresh: make(map[string]bool)}
}

// runReader connects, reads until the connection fails, and reconnects with backoff until
// Close.
func (f *ZMQFeed) runReader() {
	defer f.wg.Done()
	r := newZMQReader(f)
	backoff := f.cfg.MinBackoff
	for attempt := 0; f.ctx.Err() == nil; attempt++ {
		if attempt > 0 {
			f.reconnects.Add(1)
			if r.limits.allow("reconnect") {
				f.log.Warn("zmq reconnecting", "backoff", backoff.String(),
					"reconnects", f.reconnects.Load())
			}
			if !f.sleep(backoff) {
				return
			}
			backoff = min(2*backoff, f.cfg.MaxBackoff)
		}

		if r.session() {
			backoff = f.cfg.MinBackoff
		}
	}
}

// session reads one connection until it fails; it reports whether any message arrived,
// so that a connection that worked resets the backoff.
func (r *zmqReader) session() bool {
	f := r.f
	// zmq4 runs the ZMTP handshake without a deadline and without watching the context: a
	// peer that accepts TCP and never answers would hold Dial, and so Close, for ever. The
	// guarded transport closes the connection when the session's context ends, and a timer
	// ends that context if the handshake takes longer than the dial timeout.
	sctx, cancel := context.WithCancel(f.ctx)
	defer cancel()
	sctx = withOversizeHook(sctx, func() { f.corrupt.Add(1) })
	sock := zmq4.NewSub(sctx, zmq4.WithDialerMaxRetries(0),
		zmq4.WithDialerTimeout(f.cfg.MaxBackoff))
	defer sock.Close()
	handshake := time.AfterFunc(f.cfg.MaxBackoff, cancel)
	err := sock.Dial(guardedEndpoint(f.cfg.Endpoint))
	handshake.Stop()
	if err != nil {
		if r.limits.allow("dial") {
			f.log.Warn("zmq dial failed", "err", err)
		}
		return false
	}

	for _, topic := range zmqTopics {
		if err := sock.SetOption(zmq4.OptionSubscribe, topic); err != nil {
			f.log.Warn("zmq subscribe failed", "topic", topic, "err", err)
			return false
		}
	}
	r.connected()

	got := false
	for {
		msg, err := sock.Recv()
		if err != nil {
			if f.ctx.Err() == nil && r.limits.allow("recv") {
				f.log.Warn("zmq connection lost", "err", err)
			}
			return got
		}
		got = true
		r.handle(msg.Frames)
	}
}

// connected marks every topic fresh and asks for the resync (with RPC) that a new
// connection needs: what was published while the feed was away is lost otherwise.
func (r *zmqReader) connected() {
	r.f.log.Info("zmq connected", "topics", zmqTopics, "rpc", r.f.cfg.RPC != nil)
	for _, topic := range zmqTopics {
		r.fresh[topic] = true
	}
	r.f.seen.Add(1)
	r.askResync()
}

// handle checks one message's framing and counter and queues what it carries, if anything.
// A well-framed message of a known topic counts against its topic's counter even when its
// body is bad.
func (r *zmqReader) handle(frames [][]byte) {
	r.f.seen.Add(1)
	topic, body, seq, err := parseZMQMessage(frames)
	if err != nil {
		r.skip(err)
		return
	}
	if !slices.Contains(zmqTopics, topic) {
		return
	}

	resync := r.checkCounter(topic, seq)
	item, ok, err := decodeZMQBody(topic, body)
	switch {
	case err != nil:
		r.skip(err)
	case ok:
		r.count(item)
		r.queue(item)
	}
	if resync {
		r.askResync()
	}
}

// count adds a decoded message to the feed's counters.
func (r *zmqReader) count(item FeedTx) {
	if item.Event == nil {
		r.f.received.Add(1)
		return
	}
	switch item.Event.Kind {
	case BlockConnected:
		r.f.blocks.Add(1)
	case BlockDisconnected:
		r.f.disconnected.Add(1)
	case TxRemoved:
		r.f.removed.Add(1)
	}
}

// decodeZMQBody turns a message body into a transaction or an event. It reports false for
// a message that carries nothing to pass on: a coinbase (announced when its block is
// connected, never a mempool transaction), and the sequence labels "C" (rawblock carries
// the block) and "A" (rawtx carries the transaction).
func decodeZMQBody(topic string, body []byte) (FeedTx, bool, error) {
	switch topic {
	case zmqTopicRawTx:
		tx, err := bitcoin.DecodeTx(body)
		if err != nil {
			return FeedTx{}, false, fmt.Errorf("%w: rawtx: %w", ErrZMQFrame, err)
		}
		return FeedTx{Raw: body, Msg: tx}, !bitcoin.IsCoinbase(tx), nil
	case zmqTopicRawBlock:
		blk, err := bitcoin.DecodeBlock(body)
		if err != nil {
			return FeedTx{}, false, fmt.Errorf("%w: rawblock: %w", ErrZMQFrame, err)
		}
		height, _ := bitcoin.CoinbaseHeight(blk)
		return FeedTx{Event: &ChainEvent{Kind: BlockConnected, Block: blk,
			Hash: blk.BlockHash(), Height: height}}, true, nil
	}
	return decodeSequence(body)
}

// decodeSequence reads a sequence body: a hash in display order, a label, and for "A" and
// "R" the mempool sequence (not needed: the worker keeps the arrival order instead).
func decodeSequence(body []byte) (FeedTx, bool, error) {
	if len(body) != zmqSeqBlockLen && len(body) != zmqSeqTxLen {
		return FeedTx{}, false, fmt.Errorf("%w: sequence body of %d bytes", ErrZMQFrame,
			len(body))
	}
	var hash chainhash.Hash
	for i := range chainhash.HashSize {
		hash[i] = body[chainhash.HashSize-1-i]
	}

	label := body[chainhash.HashSize]
	switch {
	case label == 'C' && len(body) == zmqSeqBlockLen:
		return FeedTx{}, false, nil
	case label == 'D' && len(body) == zmqSeqBlockLen:
		return FeedTx{Event: &ChainEvent{Kind: BlockDisconnected, Hash: hash}}, true, nil
	case label == 'A' && len(body) == zmqSeqTxLen:
		return FeedTx{}, false, nil
	case label == 'R' && len(body) == zmqSeqTxLen:
		return FeedTx{Event: &ChainEvent{Kind: TxRemoved, TxID: hash.String()}}, true, nil
	}
	return FeedTx{}, false, fmt.Errorf("%w: sequence label %q in a body of %d bytes",
		ErrZMQFrame, label, len(body))
}

// queue hands item to the worker without waiting: when the buffer is full the item is
// dropped and counted, and a dropped event asks for a resync.
func (r *zmqReader) queue(ftx FeedTx) {
	f := r.f
	n := f.arrivals.Load() + 1
	select {
	case f.handoff <- zmqItem{FeedTx: ftx, arrival: n}:
		f.arrivals.Store(n)
		return
	default:
	}

	dropped := f.dropped.Add(1)
	if r.limits.allow("drop") {
		f.log.Warn("zmq buffer full: message dropped", "dropped", dropped,
			"event", ftx.Event != nil)
	}
	if ftx.Event != nil {
		r.askResync()
	}
}

func (r *zmqReader) skip(err error) {
	n := r.f.corrupt.Add(1)
	if r.limits.allow("corrupt") {
		r.f.log.Warn("zmq message skipped", "err", err, "corrupt", n)
	}
}

// askResync asks the worker for a resync that starts after what the reader has seen so
// far; a request already pending absorbs this one. Without RPC it does nothing.
func (r *zmqReader) askResync() {
	if r.f.cfg.RPC == nil {
		return
	}
	r.f.want.Store(r.f.seen.Load())
	select {
	case r.f.wake <- struct{}{}:
	default:
	}
}

// checkCounter counts the messages missing before seq on topic; it reports whether to ask
// for a resync: when some are missing, or when the counter went back (the publisher
// restarted). The first message of a topic on a connection does not ask: the connection
// did, and what that message reveals happened before it.
func (r *zmqReader) checkCounter(topic string, seq uint32) bool {
	last, ok := r.counters[topic]
	r.counters[topic] = seq
	fresh := r.fresh[topic]
	delete(r.fresh, topic)
	if !ok || seq == last+1 {
		return false
	}

	resync := "needs --rpc"
	switch {
	case r.f.cfg.RPC != nil && fresh:
		resync = "on connect"
	case r.f.cfg.RPC != nil:
		resync = "asked"
	}
	if gap := seq - last - 1; seq > last && gap < 1<<31 {
		n := r.f.lost.Add(uint64(gap))
		if r.limits.allow("gap") {
			r.f.log.Warn("zmq messages lost", "topic", topic, "missing", gap, "lost", n,
				"resync", resync)
		}
	} else if r.limits.allow("gap") {
		r.f.log.Warn("zmq counter went back", "topic", topic, "from", last, "to", seq,
			"resync", resync)
	}
	return !fresh
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
