package actors

import (
	"bytes"
	"sync/atomic"
	"time"

	"github.com/whalecast/whalecast/internal/alert"
)

// durableSlots is how many recent records remember when they became durable: more than
// MaxBroadcastLag plus a connection's queue (transport.MaxQueuedFrames), so that a record
// still on its way to a slow client has usually kept its slot.
const durableSlots = 1 << 13

// durableSlot holds when the record seq became durable, as a monotonic offset from the
// stats' epoch. The writer clears seq, sets at, then sets seq; a reader that reads the same
// seq before and after at has the at of that seq.
type durableSlot struct {
	seq atomic.Uint64
	at  atomic.Int64
}

// monoNow returns the time since the stats' epoch on the monotonic clock, plus one, so that
// a known time is never zero.
func (s *Stats) monoNow() int64 {
	return int64(time.Since(s.epoch)) + 1
}

// MarkDurable records that stored became durable now. The store actor calls it once per
// batch written.
func (s *Stats) MarkDurable(stored []alert.Stored) {
	if s == nil || s.durable == nil || len(stored) == 0 {
		return
	}
	at := s.monoNow()
	for _, st := range stored {
		slot := &s.durable[st.Seq%durableSlots]
		slot.seq.Store(0)
		slot.at.Store(at)
		slot.seq.Store(st.Seq)
	}
}

// DurableAt returns when the oldest record among frames (WebSocket frames as alert.Frame
// makes them) became durable, as a token for ObserveDelivered, or 0 when no frame is a
// record whose time is still known. It reads each frame's first bytes and allocates
// nothing; the transport calls it once per socket write.
func (s *Stats) DurableAt(frames [][]byte) int64 {
	if s == nil || s.durable == nil {
		return 0
	}
	for _, f := range frames {
		seq, ok := frameSeq(f)
		if !ok {
			continue
		}
		slot := &s.durable[seq%durableSlots]
		if slot.seq.Load() != seq {
			return 0
		}
		at := slot.at.Load()
		if slot.seq.Load() != seq {
			return 0
		}
		return at
	}
	return 0
}

// ObserveDelivered adds the time since durableAt (from DurableAt) to the delivery latency;
// a zero durableAt adds nothing. The transport calls it once a socket write succeeded.
func (s *Stats) ObserveDelivered(durableAt int64) {
	if s == nil || durableAt == 0 {
		return
	}
	s.DeliveryLatency.Observe(time.Duration(s.monoNow() - durableAt))
}

// Heads of the frames of stored records (alert.Frame).
var (
	alertFrameHead  = []byte(`{"type":"whale_alert","seq":`)
	updateFrameHead = []byte(`{"type":"alert_update","seq":`)
)

// frameSeq returns the seq of a record's frame, or false for any other frame.
func frameSeq(f []byte) (uint64, bool) {
	switch {
	case bytes.HasPrefix(f, alertFrameHead):
		f = f[len(alertFrameHead):]
	case bytes.HasPrefix(f, updateFrameHead):
		f = f[len(updateFrameHead):]
	default:
		return 0, false
	}
	// At most 19 digits: no overflow, and far more records than a store will ever hold.
	var seq uint64
	n := 0
	for ; n < len(f) && n < 19 && f[n] >= '0' && f[n] <= '9'; n++ {
		seq = seq*10 + uint64(f[n]-'0')
	}
	if n == 0 || n == len(f) || f[n] != ',' {
		return 0, false
	}
	return seq, true
}
