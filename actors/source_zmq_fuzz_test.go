package actors

import (
	"log/slog"
	"testing"
	"time"
)

// FuzzZMQMessage feeds arbitrary messages to the live feed's message handler: whatever a
// publisher sends, the handler must not panic, and each message is either queued, skipped
// as corrupt, or (a sequence notification) only counted.
func FuzzZMQMessage(f *testing.F) {
	tx := []byte{1, 0, 0, 0, 0, 0, 0, 0, 0}
	f.Add(uint8(3), []byte("rawtx"), tx, []byte{0, 0, 0, 0})
	f.Add(uint8(3), []byte("rawtx"), []byte{1, 0, 0, 0, 0xff}, []byte{7, 0, 0, 0})
	f.Add(uint8(3), []byte("sequence"), make([]byte, 41), []byte{1, 0, 0, 0})
	f.Add(uint8(2), []byte("rawtx"), tx, []byte{0, 0, 0})
	f.Add(uint8(4), []byte("hashblock"), make([]byte, 32), []byte{0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, nframes uint8, topic, body, counter []byte) {
		feed := &ZMQFeed{log: slog.New(slog.DiscardHandler), txs: make(chan FeedTx, 1)}
		frames := [][]byte{topic, body, counter, counter}[:min(int(nframes)%5, 4)]
		feed.handle(frames, map[string]uint32{"rawtx": 0}, newLogLimiter(time.Hour))

		s := feed.Stats()
		if s.Received+s.Corrupt > 1 {
			t.Errorf("one message counted as %+v", s)
		}
		if s.Received == 1 && len(feed.txs) == 0 && s.Dropped == 0 {
			t.Errorf("a received transaction was neither queued nor dropped: %+v", s)
		}
	})
}
