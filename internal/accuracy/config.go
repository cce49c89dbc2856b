package accuracy

import (
	"fmt"
	"math"
)

// Defaults used for a zero Config field.
const (
	// DefaultWindow is the number of settled outcomes accuracy is computed over.
	DefaultWindow = 200
	// DefaultThreshold is the accuracy below which the monitor turns degraded.
	DefaultThreshold = 0.70
	// DefaultMinSamples is the number of outcomes needed before any verdict.
	DefaultMinSamples = 20
	// DefaultHysteresis is how far above the threshold accuracy must climb to recover.
	DefaultHysteresis = 0.05
)

// MaxWindow is the largest accepted Window; the ring costs one byte per outcome.
const MaxWindow = 1_000_000

// epsilon is the tolerance of the accuracy comparisons; see the package documentation.
const epsilon = 1e-9

// Config tunes a Monitor. A zero field takes its default; New validates the result.
type Config struct {
	// Window is how many of the latest settled outcomes accuracy is computed over, from
	// MinSamples to MaxWindow. Zero means DefaultWindow (200).
	Window int
	// Threshold is the accuracy, in (0, 1], below which the monitor turns degraded;
	// accuracy exactly at the threshold is healthy. Zero means DefaultThreshold (0.70).
	Threshold float64
	// MinSamples is how many outcomes the monitor must hold before it gives a verdict,
	// from 1 to Window. Zero means DefaultMinSamples (20).
	MinSamples int
	// Hysteresis is how far above Threshold accuracy must climb before a degraded monitor
	// recovers; Threshold + Hysteresis must not exceed 1, or it could never recover. Zero
	// means DefaultHysteresis (0.05); a negative value turns it off, and the monitor then
	// recovers as soon as accuracy is back at the threshold.
	Hysteresis float64
}

// withDefaults returns c with every zero field set to its default and a negative
// Hysteresis set to zero.
func (c Config) withDefaults() Config {
	if c.Window == 0 {
		c.Window = DefaultWindow
	}
	if c.Threshold == 0 {
		c.Threshold = DefaultThreshold
	}
	if c.MinSamples == 0 {
		c.MinSamples = DefaultMinSamples
	}
	switch {
	case c.Hysteresis == 0:
		c.Hysteresis = DefaultHysteresis
	case c.Hysteresis < 0:
		c.Hysteresis = 0
	}
	return c
}

// validate checks a Config whose defaults are already applied.
func (c Config) validate() error {
	switch {
	case c.Window < 1 || c.Window > MaxWindow:
		return fmt.Errorf("%w: window %d outside [1, %d]", ErrInvalidConfig, c.Window,
			MaxWindow)
	case c.MinSamples < 1:
		return fmt.Errorf("%w: min samples %d below 1", ErrInvalidConfig, c.MinSamples)
	case c.MinSamples > c.Window:
		return fmt.Errorf("%w: min samples %d over window %d, no verdict could ever be given",
			ErrInvalidConfig, c.MinSamples, c.Window)
	case math.IsNaN(c.Threshold) || c.Threshold <= 0 || c.Threshold > 1:
		return fmt.Errorf("%w: threshold %v outside (0, 1]", ErrInvalidConfig, c.Threshold)
	case math.IsNaN(c.Hysteresis):
		return fmt.Errorf("%w: hysteresis is NaN", ErrInvalidConfig)
	case c.Threshold+c.Hysteresis > 1+epsilon:
		return fmt.Errorf("%w: threshold %v plus hysteresis %v is over 1, "+
			"a degraded monitor could never recover", ErrInvalidConfig, c.Threshold,
			c.Hysteresis)
	}
	return nil
}
