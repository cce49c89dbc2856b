package bitcoin

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"math"
	"math/rand/v2"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

// satPerBTC is the number of satoshis in one bitcoin.
const satPerBTC = 100_000_000

// Simulator figures. docs/simulator.md gives the origin of each one.
const (
	simWhaleShare  = 0.04 // share of transactions in the whale tail (far above mainnet)
	simWhaleMinSat = 100 * satPerBTC
	simWhaleMaxSat = 30_000 * satPerBTC
	simWhaleAlpha  = 0.66 // Pareto index of whale totals

	simMidShare     = 0.07 // share of transactions moving 1 to 100 BTC
	simMidHighShare = 0.30 // share of those moving 10 to 100 BTC

	simBodyLog10Mean = 5.5 // log10 of an ordinary output value in satoshis
	simBodyLog10SD   = 1.1
	simBodyMaxSat    = 10 * satPerBTC
	simDustSat       = 546

	simRBFShare      = 0.30
	simVersion2Share = 0.60
	simLockTimeShare = 0.20 // anti-fee-sniping lock times set to the current height
	simOpReturnShare = 0.02

	simStartHeight = 840_000 // first block of 2024's halving epoch
	simTxPerBlock  = 4_200   // ten minutes at the engine's default 7 tx/s
)

// span is an inclusive range of counts.
type span struct{ lo, hi int }

// weighted is one entry of a discrete distribution; weights need not sum to 100.
type weighted[T any] struct {
	weight float64
	value  T
}

// Input and output counts of ordinary transactions: non-coinbase transactions of mainnet
// blocks 702861, 713126 and 757922 (2021-2022), in percent.
var (
	simInputCounts = []weighted[span]{
		{75.2, span{1, 1}}, {13.3, span{2, 2}}, {4.1, span{3, 3}}, {2.1, span{4, 4}},
		{1.4, span{5, 5}}, {2.1, span{6, 10}}, {1.2, span{11, 50}}, {0.35, span{51, 200}},
		{0.1, span{201, 500}},
	}
	simOutputCounts = []weighted[span]{
		{20.4, span{1, 1}}, {70.6, span{2, 2}}, {2.6, span{3, 3}}, {1.5, span{4, 4}},
		{0.8, span{5, 5}}, {1.8, span{6, 10}}, {1.5, span{11, 50}}, {0.6, span{51, 200}},
		{0.07, span{201, 500}},
	}
)

// Input and output counts of whale transactions: the 154 non-coinbase transactions of at
// least 100 BTC in mainnet blocks 512500 to 757922 (2018-2022), in percent.
var (
	simWhaleInputCounts = []weighted[span]{
		{85.7, span{1, 1}}, {6.5, span{2, 2}}, {1.9, span{3, 5}}, {1.3, span{6, 20}},
		{4.5, span{21, 100}},
	}
	simWhaleOutputCounts = []weighted[span]{
		{9.1, span{1, 1}}, {51.9, span{2, 2}}, {11.7, span{3, 5}}, {20.1, span{6, 20}},
		{5.8, span{21, 100}}, {1.3, span{101, 200}},
	}
)

// simPrevIndexes gives the output index each input spends, in percent: our estimate that
// most spent outputs are a transaction's first or second.
var simPrevIndexes = []weighted[span]{
	{50, span{0, 0}}, {35, span{1, 1}}, {10, span{2, 9}}, {5, span{10, 300}},
}

// Sim generates an endless, deterministic stream of well-formed mainnet-like transactions.
// Two Sims made with the same seed produce the same bytes, on the same Go release and CPU
// architecture. A Sim is not safe for concurrent use.
type Sim struct {
	rng    *rand.Rand
	seed   [8]byte
	txs    uint64 // transactions generated
	prevs  uint64 // outpoints generated
	height uint32
}

// NewSim returns a simulator whose whole output is determined by seed.
func NewSim(seed int64) *Sim {
	s := &Sim{
		rng:    rand.New(rand.NewPCG(uint64(seed), 0x77_68_61_6c_65_63_61_73)),
		height: simStartHeight,
	}
	binary.LittleEndian.PutUint64(s.seed[:], uint64(seed))
	return s
}

// Next returns the next transaction. It is never a coinbase, every input spends an
// outpoint no earlier transaction of this Sim spent, and the transaction round-trips
// through wire serialization and DecodeTx.
func (s *Sim) Next() *wire.MsgTx {
	s.txs++
	if s.txs%simTxPerBlock == 0 {
		s.height++
	}

	inCounts, outCounts := simInputCounts, simOutputCounts
	var total int64 // zero: ordinary transaction with independent output values
	switch u := s.uniform(); {
	case u < simWhaleShare:
		inCounts, outCounts = simWhaleInputCounts, simWhaleOutputCounts
		total = s.whaleTotal()
	case u < simWhaleShare+simMidShare:
		total = s.midTotal()
	}

	version := int32(1)
	if s.uniform() < simVersion2Share {
		version = 2
	}
	tx := wire.NewMsgTx(version)
	if s.uniform() < simLockTimeShare {
		tx.LockTime = s.height
		if s.uniform() < 0.1 {
			tx.LockTime -= uint32(s.intn(100))
		}
	}
	sequence := uint32(wire.MaxTxInSequenceNum)
	switch {
	case s.uniform() < simRBFShare:
		sequence = wire.MaxTxInSequenceNum - 2
	case tx.LockTime != 0:
		sequence = wire.MaxTxInSequenceNum - 1
	}

	kind := pick(s, simSpendKinds)
	for range s.drawCount(inCounts) {
		in := s.input(kind)
		in.Sequence = sequence
		tx.AddTxIn(in)
	}
	s.addOutputs(tx, kind, s.drawCount(outCounts), total)
	return tx
}

// NextRaw returns the serialization of Next(), witness included.
func (s *Sim) NextRaw() []byte {
	tx := s.Next()
	var buf bytes.Buffer
	buf.Grow(tx.SerializeSize())
	if err := tx.Serialize(&buf); err != nil {
		panic("bitcoin: serialize to memory failed: " + err.Error())
	}
	return buf.Bytes()
}

// addOutputs appends n value-bearing outputs, one of them change of the spending kind
// when n > 1, and sometimes an OP_RETURN. A positive total is split among the outputs;
// otherwise each value is drawn from the log-normal body.
func (s *Sim) addOutputs(tx *wire.MsgTx, kind spendKind, n int, total int64) {
	values := make([]int64, n)
	if total > 0 {
		s.split(values, total)
	} else {
		for i := range values {
			values[i] = s.bodyValue()
		}
	}
	change := -1
	if n > 1 {
		change = s.intn(n)
	}
	for i, v := range values {
		out := pick(s, simPayKinds)
		if i == change {
			out = kind.change()
		}
		tx.AddTxOut(wire.NewTxOut(v, s.outputScript(out)))
	}
	if s.uniform() < simOpReturnShare {
		tx.AddTxOut(wire.NewTxOut(0, s.opReturn()))
	}
}

// bodyValue draws an ordinary output value: log-normal, between dust and simBodyMaxSat.
func (s *Sim) bodyValue() int64 {
	v := math.Pow(10, simBodyLog10Mean+simBodyLog10SD*s.normal())
	return int64(min(max(v, simDustSat), simBodyMaxSat))
}

// midTotal draws the total of a 1 to 100 BTC transaction, log-uniform within 1-10 BTC and
// within 10-100 BTC.
func (s *Sim) midTotal() int64 {
	exp := 8 + s.uniform()
	if s.uniform() < simMidHighShare {
		exp++
	}
	return int64(math.Pow(10, exp))
}

// whaleTotal draws a whale total from a Pareto law with index simWhaleAlpha, truncated
// to [simWhaleMinSat, simWhaleMaxSat] by inverting its distribution function.
func (s *Sim) whaleTotal() int64 {
	tail := math.Pow(float64(simWhaleMinSat)/simWhaleMaxSat, simWhaleAlpha)
	x := simWhaleMinSat / math.Pow(1-s.uniform()*(1-tail), 1/simWhaleAlpha)
	return int64(min(max(x, simWhaleMinSat), simWhaleMaxSat))
}

// split divides total among values with random (flat Dirichlet) shares, each at least
// dust, so that the values sum to total exactly.
func (s *Sim) split(values []int64, total int64) {
	weights := make([]float64, len(values))
	var sum float64
	for i := range weights {
		weights[i] = -math.Log(1 - s.uniform())
		sum += weights[i]
	}
	rest := total
	for i := range values[:len(values)-1] {
		v := max(int64(float64(total)*weights[i]/sum), simDustSat)
		v = min(v, rest-simDustSat*int64(len(values)-1-i))
		values[i] = v
		rest -= v
	}
	values[len(values)-1] = rest
}

// outpoint returns a previous output no other call returns: its hash is SHA-256 of the
// seed and a counter.
func (s *Sim) outpoint() wire.OutPoint {
	var msg [16]byte
	copy(msg[:8], s.seed[:])
	binary.LittleEndian.PutUint64(msg[8:], s.prevs)
	s.prevs++
	return wire.OutPoint{
		Hash:  chainhash.Hash(sha256.Sum256(msg[:])),
		Index: uint32(s.drawCount(simPrevIndexes)),
	}
}

// drawCount draws an integer from a table of ranges.
func (s *Sim) drawCount(table []weighted[span]) int {
	r := pick(s, table)
	return r.lo + s.intn(r.hi-r.lo+1)
}

// pick draws a value from a weighted table.
func pick[T any](s *Sim, table []weighted[T]) T {
	var total float64
	for _, e := range table {
		total += e.weight
	}
	x := s.uniform() * total
	for _, e := range table {
		if x < e.weight {
			return e.value
		}
		x -= e.weight
	}
	return table[len(table)-1].value
}

// The random helpers below use only the PCG generator's Uint64, whose algorithm is fixed,
// so the stream does not depend on how math/rand/v2 shapes its other distributions.

// uniform returns a float64 in [0, 1).
func (s *Sim) uniform() float64 {
	return float64(s.rng.Uint64()>>11) * 0x1p-53
}

// normal returns a standard normal deviate (Box-Muller).
func (s *Sim) normal() float64 {
	u1 := 1 - s.uniform()
	u2 := s.uniform()
	return math.Sqrt(-2*math.Log(u1)) * math.Cos(2*math.Pi*u2)
}

// intn returns an int in [0, n); the modulo bias is below 2^-40 for the n used here.
func (s *Sim) intn(n int) int {
	return int(s.rng.Uint64() % uint64(n))
}

// fill writes random bytes into b.
func (s *Sim) fill(b []byte) {
	for len(b) >= 8 {
		binary.LittleEndian.PutUint64(b, s.rng.Uint64())
		b = b[8:]
	}
	if len(b) > 0 {
		var last [8]byte
		binary.LittleEndian.PutUint64(last[:], s.rng.Uint64())
		copy(b, last[:])
	}
}
