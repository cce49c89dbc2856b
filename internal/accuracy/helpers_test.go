package accuracy

import (
	"testing"
	"time"
)

var testStart = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// outcomeCodes maps the letters of a test sequence to outcomes.
var outcomeCodes = map[rune]Outcome{
	'C': Confirmed,
	'R': Replaced,
	'X': Conflicted,
	'D': Dropped,
}

// transitionCodes maps transitions to the letters of a test's expected sequence.
var transitionCodes = map[Transition]byte{None: '.', Degraded: 'v', Recovered: '^'}

// newTestMonitor returns a monitor for cfg, failing tb if New does.
func newTestMonitor(tb testing.TB, cfg Config) *Monitor {
	tb.Helper()
	m, err := New(cfg)
	if err != nil {
		tb.Fatalf("New(%+v): %v", cfg, err)
	}
	return m
}

// feed records the outcomes spelled by seq (C, R, X, D), the i-th one at testStart plus i
// minutes counted from first, and returns the transitions spelled with '.', 'v' and '^'.
func feed(tb testing.TB, m *Monitor, seq string, first int) string {
	tb.Helper()
	got := make([]byte, 0, len(seq))
	for i, r := range seq {
		o, ok := outcomeCodes[r]
		if !ok {
			tb.Fatalf("bad outcome letter %q in %q", r, seq)
		}
		at := testStart.Add(time.Duration(first+i) * time.Minute)
		got = append(got, transitionCodes[m.Record(o, at)])
	}
	return string(got)
}

// repeat returns s n times.
func repeat(s string, n int) string {
	out := ""
	for range n {
		out += s
	}
	return out
}
