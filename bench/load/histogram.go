package load

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// Shape of the latency histogram. Values are whole microseconds. Below histExact they have
// a bucket each; above, every power of two is split into histHalf buckets of equal width,
// so a bucket is at most 1/64 (1.6%) of its values wide, whatever their size.
const (
	histSubBits = 6
	histHalf    = 1 << histSubBits
	histExact   = 2 * histHalf
	// MaxLatency is the longest latency the histogram tells apart; longer ones are counted
	// as MaxLatency.
	MaxLatency = time.Hour
	histMax    = uint64(MaxLatency / time.Microsecond)
)

// histBuckets is the number of buckets: the bucket of histMax, plus one.
var histBuckets = bucketOf(histMax) + 1

// bucketOf returns the bucket of a value in microseconds (at most histMax).
func bucketOf(v uint64) int {
	if v < histExact {
		return int(v)
	}
	shift := bits.Len64(v) - histSubBits - 1
	return shift*histHalf + int(v>>shift)
}

// bucketRange returns the lowest and the highest value of bucket i.
func bucketRange(i int) (lo, hi uint64) {
	if i < histExact {
		return uint64(i), uint64(i)
	}
	shift := i/histHalf - 1
	lo = uint64(i-shift*histHalf) << shift
	return lo, lo + 1<<shift - 1
}

// Histogram counts latencies with bounded memory: a fixed array of counters (about 14 KiB)
// however many values it records. Record is safe for concurrent use and takes no lock.
type Histogram struct {
	counts []atomic.Uint64
	total  atomic.Uint64
	sum    atomic.Uint64
	max    atomic.Uint64
}

// NewHistogram returns an empty histogram.
func NewHistogram() *Histogram {
	return &Histogram{counts: make([]atomic.Uint64, histBuckets)}
}

// Record counts one latency. Negative latencies count as 0, those over MaxLatency as
// MaxLatency.
func (h *Histogram) Record(d time.Duration) {
	v := uint64(min(max(d, 0), MaxLatency) / time.Microsecond)
	h.counts[bucketOf(v)].Add(1)
	h.total.Add(1)
	h.sum.Add(v)
	for {
		old := h.max.Load()
		if v <= old || h.max.CompareAndSwap(old, v) {
			return
		}
	}
}

// Snapshot copies the histogram's counts. Taken while values are recorded, it may miss
// the last of them, never half of one bucket's count.
func (h *Histogram) Snapshot() Snapshot {
	s := Snapshot{Counts: make([]uint64, len(h.counts)), Max: h.max.Load()}
	for i := range h.counts {
		s.Counts[i] = h.counts[i].Load()
		s.Total += s.Counts[i]
	}
	s.Sum = h.sum.Load()
	return s
}

// Snapshot is a histogram's counts at one moment: a plain value to take percentiles of.
type Snapshot struct {
	// Counts holds each bucket's count.
	Counts []uint64
	// Total is the sum of Counts.
	Total uint64
	// Sum is the sum of the values, in microseconds.
	Sum uint64
	// Max is the largest value, in microseconds: exact for a histogram's snapshot, the top
	// of the highest bucket used for a difference of two.
	Max uint64
}

// Since returns what was recorded between prev and s, two snapshots of one histogram.
func (s Snapshot) Since(prev Snapshot) Snapshot {
	d := Snapshot{Counts: make([]uint64, len(s.Counts)), Sum: s.Sum - prev.Sum}
	for i := range s.Counts {
		var before uint64
		if i < len(prev.Counts) {
			before = prev.Counts[i]
		}
		d.Counts[i] = s.Counts[i] - before
		d.Total += d.Counts[i]
		if d.Counts[i] > 0 {
			_, hi := bucketRange(i)
			d.Max = min(hi, s.Max)
		}
	}
	return d
}

// Quantile returns the latency under which a fraction q (0 to 1) of the values fall: the
// top of the bucket holding that rank, so that it is never under-reported by more than a
// bucket's width, and never above the maximum. It is 0 for an empty snapshot.
func (s Snapshot) Quantile(q float64) time.Duration {
	if s.Total == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(s.Total)))
	rank = min(max(rank, 1), s.Total)
	var seen uint64
	for i, n := range s.Counts {
		seen += n
		if seen >= rank {
			_, hi := bucketRange(i)
			return time.Duration(min(hi, s.Max)) * time.Microsecond
		}
	}
	return time.Duration(s.Max) * time.Microsecond
}

// Mean returns the average latency; 0 for an empty snapshot.
func (s Snapshot) Mean() time.Duration {
	if s.Total == 0 {
		return 0
	}
	return time.Duration(s.Sum/s.Total) * time.Microsecond
}

// Bucket is one non-empty bucket of a histogram, as the JSON report lists them.
type Bucket struct {
	// LowUS and HighUS are the bucket's lowest and highest value, in microseconds.
	LowUS  uint64 `json:"low_us"`
	HighUS uint64 `json:"high_us"`
	Count  uint64 `json:"count"`
}

// Buckets lists the non-empty buckets in increasing order.
func (s Snapshot) Buckets() []Bucket {
	var out []Bucket
	for i, n := range s.Counts {
		if n > 0 {
			lo, hi := bucketRange(i)
			out = append(out, Bucket{LowUS: lo, HighUS: hi, Count: n})
		}
	}
	return out
}
