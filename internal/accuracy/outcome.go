package accuracy

import (
	"fmt"
	"strconv"
)

// Outcome is how a whale alert settled. Its zero value is not a valid outcome, so a field
// left unset is refused rather than counted.
type Outcome uint8

// Outcomes an alert can settle with.
const (
	// Confirmed means the alerted transaction was mined: the alert was right.
	Confirmed Outcome = iota + 1
	// Replaced means the transaction was replaced by another paying a higher fee (RBF).
	Replaced
	// Conflicted means a transaction spending some of the same inputs was mined instead.
	Conflicted
	// Dropped means the transaction left the mempool without being mined or replaced.
	Dropped
)

// numOutcomes is the number of valid outcomes; valid values run from 1 to numOutcomes.
const numOutcomes = 4

var outcomeNames = [numOutcomes + 1]string{
	Confirmed:  "confirmed",
	Replaced:   "replaced",
	Conflicted: "conflicted",
	Dropped:    "dropped",
}

// Valid reports whether o is one of the four outcomes.
func (o Outcome) Valid() bool {
	return o >= Confirmed && o <= Dropped
}

// String returns the lowercase name of o ("confirmed", ...), or "outcome(N)" for an invalid
// value.
func (o Outcome) String() string {
	if !o.Valid() {
		return "outcome(" + strconv.Itoa(int(o)) + ")"
	}
	return outcomeNames[o]
}

// ParseOutcome returns the Outcome named s, as String writes it. Matching is exact: the
// names are lowercase. Any other string gives ErrUnknownOutcome.
func ParseOutcome(s string) (Outcome, error) {
	for o := Confirmed; o <= Dropped; o++ {
		if outcomeNames[o] == s {
			return o, nil
		}
	}
	return 0, fmt.Errorf("%w: %q", ErrUnknownOutcome, s)
}

// MarshalText returns the name of o; it fails for an invalid value.
func (o Outcome) MarshalText() ([]byte, error) {
	if !o.Valid() {
		return nil, fmt.Errorf("%w: %d", ErrUnknownOutcome, int(o))
	}
	return []byte(outcomeNames[o]), nil
}

// UnmarshalText sets o from its name, as ParseOutcome does.
func (o *Outcome) UnmarshalText(b []byte) error {
	parsed, err := ParseOutcome(string(b))
	if err != nil {
		return err
	}
	*o = parsed
	return nil
}

// Transition is what one Record changed in the monitor's verdict.
type Transition uint8

// Transitions returned by Monitor.Record.
const (
	// None means the verdict did not change.
	None Transition = iota
	// Degraded means accuracy just fell below the threshold; a new episode began.
	Degraded
	// Recovered means accuracy just reached the recovery level; the episode ended.
	Recovered
)

// String returns "none", "degraded" or "recovered", or "transition(N)" for another value.
func (t Transition) String() string {
	switch t {
	case None:
		return "none"
	case Degraded:
		return "degraded"
	case Recovered:
		return "recovered"
	}
	return "transition(" + strconv.Itoa(int(t)) + ")"
}
