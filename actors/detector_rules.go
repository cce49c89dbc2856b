package actors

import (
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/whalecast/whalecast/internal/bitcoin"
)

// Transaction is what a rule sees: the decoded transaction and its summary, computed once by
// the detector so that no rule decodes or sums again. Rules must not modify Msg.
type Transaction struct {
	// Msg is the decoded transaction; never nil.
	Msg *wire.MsgTx
	// Summary is bitcoin.Summarize(Msg).
	Summary bitcoin.TxSummary
	// Fee is the node's fee; nil when the source has no RPC to ask (rules needing fees then
	// do not match).
	Fee *Fee
}

// Rule decides whether a transaction deserves an alert. Rules do no I/O and no logging, and
// share no state with other actors (a rule that keeps state implements Observer). The detector
// asks its rules in order and names the alert after the first that matches.
type Rule interface {
	// Name is the detector name carried by the alert, e.g. "large_value".
	Name() string
	// Match reports whether the transaction is a whale by this rule.
	Match(tx Transaction) bool
}

// Observer is a rule that keeps state about the transaction stream (a rolling baseline, for
// instance). The detector shows it every transaction before asking the rules to match, so
// that a rule of higher priority matching first does not hide transactions from it. Its
// state lives in the rule value, which the detector owns: Observe and Match are never called
// concurrently.
type Observer interface {
	Observe(tx Transaction)
}

// FirstMatch returns the first of rules that matches tx: the rule the detector names the
// alert after.
func FirstMatch(rules []Rule, tx Transaction) (Rule, bool) {
	for _, r := range rules {
		if r.Match(tx) {
			return r, true
		}
	}
	return nil, false
}

// LargeValue matches transactions whose total output is at least MinSat satoshis (change
// included: a raw transaction does not say which output is change).
type LargeValue struct {
	MinSat int64
}

// Name implements Rule.
func (LargeValue) Name() string { return "large_value" }

// Match implements Rule.
func (r LargeValue) Match(tx Transaction) bool { return tx.Summary.ValueSat >= r.MinSat }

// LargeOutput matches transactions with one output of at least MinSat satoshis.
type LargeOutput struct {
	MinSat int64
}

// Name implements Rule.
func (LargeOutput) Name() string { return "large_output" }

// Match implements Rule.
func (r LargeOutput) Match(tx Transaction) bool { return tx.Summary.LargestOutputSat >= r.MinSat }

// ValueMoved matches transactions whose total output minus the likely change output
// (LikelyChange) is at least MinSat satoshis. docs/extending.md explains the guess.
type ValueMoved struct {
	MinSat int64
}

// Name implements Rule.
func (ValueMoved) Name() string { return "value_moved" }

// Match implements Rule.
func (r ValueMoved) Match(tx Transaction) bool {
	return MovedSat(tx.Msg, tx.Summary.ValueSat) >= r.MinSat
}

// roundUnit is the granularity of a "round" amount: 0.001 BTC. People pay round amounts;
// wallets return whatever is left as change.
const roundUnit = 100_000

// LikelyChange returns the index of the output that is most likely the sender's change, or
// -1 when the transaction has fewer than two outputs (then nothing is taken for change).
// The guess: if exactly one output is not a multiple of 0.001 BTC, it is the change;
// otherwise the smallest output is (the first of equals). Negative values count as zero.
func LikelyChange(tx *wire.MsgTx) int {
	if len(tx.TxOut) < 2 {
		return -1
	}
	odd, oddAt, smallest := 0, -1, 0
	for i, out := range tx.TxOut {
		v := max(out.Value, 0)
		if v%roundUnit != 0 {
			odd++
			oddAt = i
		}
		if v < max(tx.TxOut[smallest].Value, 0) {
			smallest = i
		}
	}
	if odd == 1 {
		return oddAt
	}
	return smallest
}

// MovedSat returns total, the transaction's total output (its summary's ValueSat), minus the
// likely change output, in satoshis.
func MovedSat(tx *wire.MsgTx, total int64) int64 {
	if i := LikelyChange(tx); i >= 0 {
		total -= max(tx.TxOut[i].Value, 0)
	}
	return max(total, 0)
}

// Consolidation matches transactions that gather many inputs into few outputs: at least
// MinInputs inputs, at most MaxOutputs outputs, and a total output of at least MinSat.
type Consolidation struct {
	MinInputs  int
	MaxOutputs int
	MinSat     int64
}

// Name implements Rule.
func (Consolidation) Name() string { return "consolidation" }

// Match implements Rule.
func (r Consolidation) Match(tx Transaction) bool {
	s := tx.Summary
	return s.Inputs >= r.MinInputs && s.Outputs <= r.MaxOutputs && s.ValueSat >= r.MinSat
}
