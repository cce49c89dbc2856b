package actors

import "math"

// Defaults of FeeSpike.
const (
	DefaultFeeSpikeFactor   = 2.0
	DefaultFeeSpikeRecent   = 200
	DefaultFeeSpikeBaseline = 5000
)

// feeBuckets splits fee rates into log-spaced buckets: bucket i holds rates up to
// 2^(i/4) sat/vB, so medians are read to within 19% with 64 counters per window.
const feeBuckets = 64

// feeSpikeRearm is the share of the trigger level the recent median must fall under before a
// new spike can be reported: one alert per episode, not one per transaction.
const feeSpikeRearm = 0.8

// FeeSpike matches the transaction at which the median fee rate of the last Recent mempool
// transactions reaches Factor times the median of the last Baseline ones: the fee market
// jumped. It fires once per episode and again only after the recent median fell back under
// 80% of the trigger level. It needs fees from the node (--rpc): without them it never
// matches. It keeps state, so it is an Observer; docs/extending.md explains its limits.
type FeeSpike struct {
	Factor   float64
	Recent   int
	Baseline int

	recent, baseline *feeWindow
	armed, fired     bool
}

// NewFeeSpike returns a fee_spike rule; zero arguments pick the defaults.
func NewFeeSpike(factor float64, recent, baseline int) *FeeSpike {
	if factor <= 1 {
		factor = DefaultFeeSpikeFactor
	}
	if recent <= 0 {
		recent = DefaultFeeSpikeRecent
	}
	if baseline <= recent {
		baseline = max(DefaultFeeSpikeBaseline, 2*recent)
	}
	return &FeeSpike{Factor: factor, Recent: recent, Baseline: baseline,
		recent: newFeeWindow(recent), baseline: newFeeWindow(baseline), armed: true}
}

// Name implements Rule.
func (*FeeSpike) Name() string { return "fee_spike" }

// Observe implements Observer: it adds the transaction's fee rate to both windows and decides
// whether this transaction starts a spike.
func (r *FeeSpike) Observe(tx Transaction) {
	r.fired = false
	if tx.Fee == nil || tx.Fee.VSize <= 0 {
		return
	}
	b := feeBucket(tx.Fee.Rate())
	r.recent.add(b)
	r.baseline.add(b)
	if !r.baseline.full() {
		return
	}
	level := r.Factor * bucketRate(r.baseline.median())
	now := bucketRate(r.recent.median())
	switch {
	case r.armed && now >= level:
		r.armed, r.fired = false, true
	case !r.armed && now < feeSpikeRearm*level:
		r.armed = true
	}
}

// Match implements Rule: true for the transaction that started a spike.
func (r *FeeSpike) Match(Transaction) bool { return r.fired }

// feeWindow counts the buckets of the last n fee rates.
type feeWindow struct {
	ring   []uint8
	next   int
	n      int
	counts [feeBuckets]int
}

func newFeeWindow(n int) *feeWindow { return &feeWindow{ring: make([]uint8, n)} }

func (w *feeWindow) full() bool { return w.n == len(w.ring) }

func (w *feeWindow) add(b uint8) {
	if w.full() {
		w.counts[w.ring[w.next]]--
	} else {
		w.n++
	}
	w.ring[w.next] = b
	w.counts[b]++
	w.next = (w.next + 1) % len(w.ring)
}

// median returns the bucket holding the middle fee rate.
func (w *feeWindow) median() uint8 {
	half, seen := (w.n+1)/2, 0
	for b, c := range w.counts {
		seen += c
		if seen >= half {
			return uint8(b)
		}
	}
	return feeBuckets - 1
}

// feeBucket returns the bucket of a fee rate in sat/vB.
func feeBucket(rate float64) uint8 {
	if rate <= 1 {
		return 0
	}
	b := math.Ceil(4 * math.Log2(rate))
	return uint8(min(b, feeBuckets-1))
}

// bucketRate returns the upper fee rate of a bucket.
func bucketRate(b uint8) float64 { return math.Exp2(float64(b) / 4) }
