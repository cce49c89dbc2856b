package accuracy

import "time"

// Monitor tracks accuracy over a rolling window of settled outcomes. Create one with New;
// the zero value is not usable. It is not safe for concurrent use (see the package
// documentation).
type Monitor struct {
	cfg       Config
	recoverAt float64 // Threshold + Hysteresis

	ring    []Outcome // the latest outcomes; ring[next] is the oldest once full
	next    int       // where the next outcome is written
	samples int       // outcomes held, up to len(ring)
	counts  [numOutcomes + 1]int

	degraded bool
	since    time.Time // when the current episode began; zero when healthy
	episodes int
}

// New returns an empty, healthy monitor, or an error wrapping ErrInvalidConfig that names
// the field out of range.
func New(cfg Config) (*Monitor, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Monitor{
		cfg:       cfg,
		recoverAt: cfg.Threshold + cfg.Hysteresis,
		ring:      make([]Outcome, cfg.Window),
	}, nil
}

// Record adds an outcome settled at time at, evicting the oldest one when the window is
// full, and returns what changed in the verdict: Degraded once when an episode begins,
// Recovered once when it ends, None otherwise. An invalid Outcome is ignored and gives None.
func (m *Monitor) Record(o Outcome, at time.Time) Transition {
	if !o.Valid() {
		return None
	}

	if m.samples == len(m.ring) {
		m.counts[m.ring[m.next]]--
	} else {
		m.samples++
	}
	m.ring[m.next] = o
	m.counts[o]++
	m.next++
	if m.next == len(m.ring) {
		m.next = 0
	}

	if m.samples < m.cfg.MinSamples {
		return None
	}
	acc := m.accuracy()
	switch {
	case !m.degraded && acc < m.cfg.Threshold-epsilon:
		m.degraded = true
		m.since = at
		m.episodes++
		return Degraded
	case m.degraded && acc >= m.recoverAt-epsilon:
		m.degraded = false
		m.since = time.Time{}
		return Recovered
	}
	return None
}

// accuracy returns the share of confirmed outcomes; samples must be positive.
func (m *Monitor) accuracy() float64 {
	return float64(m.counts[Confirmed]) / float64(m.samples)
}

// Snapshot is the state of a Monitor at one moment.
type Snapshot struct {
	// Window is the configured number of outcomes accuracy is computed over.
	Window int `json:"window"`
	// MinSamples is the number of outcomes needed before a verdict.
	MinSamples int `json:"min_samples"`
	// Samples is the number of outcomes held now, up to Window.
	Samples int `json:"samples"`
	// Confirmed counts the Confirmed outcomes held.
	Confirmed int `json:"confirmed"`
	// Replaced counts the Replaced outcomes held.
	Replaced int `json:"replaced"`
	// Conflicted counts the Conflicted outcomes held.
	Conflicted int `json:"conflicted"`
	// Dropped counts the Dropped outcomes held.
	Dropped int `json:"dropped"`
	// Accuracy is Confirmed / Samples; nil (null) while Samples is below MinSamples.
	Accuracy *float64 `json:"accuracy"`
	// Threshold is the accuracy below which the monitor turns degraded.
	Threshold float64 `json:"threshold"`
	// RecoverAt is the accuracy a degraded monitor must reach to recover.
	RecoverAt float64 `json:"recover_at"`
	// Degraded reports whether an episode is under way.
	Degraded bool `json:"degraded"`
	// DegradedSince is when the current episode began; nil (null) when healthy.
	DegradedSince *time.Time `json:"degraded_since"`
	// Episodes counts the episodes begun since the monitor was created.
	Episodes int `json:"episodes"`
}

// Snapshot returns the current state. It shares no memory with the monitor.
func (m *Monitor) Snapshot() Snapshot {
	s := Snapshot{
		Window:     m.cfg.Window,
		MinSamples: m.cfg.MinSamples,
		Samples:    m.samples,
		Confirmed:  m.counts[Confirmed],
		Replaced:   m.counts[Replaced],
		Conflicted: m.counts[Conflicted],
		Dropped:    m.counts[Dropped],
		Threshold:  m.cfg.Threshold,
		RecoverAt:  m.recoverAt,
		Degraded:   m.degraded,
		Episodes:   m.episodes,
	}
	if m.samples >= m.cfg.MinSamples {
		acc := m.accuracy()
		s.Accuracy = &acc
	}
	if m.degraded {
		since := m.since
		s.DegradedSince = &since
	}
	return s
}
