package actors

import (
	"sync/atomic"
	"time"
)

// Bucket bounds, in seconds, of the engine's latency histograms.
var (
	// DeliveryLatencyBuckets bound whalecast_delivery_latency_seconds: from half a
	// millisecond (a record handed out at once) to 10 s (FrameWrite: a client that slow is
	// disconnected).
	DeliveryLatencyBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
		0.25, 0.5, 1, 2.5, 5, 10}
	// StoreWriteBuckets bound whalecast_store_write_duration_seconds: a group commit with
	// its fsync takes about a millisecond on an SSD and tens on a disk.
	StoreWriteBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
		0.05, 0.1, 0.25, 0.5, 1, 2.5}
)

// Histogram counts durations into fixed buckets. Observe takes no lock and allocates
// nothing: one atomic add for the bucket and one for the sum. A nil *Histogram observes
// nothing and reads empty. Create it with NewHistogram.
type Histogram struct {
	bounds []float64 // upper bounds in seconds, ascending
	// counts[i] counts the observations in (bounds[i-1], bounds[i]]; the last one those
	// above every bound.
	counts   []atomic.Uint64
	sumNanos atomic.Int64
}

// NewHistogram returns a histogram with the given upper bounds, in seconds, ascending.
func NewHistogram(bounds []float64) *Histogram {
	return &Histogram{bounds: bounds, counts: make([]atomic.Uint64, len(bounds)+1)}
}

// Observe counts one duration; a negative one counts as zero.
func (h *Histogram) Observe(d time.Duration) {
	if h == nil {
		return
	}
	d = max(d, 0)
	s := d.Seconds()
	i := 0
	for i < len(h.bounds) && s > h.bounds[i] {
		i++
	}
	h.counts[i].Add(1)
	h.sumNanos.Add(int64(d))
}

// HistogramSnapshot is a histogram as /api/v1/stats shows it. Buckets are cumulative, like
// Prometheus': each counts the observations at or below its bound; Count counts them all
// (the +Inf bucket, which JSON cannot name).
type HistogramSnapshot struct {
	Count      uint64   `json:"count"`
	SumSeconds float64  `json:"sum_seconds"`
	Buckets    []Bucket `json:"buckets"`
}

// Bucket is one cumulative bucket of a HistogramSnapshot.
type Bucket struct {
	// LE is the bucket's upper bound, in seconds.
	LE    float64 `json:"le"`
	Count uint64  `json:"count"`
}

// Snapshot reads the histogram. Each bucket is read atomically; an observation made during
// the read may show in the count and not yet in the sum.
func (h *Histogram) Snapshot() HistogramSnapshot {
	out := HistogramSnapshot{Buckets: []Bucket{}}
	if h == nil {
		return out
	}
	out.Buckets = make([]Bucket, len(h.bounds))
	var total uint64
	for i, le := range h.bounds {
		total += h.counts[i].Load()
		out.Buckets[i] = Bucket{LE: le, Count: total}
	}
	out.Count = total + h.counts[len(h.bounds)].Load()
	out.SumSeconds = time.Duration(h.sumNanos.Load()).Seconds()
	return out
}
