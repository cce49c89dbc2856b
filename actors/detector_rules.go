package actors

import (
	"github.com/whalecast/whalecast/internal/bitcoin"
)

// Rule decides whether a transaction deserves an alert. Rules are pure: no I/O, no logging,
// no state shared with other actors. The detector asks its rules in order and names the
// alert after the first that matches.
type Rule interface {
	// Name is the detector name carried by the alert, e.g. "large_value".
	Name() string
	// Match reports whether the transaction is a whale by this rule.
	Match(tx bitcoin.TxSummary) bool
}

// LargeValue matches transactions whose total output is at least MinSat satoshis (change
// included: a raw transaction does not say which output is change).
type LargeValue struct {
	MinSat int64
}

// Name implements Rule.
func (LargeValue) Name() string { return "large_value" }

// Match implements Rule.
func (r LargeValue) Match(tx bitcoin.TxSummary) bool { return tx.ValueSat >= r.MinSat }
