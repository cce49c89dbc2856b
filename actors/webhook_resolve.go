package actors

import (
	"fmt"
	"sync"

	"github.com/whalecast/whalecast/persistence"
)

// maxResolveBatch bounds the outcomes one group commit writes; a variable so that a test
// can measure the writes without grouping (1).
var maxResolveBatch = 256

// resolver writes the outcomes of attempts in groups: while one group is being written and
// synced, the outcomes that finish queue, and the next group takes them all (at most
// maxResolveBatch), in one transaction. Each attempt's goroutine waits until its own
// outcome is durable, so the actor, which hears of the outcome only then, never acts on an
// outcome a crash could lose. Outcomes are written in the order they queued, so those of
// one webhook keep their order in its log.
//
// There is no goroutine of its own: the first caller that finds no group being written
// writes one (it leads), and hands the lead to the oldest waiting caller when it is done.
type resolver struct {
	store persistence.WebhookStore
	keep  persistence.WebhookKeep
	max   int

	mu      sync.Mutex
	queue   []*resolveCall
	writing bool
}

// resolveCall is one outcome waiting in the resolver.
type resolveCall struct {
	item  persistence.AttemptResult
	wake  chan struct{} // closed when the outcome is written, or when the call leads
	lead  bool          // set, before wake closes, when the call is to write the next group
	entry persistence.DeliveryLogEntry
	err   error
}

func newResolver(store persistence.WebhookStore, keep persistence.WebhookKeep,
	maxBatch int) *resolver {
	return &resolver{store: store, keep: keep, max: max(maxBatch, 1)}
}

// resolve writes one outcome, with the others that queue meanwhile, and returns its log
// entry once it is durable: an error wrapping persistence.ErrNotFound when its webhook
// is no longer stored, the store's error when the group was not written.
func (r *resolver) resolve(item persistence.AttemptResult) (persistence.DeliveryLogEntry,
	error) {
	c := &resolveCall{item: item, wake: make(chan struct{})}
	r.mu.Lock()
	r.queue = append(r.queue, c)
	leads := !r.writing
	r.writing = true
	r.mu.Unlock()

	if !leads {
		<-c.wake // c.lead is set before the close, and not written after it
		if !c.lead {
			return c.entry, c.err
		}
	}
	r.writeGroup()
	return c.entry, c.err
}

// writeGroup writes the oldest queued outcomes, the leader's first, then passes the lead
// on to the oldest outcome left, or ends the writing when none is.
func (r *resolver) writeGroup() {
	r.mu.Lock()
	n := min(len(r.queue), r.max)
	group := r.queue[:n:n]
	r.queue = r.queue[n:]
	r.mu.Unlock()

	items := make([]persistence.AttemptResult, len(group))
	for i, c := range group {
		items[i] = c.item
	}
	entries, err := r.store.ResolveAttempts(items, r.keep)
	if err == nil && len(entries) != len(items) {
		err = fmt.Errorf("resolve %d attempts: the store answered %d", len(items),
			len(entries))
	}
	for i, c := range group {
		switch {
		case err != nil:
			c.err = err
		case entries[i].N == 0:
			c.err = fmt.Errorf("resolve delivery %d of %s: webhook gone: %w",
				c.item.Delivery.Seq, c.item.ID, persistence.ErrNotFound)
		default:
			c.entry = entries[i]
		}
		if i > 0 { // the leader (the first) is not waiting
			close(c.wake)
		}
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.queue) == 0 {
		r.writing = false
		return
	}
	next := r.queue[0]
	next.lead = true
	close(next.wake)
}
