package actors

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ErrUnknownDetector is wrapped by Registry.Build for a name that no factory has.
var ErrUnknownDetector = errors.New("actors: unknown detector")

// Defaults of DetectorConfig's consolidation fields.
const (
	DefaultConsolidationMinInputs  = 20
	DefaultConsolidationMaxOutputs = 2
)

// DetectorConfig holds every threshold of the built-in rules. Amounts are in satoshis; a zero
// amount matches every transaction of the rule's shape.
type DetectorConfig struct {
	// MinSat is the threshold of large_value and value_moved (the engine's --min-btc).
	MinSat int64
	// LargeOutputSat is large_output's threshold on the largest single output.
	LargeOutputSat int64
	// ConsolidationMinInputs is the fewest inputs of a consolidation (0: default 20).
	ConsolidationMinInputs int
	// ConsolidationMaxOutputs is the most outputs of a consolidation (0: default 2).
	ConsolidationMaxOutputs int
	// ConsolidationMinSat is a consolidation's threshold on its total output.
	ConsolidationMinSat int64
	// FeeSpikeFactor is how many times the baseline median fee rate the recent median must
	// reach for fee_spike (0: default 2).
	FeeSpikeFactor float64
}

// RuleFactory builds one rule from the shared configuration.
type RuleFactory func(cfg DetectorConfig) Rule

// Registry maps detector names to factories. Its order is the priority order: the detector
// asks enabled rules in that order and the first match names the alert. A Registry is built
// once at start and then only read.
type Registry struct {
	names     []string
	factories map[string]RuleFactory
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{factories: map[string]RuleFactory{}}
}

// BuiltinRegistry returns a new registry holding the built-in detectors, rarest and most
// specific first: fee_spike, consolidation, value_moved, large_output, large_value.
func BuiltinRegistry() *Registry {
	r := NewRegistry()
	r.MustRegister("fee_spike", func(c DetectorConfig) Rule {
		return NewFeeSpike(c.FeeSpikeFactor, 0, 0)
	})
	r.MustRegister("consolidation", func(c DetectorConfig) Rule {
		return Consolidation{MinInputs: orDefault(c.ConsolidationMinInputs,
			DefaultConsolidationMinInputs), MaxOutputs: orDefault(c.ConsolidationMaxOutputs,
			DefaultConsolidationMaxOutputs), MinSat: c.ConsolidationMinSat}
	})
	r.MustRegister("value_moved", func(c DetectorConfig) Rule { return ValueMoved{c.MinSat} })
	r.MustRegister("large_output", func(c DetectorConfig) Rule {
		return LargeOutput{c.LargeOutputSat}
	})
	r.MustRegister("large_value", func(c DetectorConfig) Rule { return LargeValue{c.MinSat} })
	return r
}

// orDefault returns v, or def when v is zero.
func orDefault(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// Register adds a detector after those already registered (so with the lowest priority). A
// name is a short lowercase identifier (a-z, 0-9, _; at most MaxDetectorName bytes) and is
// registered once.
func (r *Registry) Register(name string, f RuleFactory) error {
	switch {
	case !ValidDetectorName(name):
		return fmt.Errorf("actors: register detector %q: want a-z, 0-9 and _, at most %d bytes",
			name, MaxDetectorName)
	case f == nil:
		return fmt.Errorf("actors: register detector %q: nil factory", name)
	case r.factories[name] != nil:
		return fmt.Errorf("actors: register detector %q: already registered", name)
	}
	r.names = append(r.names, name)
	r.factories[name] = f
	return nil
}

// MustRegister is Register for names fixed in code; it panics on error.
func (r *Registry) MustRegister(name string, f RuleFactory) {
	if err := r.Register(name, f); err != nil {
		panic(err)
	}
}

// Names returns the registered names in priority order.
func (r *Registry) Names() []string { return slices.Clone(r.names) }

// Build returns the rules named in enabled, in the registry's priority order whatever the
// order of enabled; a repeated name counts once. An unknown name wraps ErrUnknownDetector.
func (r *Registry) Build(enabled []string, cfg DetectorConfig) ([]Rule, error) {
	for _, n := range enabled {
		if r.factories[n] == nil {
			return nil, fmt.Errorf("%w %q (known: %s)", ErrUnknownDetector, n,
				strings.Join(r.names, ", "))
		}
	}
	var rules []Rule
	for _, n := range r.names {
		if slices.Contains(enabled, n) {
			rules = append(rules, r.factories[n](cfg))
		}
	}
	return rules, nil
}

// MaxDetectorName bounds the length of a detector name, in bytes.
const MaxDetectorName = 32

// ValidDetectorName reports whether name is a well-formed detector name.
func ValidDetectorName(name string) bool {
	if name == "" || len(name) > MaxDetectorName {
		return false
	}
	for _, c := range []byte(name) {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}
