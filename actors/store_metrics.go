package actors

import (
	"time"

	"github.com/whalecast/whalecast/internal/alert"
)

// write persists batch through the store and measures it: the write's duration, and when
// each stored record became durable (for the delivery latency). It runs on the writer
// goroutine, or in drain.
func (s *storeActor) write(batch []Candidate) ([]alert.Stored, error) {
	start := time.Now()
	stored, err := s.store.Append(recordsOf(batch))
	s.stats.StoreWrite.Observe(time.Since(start))
	s.stats.MarkDurable(stored)
	return stored, err
}

// reportQueues publishes the store's queue depths: records waiting to be written, and
// records stored but not yet handed out by the broadcaster.
func (s *storeActor) reportQueues() {
	s.stats.StorePending.Store(int64(len(s.pending)))
	lag := int64(0)
	if s.published > s.offered {
		lag = int64(s.published - s.offered)
	}
	s.stats.BroadcastLag.Store(lag)
}
