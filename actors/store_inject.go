package actors

import (
	"github.com/asynkron/protoactor-go/actor"

	"github.com/whalecast/whalecast/internal/alert"
)

// MaxInject bounds the records of one Inject.
const MaxInject = 1000

// Inject asks the store to number, persist and publish records for a caller that waits for
// the outcome: an operator's drill or the load tool, through POST /api/v1/admin/publish. The
// records go the way every alert goes (queued, committed in a group, then handed to the
// broadcaster); the store answers the sender with *Injected once each of them is stored or
// lost. Send it with RequestFuture.
type Inject struct {
	// Records are the records to store, at most MaxInject.
	Records []alert.Record
}

// Injected answers Inject.
type Injected struct {
	// Seqs holds, for each record of the Inject in its order, the seq it was stored under,
	// or 0 when it was not stored: refused, lost to a failed or full store, or a real alert
	// the store already held.
	Seqs []uint64
}

// Stored counts the records that were stored.
func (in *Injected) Stored() int {
	n := 0
	for _, seq := range in.Seqs {
		if seq != 0 {
			n++
		}
	}
	return n
}

// injectWaiter is one Inject in progress: the seqs found so far and how many are missing.
type injectWaiter struct {
	to   *actor.PID
	seqs []uint64
	left int
}

// inject queues the records of msg, each tagged with the waiter that answers the sender.
func (s *storeActor) inject(ctx actor.Context, msg *Inject) {
	to := ctx.Sender()
	if len(msg.Records) == 0 || len(msg.Records) > MaxInject {
		s.log.Error("inject refused", "records", len(msg.Records), "max", MaxInject)
		if to != nil {
			ctx.Send(to, &Injected{Seqs: make([]uint64, len(msg.Records))})
		}
		return
	}
	w := &injectWaiter{to: to, seqs: make([]uint64, len(msg.Records)),
		left: len(msg.Records)}
	for i, r := range msg.Records {
		s.enqueue(ctx, Candidate{Record: r, waiter: w, slot: i})
	}
}

// settle records the outcome of one candidate (seq 0: not stored) and answers its waiter
// when that was the last one missing.
func (s *storeActor) settle(ctx actor.Context, c Candidate, seq uint64) {
	w := c.waiter
	if w == nil {
		return
	}
	w.seqs[c.slot] = seq
	w.left--
	if w.left == 0 && w.to != nil {
		ctx.Send(w.to, &Injected{Seqs: w.seqs})
	}
}

// settleAll records every candidate of batch as not stored.
func (s *storeActor) settleAll(ctx actor.Context, batch []Candidate) {
	for _, c := range batch {
		s.settle(ctx, c, 0)
	}
}

// settleStored records the seqs a committed batch got.
func (s *storeActor) settleStored(ctx actor.Context, batch []Candidate, stored []alert.Stored) {
	waited := false
	for _, c := range batch {
		waited = waited || c.waiter != nil
	}
	if !waited {
		return
	}
	for i, seq := range seqsOf(batch, stored) {
		s.settle(ctx, batch[i], seq)
	}
}

// seqsOf returns the seq each candidate of batch was stored under, 0 for one the store
// skipped. The store keeps the batch's order and skips only real alerts whose txid it
// already holds, so the two line up but for those skips; while some remain unaccounted
// for, a real alert whose txid differs from the next stored record's is one.
func seqsOf(batch []Candidate, stored []alert.Stored) []uint64 {
	seqs := make([]uint64, len(batch))
	j := 0
	for i, c := range batch {
		if j >= len(stored) {
			break
		}
		a := c.Record.Alert
		skips := len(batch)-i > len(stored)-j
		if skips && a != nil && !a.Test && txidOf(stored[j]) != a.TxID {
			continue
		}
		seqs[i] = stored[j].Seq
		j++
	}
	return seqs
}

// txidOf returns the txid of a stored alert, empty for an update or unreadable data.
func txidOf(st alert.Stored) string {
	if st.Kind != alert.KindAlert {
		return ""
	}
	a, err := alert.DecodeData(st.Data)
	if err != nil {
		return ""
	}
	return a.TxID
}
