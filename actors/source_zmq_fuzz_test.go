package actors

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"slices"
	"testing"

	"github.com/btcsuite/btcd/wire/v2"

	"github.com/whalecast/whalecast/internal/bitcoin"
	"github.com/whalecast/whalecast/internal/btcdtest"
)

// FuzzZMQMessage feeds arbitrary messages to the live feed's message handler: whatever a
// publisher sends, the handler must not panic, and each message is either queued for the
// worker (or dropped when the buffer is full), skipped as corrupt, or only counted against
// its topic's counter.
func FuzzZMQMessage(f *testing.F) {
	blk := fuzzBlock(f)
	var raw bytes.Buffer
	if err := blk.Serialize(&raw); err != nil {
		f.Fatal(err)
	}
	var coinbase, spend bytes.Buffer
	if err := blk.Transactions[0].Serialize(&coinbase); err != nil {
		f.Fatal(err)
	}
	if err := blk.Transactions[1].Serialize(&spend); err != nil {
		f.Fatal(err)
	}
	hash := blk.BlockHash()
	seq := func(label byte, mempoolSeq bool) []byte {
		body := slices.Clone(hash[:])
		slices.Reverse(body)
		body = append(body, label)
		if mempoolSeq {
			body = binary.LittleEndian.AppendUint64(body, 7)
		}
		return body
	}
	counter := []byte{0, 0, 0, 0}

	tx := []byte{1, 0, 0, 0, 0, 0, 0, 0, 0}
	f.Add(uint8(3), []byte("rawtx"), tx, counter)
	f.Add(uint8(3), []byte("rawtx"), spend.Bytes(), []byte{1, 0, 0, 0})
	f.Add(uint8(3), []byte("rawtx"), coinbase.Bytes(), []byte{2, 0, 0, 0})
	f.Add(uint8(3), []byte("rawtx"), []byte{1, 0, 0, 0, 0xff}, []byte{7, 0, 0, 0})
	f.Add(uint8(3), []byte("rawblock"), raw.Bytes(), counter)
	f.Add(uint8(3), []byte("rawblock"), raw.Bytes()[:81], counter)
	f.Add(uint8(3), []byte("rawblock"), spend.Bytes(), counter)
	f.Add(uint8(3), []byte("sequence"), make([]byte, 41), []byte{1, 0, 0, 0})
	f.Add(uint8(3), []byte("sequence"), seq('C', false), counter)
	f.Add(uint8(3), []byte("sequence"), seq('D', false), counter)
	f.Add(uint8(3), []byte("sequence"), seq('A', true), counter)
	f.Add(uint8(3), []byte("sequence"), seq('R', true), counter)
	f.Add(uint8(3), []byte("sequence"), seq('D', true), counter)
	f.Add(uint8(3), []byte("sequence"), seq('R', false), counter)
	f.Add(uint8(3), []byte("sequence"), seq('X', false), counter)
	f.Add(uint8(2), []byte("rawtx"), tx, []byte{0, 0, 0})
	f.Add(uint8(4), []byte("hashblock"), make([]byte, 32), []byte{0xff, 0xff, 0xff, 0xff})
	f.Add(uint8(3), []byte("rawtxs"), tx, counter)
	f.Fuzz(func(t *testing.T, nframes uint8, topic, body, counter []byte) {
		feed := newZMQFeed(ZMQConfig{Endpoint: "tcp://127.0.0.1:1", Buffer: 1})
		defer feed.cancel()
		r := newZMQReader(feed)
		r.counters["rawtx"] = 0
		frames := [][]byte{topic, body, counter, counter}[:min(int(nframes)%5, 4)]
		r.handle(frames)

		s := feed.Stats()
		decoded := s.Received + s.Blocks + s.Disconnected + s.Removed
		switch {
		case decoded+s.Corrupt > 1:
			t.Errorf("one message counted as %+v", s)
		case decoded == 1 && len(feed.handoff)+int(s.Dropped) != 1:
			t.Errorf("a decoded message was neither queued nor dropped: %+v", s)
		case decoded == 0 && len(feed.handoff) != 0:
			t.Errorf("a message queued without being counted: %+v", s)
		}
		if len(feed.handoff) == 1 {
			checkQueued(t, <-feed.handoff, body)
		}
	})
}

// checkQueued checks that a queued item says what its body said.
func checkQueued(t *testing.T, it zmqItem, body []byte) {
	t.Helper()
	if it.Event == nil {
		if it.Msg == nil || bitcoin.IsCoinbase(it.Msg) || !bytes.Equal(it.Raw, body) {
			t.Errorf("queued transaction %v from a body of %d bytes", it.Msg, len(body))
		}
		return
	}
	switch it.Event.Kind {
	case BlockDisconnected, TxRemoved:
		// The body carries the hash in display order, the order of its hex form.
		want, got := hex.EncodeToString(body[:32]), it.Event.TxID
		if it.Event.Kind == BlockDisconnected {
			got = it.Event.Hash.String()
		}
		if got != want {
			t.Errorf("%v of %s, want %s", it.Event.Kind, got, want)
		}
	case BlockConnected:
		if it.Event.Block == nil || it.Event.Hash != it.Event.Block.BlockHash() {
			t.Errorf("connected block without its block or hash")
		}
	default:
		t.Errorf("queued event %v", it.Event.Kind)
	}
}

// fuzzBlock returns mainnet block 277647.
func fuzzBlock(tb testing.TB) *wire.MsgBlock {
	tb.Helper()
	r, err := bitcoin.OpenFile(btcdtest.Block277647(tb))
	if err != nil {
		tb.Fatal(err)
	}
	defer r.Close()
	item, err := r.Next()
	if err != nil || item.Block == nil {
		tb.Fatalf("read block 277647: %v", err)
	}
	return item.Block
}
