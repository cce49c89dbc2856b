package load

import (
	"sync"
	"testing"
	"time"
)

func TestBucketsCoverEveryValue(t *testing.T) {
	prevHi := int64(-1)
	for i := range histBuckets {
		lo, hi := bucketRange(i)
		if int64(lo) != prevHi+1 {
			t.Fatalf("bucket %d starts at %d, want %d (right after the previous one)", i, lo,
				prevHi+1)
		}
		if width := hi - lo + 1; lo >= histExact && float64(width)/float64(lo) > 1.0/histHalf {
			t.Fatalf("bucket %d [%d, %d] is %d wide, over 1/%d of its values", i, lo, hi,
				width, histHalf)
		}
		for _, v := range []uint64{lo, hi, (lo + hi) / 2} {
			if got := bucketOf(v); got != i {
				t.Fatalf("bucketOf(%d): got %d, want %d", v, got, i)
			}
		}
		prevHi = int64(hi)
	}
	if prevHi < int64(histMax) {
		t.Errorf("the last bucket ends at %d, below the maximum %d", prevHi, histMax)
	}
}

func TestHistogramQuantiles(t *testing.T) {
	us := time.Microsecond
	tests := []struct {
		name   string
		values []time.Duration
		q      float64
		want   time.Duration
		within float64 // relative error allowed
	}{
		{name: "empty", q: 0.5, want: 0},
		{name: "one value", values: []time.Duration{1234 * us}, q: 0.99, want: 1234 * us},
		{name: "exact small values", values: durations(1, 100, us), q: 0.5, want: 50 * us},
		{name: "median of 1..10000 ms", values: durations(1, 10000, time.Millisecond),
			q: 0.5, want: 5 * time.Second, within: 1.0 / 64},
		{name: "p99 of 1..10000 ms", values: durations(1, 10000, time.Millisecond), q: 0.99,
			want: 9900 * time.Millisecond, within: 1.0 / 64},
		{name: "p100 is the exact max", values: durations(1, 10000, 777*us), q: 1,
			want: 7_770_000 * us},
		{name: "negative counts as 0", values: []time.Duration{-time.Second}, q: 0.5},
		{name: "over the maximum counts as it", values: []time.Duration{3 * time.Hour}, q: 1,
			want: MaxLatency},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := NewHistogram()
			for _, v := range tt.values {
				h.Record(v)
			}
			got := h.Snapshot().Quantile(tt.q)
			diff := float64(got - tt.want)
			if diff < 0 {
				diff = -diff
			}
			if diff > tt.within*float64(tt.want) {
				t.Errorf("quantile %v: got %v, want %v (within %.1f%%)", tt.q, got, tt.want,
					100*tt.within)
			}
			if got < tt.want && tt.within > 0 && tt.q < 1 {
				t.Errorf("quantile %v: got %v, under %v: quantiles are never under-reported",
					tt.q, got, tt.want)
			}
		})
	}
}

func durations(from, to int, unit time.Duration) []time.Duration {
	out := make([]time.Duration, 0, to-from+1)
	for i := from; i <= to; i++ {
		out = append(out, time.Duration(i)*unit)
	}
	return out
}

func TestSnapshotSince(t *testing.T) {
	h := NewHistogram()
	for _, v := range durations(1, 100, time.Millisecond) {
		h.Record(v)
	}
	before := h.Snapshot()
	h.Record(2 * time.Second)
	h.Record(3 * time.Second)
	d := h.Snapshot().Since(before)
	if d.Total != 2 {
		t.Fatalf("total: got %d, want 2", d.Total)
	}
	if got := d.Quantile(0.5); got < 2*time.Second || got > 2*time.Second*65/64 {
		t.Errorf("median of the interval: got %v, want about 2s", got)
	}
	if got := d.Mean(); got != 2500*time.Millisecond {
		t.Errorf("mean of the interval: got %v, want 2.5s", got)
	}
	if got := time.Duration(d.Max) * time.Microsecond; got != 3*time.Second {
		t.Errorf("max of the interval: got %v, want 3s", got)
	}
}

// TestHistogramConcurrentRecord records from many goroutines (run it with -race) and
// checks nothing is lost.
func TestHistogramConcurrentRecord(t *testing.T) {
	h := NewHistogram()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 1000 {
				h.Record(time.Duration(g*1000+i) * time.Microsecond)
			}
		})
	}
	wg.Wait()
	s := h.Snapshot()
	if s.Total != 8000 || s.Max != 7999 {
		t.Errorf("got total %d max %d, want 8000 and 7999", s.Total, s.Max)
	}
	var n uint64
	for _, b := range s.Buckets() {
		n += b.Count
	}
	if n != 8000 {
		t.Errorf("buckets hold %d values, want 8000", n)
	}
}
