package zmqtest

import (
	"context"
	"encoding/binary"
	"net"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/go-zeromq/zmq4"
)

// Topics of Bitcoin Core's ZMQ notifications that the publisher sends.
const (
	TopicRawTx    = "rawtx"
	TopicRawBlock = "rawblock"
	TopicSequence = "sequence"
)

// Publisher plays Bitcoin Core's ZMQ notifier on 127.0.0.1: three frames per message, the
// topic, the body and a 4-byte little-endian counter that each topic increments on its
// own. A test makes the counters skip (Skip) to fake lost messages, and goes back to 0
// (ResetCounters, or a new Publisher on the same endpoint) to fake a restarted node.
type Publisher struct {
	sock     zmq4.Socket
	endpoint string
	counters map[string]uint32
}

// NewPublisher listens on endpoint, "tcp://127.0.0.1:PORT", or on a free port when
// endpoint is empty; it fails tb for any host but a loopback IP. Listening is retried until
// WaitLimit, so that a port just closed by another Publisher can be taken again. The
// publisher is closed when the test ends.
func NewPublisher(tb testing.TB, endpoint string) *Publisher {
	tb.Helper()
	if endpoint == "" {
		endpoint = "tcp://127.0.0.1:0"
	}
	if u, err := url.Parse(endpoint); err != nil || u.Scheme != "tcp" ||
		!isLoopback(u.Hostname()) {
		tb.Fatalf("zmqtest: publisher endpoint %q: want tcp://127.0.0.1:PORT", endpoint)
	}

	sock := zmq4.NewPub(context.Background())
	deadline := time.Now().Add(WaitLimit)
	for {
		err := sock.Listen(endpoint)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			_ = sock.Close()
			tb.Fatalf("zmqtest: listen on %s: %v", endpoint, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	p := &Publisher{sock: sock, endpoint: "tcp://" + sock.Addr().String(),
		counters: make(map[string]uint32)}
	tb.Cleanup(func() { _ = p.sock.Close() })
	return p
}

func isLoopback(host string) bool {
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Endpoint returns the address subscribers dial, tcp://127.0.0.1:PORT.
func (p *Publisher) Endpoint() string { return p.endpoint }

// Close stops the publisher, as a node that shuts down: its subscribers lose the
// connection. It may be called more than once.
func (p *Publisher) Close() error { return p.sock.Close() }

// WaitSubscribed waits, at most WaitLimit, until a subscriber asked for the rawtx,
// rawblock and sequence topics, so that nothing published afterwards is lost to a
// subscription's late arrival.
func (p *Publisher) WaitSubscribed(tb testing.TB) {
	tb.Helper()
	deadline := time.Now().Add(WaitLimit)
	for {
		topics := p.sock.(zmq4.Topics).Topics()
		if slices.Contains(topics, TopicRawTx) && slices.Contains(topics, TopicRawBlock) &&
			slices.Contains(topics, TopicSequence) {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("zmqtest: no subscriber to every topic after %v (topics %q)",
				WaitLimit, topics)
		}
		time.Sleep(pollEvery)
	}
}

// Send publishes frames as one message, as they are: framing mistakes included.
func (p *Publisher) Send(tb testing.TB, frames ...[]byte) {
	tb.Helper()
	if err := p.sock.SendMulti(zmq4.NewMsgFrom(frames...)); err != nil {
		tb.Fatalf("zmqtest: publish: %v", err)
	}
}

// Publish sends body on topic with the topic's next counter.
func (p *Publisher) Publish(tb testing.TB, topic string, body []byte) {
	tb.Helper()
	p.PublishCounted(tb, topic, body, p.counters[topic])
}

// PublishCounted sends body on topic with counter n; the topic's next counter is n+1.
func (p *Publisher) PublishCounted(tb testing.TB, topic string, body []byte, n uint32) {
	tb.Helper()
	p.counters[topic] = n + 1
	p.Send(tb, []byte(topic), body, binary.LittleEndian.AppendUint32(nil, n))
}

// Skip makes topic's counter jump by n, as if n messages were published and lost.
func (p *Publisher) Skip(topic string, n uint32) { p.counters[topic] += n }

// ResetCounters sets every topic's counter back to 0, as a restarted node does.
func (p *Publisher) ResetCounters() { clear(p.counters) }

// PublishTx announces tx as Bitcoin Core does when it enters the mempool: rawtx, then a
// sequence "A" with its mempool sequence.
func (p *Publisher) PublishTx(tb testing.TB, tx *wire.MsgTx) {
	tb.Helper()
	p.Publish(tb, TopicRawTx, TxBytes(tx))
	p.Publish(tb, TopicSequence, p.SequenceBody(tx.TxHash(), 'A', true))
}

// PublishRemoved announces that tx left the mempool for a reason other than a block
// (sequence "R").
func (p *Publisher) PublishRemoved(tb testing.TB, tx *wire.MsgTx) {
	tb.Helper()
	p.Publish(tb, TopicSequence, p.SequenceBody(tx.TxHash(), 'R', true))
}

// PublishBlock announces a connected block as Bitcoin Core does: when announceTxs is set
// a rawtx for every transaction in it (coinbase included), then sequence "C", then
// rawblock.
func (p *Publisher) PublishBlock(tb testing.TB, blk *wire.MsgBlock, announceTxs bool) {
	tb.Helper()
	if announceTxs {
		for _, tx := range blk.Transactions {
			p.Publish(tb, TopicRawTx, TxBytes(tx))
		}
	}
	p.Publish(tb, TopicSequence, p.SequenceBody(blk.BlockHash(), 'C', false))
	p.Publish(tb, TopicRawBlock, BlockBytes(blk))
}

// PublishConnected announces a block connected on the way to a new tip, as Bitcoin Core
// does when one step of its chain activation connects several blocks (a reorg to a longer
// branch): a rawtx for every transaction in it and sequence "C", but no rawblock, which
// Core publishes for the new tip only (PublishBlock).
func (p *Publisher) PublishConnected(tb testing.TB, blk *wire.MsgBlock) {
	tb.Helper()
	for _, tx := range blk.Transactions {
		p.Publish(tb, TopicRawTx, TxBytes(tx))
	}
	p.Publish(tb, TopicSequence, p.SequenceBody(blk.BlockHash(), 'C', false))
}

// PublishDisconnected announces that blk left the main chain (sequence "D").
func (p *Publisher) PublishDisconnected(tb testing.TB, blk *wire.MsgBlock) {
	tb.Helper()
	p.Publish(tb, TopicSequence, p.SequenceBody(blk.BlockHash(), 'D', false))
}

// SequenceBody is the body of a sequence message: the hash in display order, the label
// and, for a mempool event ("A" or "R"), an 8-byte little-endian mempool sequence (here the
// topic's next counter).
func (p *Publisher) SequenceBody(h chainhash.Hash, label byte, mempool bool) []byte {
	body := slices.Clone(h[:])
	slices.Reverse(body)
	body = append(body, label)
	if mempool {
		body = binary.LittleEndian.AppendUint64(body, uint64(p.counters[TopicSequence]))
	}
	return body
}
