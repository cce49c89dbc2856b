package zmqtest

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/go-zeromq/zmq4"

	"github.com/whalecast/whalecast/internal/chaintest"
	"github.com/whalecast/whalecast/internal/corerpc"
	"github.com/whalecast/whalecast/internal/leakcheck"
)

// TestMain fails the run if a handler of a node, or any other code of this module, still
// runs once the tests are done.
func TestMain(m *testing.M) {
	os.Exit(leakcheck.Run(m, 5*time.Second, leakcheck.Module))
}

// TestNodeAnswers checks the node's answers through the engine's own client, on mainnet
// block 277647 mined on top of its parent, known by its hash alone.
func TestNodeAnswers(t *testing.T) {
	t.Parallel()
	block, hash, height := chaintest.Block277647(t)
	parent := block.Header.PrevBlock
	n := NewNodeAt(t, parent, height-1)
	c := n.Client(t)
	ctx := context.Background()
	whale := chaintest.Biggest(block)
	n.AddTx(whale, Fee{Sat: 22_500, VSize: 225})
	n.Connect(block)
	n.AddTx(block.Transactions[1], Fee{Sat: 1_000, VSize: 250})

	tests := []struct {
		name string
		call func() (string, error)
		want string
	}{
		{"best block", func() (string, error) { return c.BestBlockHash(ctx) },
			hash.String()},
		{"block at the parent's height", func() (string, error) {
			return c.BlockHash(ctx, height-1)
		}, parent.String()},
		{"parent's header", func() (string, error) {
			h, err := c.BlockHeader(ctx, parent.String())
			return fmtHeader(h), err
		}, parent.String() + "@277646+2 after " + chainhash.Hash{}.String()},
		{"block's header", func() (string, error) {
			h, err := c.BlockHeader(ctx, hash.String())
			return fmtHeader(h), err
		}, hash.String() + "@277647+1 after " + parent.String()},
		{"mined transactions leave the mempool", func() (string, error) {
			ids, _, err := c.RawMempool(ctx)
			return strings.Join(ids, ","), err
		}, block.Transactions[1].TxHash().String()},
		{"fees of the mempool only", func() (string, error) {
			es, err := c.MempoolEntries(ctx, []string{whale.TxHash().String(),
				block.Transactions[1].TxHash().String()})
			return fmtEntries(es), err
		}, "none 1000/250"},
		{"a pruned block", func() (string, error) {
			_, err := c.Block(ctx, parent.String())
			return "", err
		}, "error"},
	}
	for _, tt := range tests {
		got, err := tt.call()
		if err != nil {
			got = "error"
		}
		if got != tt.want {
			t.Errorf("%s: got %q (err %v), want %q", tt.name, got, err, tt.want)
		}
	}
}

func fmtHeader(h corerpc.BlockHeader) string {
	return fmt.Sprintf("%s@%d+%d after %s", h.Hash, h.Height, h.Confirmations,
		h.PreviousBlockHash)
}

func fmtEntries(es []corerpc.MempoolEntry) string {
	var out []string
	for _, e := range es {
		if !e.Found {
			out = append(out, "none")
			continue
		}
		out = append(out, fmt.Sprintf("%d/%d", e.FeeSat, e.VSize))
	}
	return strings.Join(out, " ")
}

// TestNodeCookie checks that the node refuses a request without its cookie, and that a
// client follows a rotated cookie by reading the file again.
func TestNodeCookie(t *testing.T) {
	t.Parallel()
	n := NewNodeAt(t, chainhash.Hash{1}, 10)
	resp, err := http.Post(n.URL(), "application/json", strings.NewReader(`{"method":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("no login: status %d, want 401", resp.StatusCode)
	}

	c := n.Client(t)
	n.RotateCookie(t)
	if _, err := c.BestBlockHash(context.Background()); err != nil {
		t.Errorf("after a new cookie: %v, want the client to read it again", err)
	}
	if got := n.TakeCalls(); !slices.Equal(got, []string{"getbestblockhash"}) {
		t.Errorf("calls %q, want one getbestblockhash", got)
	}
}

// TestPublisherFraming subscribes with a plain zmq4 socket and checks the frames of a
// transaction's announcement: rawtx and sequence "A", each with its topic's counter.
func TestPublisherFraming(t *testing.T) {
	t.Parallel()
	block, _, _ := chaintest.Block277647(t)
	tx := block.Transactions[1]
	p := NewPublisher(t, "")
	ctx, cancel := context.WithTimeout(context.Background(), WaitLimit)
	defer cancel()
	sub := zmq4.NewSub(ctx)
	defer sub.Close()
	if err := sub.Dial(p.Endpoint()); err != nil {
		t.Fatalf("dial: %v", err)
	}
	for _, topic := range []string{TopicRawTx, TopicRawBlock, TopicSequence} {
		if err := sub.SetOption(zmq4.OptionSubscribe, topic); err != nil {
			t.Fatal(err)
		}
	}
	p.WaitSubscribed(t)

	p.Skip(TopicRawTx, 4)
	p.PublishTx(t, tx)
	txid := tx.TxHash()
	// The mempool sequence is the sequence topic's next counter: 0.
	wantSeq := append(reversed(txid[:]), 'A', 0, 0, 0, 0, 0, 0, 0, 0)
	tests := []struct {
		topic   string
		body    []byte
		counter uint32
	}{
		{TopicRawTx, TxBytes(tx), 4},
		{TopicSequence, wantSeq, 0},
	}
	for _, tt := range tests {
		msg, err := sub.Recv()
		if err != nil {
			t.Fatalf("recv %s: %v", tt.topic, err)
		}
		if len(msg.Frames) != 3 || string(msg.Frames[0]) != tt.topic ||
			!slices.Equal(msg.Frames[1], tt.body) ||
			binary.LittleEndian.Uint32(msg.Frames[2]) != tt.counter {
			t.Errorf("%s: got %d frames %q, want topic, body and counter %d", tt.topic,
				len(msg.Frames), msg.Frames[0], tt.counter)
		}
	}
}

func reversed(b []byte) []byte {
	out := slices.Clone(b)
	slices.Reverse(out)
	return out
}

// TestNodeHoldBounded checks that a held call returns once released.
func TestNodeHoldBounded(t *testing.T) {
	t.Parallel()
	n := NewNode(t, []*wire.MsgBlock{wire.NewMsgBlock(&wire.BlockHeader{})}, 0)
	c := n.Client(t)
	release := n.Hold("getbestblockhash")
	done := make(chan error, 1)
	go func() {
		_, err := c.BestBlockHash(context.Background())
		done <- err
	}()
	deadline := time.Now().Add(WaitLimit)
	for len(n.HeldNow()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the call never reached the hold")
		}
		time.Sleep(pollEvery)
	}
	release()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("released call: %v", err)
		}
	case <-time.After(WaitLimit):
		t.Fatal("the released call did not return")
	}
}
