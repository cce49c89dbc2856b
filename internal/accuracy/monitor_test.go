package accuracy

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

func TestRecordTransitions(t *testing.T) {
	w20 := Config{Window: 20, MinSamples: 20, Threshold: 0.7}
	noHyst := Config{Window: 20, MinSamples: 20, Threshold: 0.7, Hysteresis: -1}
	tests := []struct {
		name string
		cfg  Config
		seq  string
		want string
	}{
		{
			name: "no verdict below min samples",
			cfg:  Config{Window: 10, MinSamples: 5, Threshold: 0.5},
			seq:  "DDDDD",
			want: "....v",
		},
		{
			name: "exactly at threshold is healthy",
			cfg:  w20,
			seq:  repeat("C", 14) + repeat("D", 6),
			want: repeat(".", 20),
		},
		{
			name: "one below threshold degrades",
			cfg:  w20,
			seq:  repeat("C", 13) + repeat("D", 7),
			want: repeat(".", 19) + "v",
		},
		{
			name: "eviction of a confirmed outcome degrades",
			cfg:  w20,
			seq:  repeat("C", 14) + repeat("D", 6) + "D",
			want: repeat(".", 20) + "v",
		},
		{
			name: "hysteresis holds at threshold, recovers at threshold plus hysteresis",
			cfg:  w20,
			seq:  repeat("D", 7) + repeat("C", 13) + "C" + "C",
			want: repeat(".", 19) + "v" + "." + "^",
		},
		{
			name: "without hysteresis recovery at threshold",
			cfg:  noHyst,
			seq:  repeat("D", 7) + repeat("C", 13) + "C",
			want: repeat(".", 19) + "v" + "^",
		},
		{
			name: "once per episode, then a second episode",
			cfg:  Config{Window: 4, MinSamples: 2, Threshold: 0.5, Hysteresis: -1},
			seq:  "DDDDCCDDD",
			want: ".v...^..v",
		},
		{
			name: "every non-confirmed outcome counts against accuracy",
			cfg:  Config{Window: 4, MinSamples: 4, Threshold: 0.5, Hysteresis: -1},
			seq:  "CCRX" + "D",
			want: "...." + "v",
		},
		{
			name: "threshold one recovers only at a perfect window",
			cfg:  Config{Window: 3, MinSamples: 3, Threshold: 1, Hysteresis: -1},
			seq:  "DCCC",
			want: "..v^",
		},
		{
			name: "window evicts the oldest outcome first",
			cfg:  Config{Window: 3, MinSamples: 3, Threshold: 0.6, Hysteresis: -1},
			seq:  "CCD" + "D" + "C" + "C",
			want: "..." + "v" + "." + "^",
		},
		{
			name: "defaults: window 200, 20 samples, 0.70, recovery at 0.75",
			cfg:  Config{},
			seq:  repeat("D", 7) + repeat("C", 13) + repeat("C", 8),
			want: repeat(".", 19) + "v" + repeat(".", 7) + "^",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newTestMonitor(t, tt.cfg)
			if got := feed(t, m, tt.seq, 0); got != tt.want {
				t.Errorf("transitions\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestEpisodesAndDegradedSince(t *testing.T) {
	m := newTestMonitor(t, Config{Window: 4, MinSamples: 2, Threshold: 0.5, Hysteresis: -1})

	feed(t, m, "DDD", 0)
	s := m.Snapshot()
	if !s.Degraded || s.Episodes != 1 {
		t.Fatalf("after DDD: degraded %v episodes %d, want true 1", s.Degraded, s.Episodes)
	}
	wantSince := testStart.Add(time.Minute)
	if s.DegradedSince == nil || !s.DegradedSince.Equal(wantSince) {
		t.Errorf("degraded since %v, want %v (the second outcome)", s.DegradedSince, wantSince)
	}

	feed(t, m, "CCC", 3)
	s = m.Snapshot()
	if s.Degraded || s.DegradedSince != nil || s.Episodes != 1 {
		t.Errorf("after recovery: degraded %v since %v episodes %d, want false nil 1",
			s.Degraded, s.DegradedSince, s.Episodes)
	}

	feed(t, m, "DDD", 6)
	s = m.Snapshot()
	wantSince = testStart.Add(8 * time.Minute) // CCCD and CCDD are at the threshold
	if s.Episodes != 2 || s.DegradedSince == nil || !s.DegradedSince.Equal(wantSince) {
		t.Errorf("second episode: episodes %d since %v, want 2 %v", s.Episodes,
			s.DegradedSince, wantSince)
	}
}

func TestInvalidOutcomeIgnored(t *testing.T) {
	m := newTestMonitor(t, Config{Window: 2, MinSamples: 1, Threshold: 0.5})

	for _, o := range []Outcome{0, Dropped + 1, 255} {
		if got := m.Record(o, testStart); got != None {
			t.Errorf("Record(%v) = %v, want none", o, got)
		}
	}

	if s := m.Snapshot(); s.Samples != 0 {
		t.Errorf("samples %d after invalid outcomes, want 0", s.Samples)
	}
}

func TestSnapshotCounts(t *testing.T) {
	m := newTestMonitor(t, Config{Window: 5, MinSamples: 3, Threshold: 0.1})

	feed(t, m, "DXRCCCC", 0)
	got := m.Snapshot()

	acc := 0.8
	want := Snapshot{
		Window: 5, MinSamples: 3, Samples: 5,
		Confirmed: 4, Replaced: 1, Conflicted: 0, Dropped: 0,
		Accuracy: &acc, Threshold: 0.1, RecoverAt: 0.15, Episodes: 1, // DXR was 0/3
	}
	if got.Accuracy == nil || math.Abs(*got.Accuracy-acc) > 1e-12 {
		t.Fatalf("accuracy %v, want %v", got.Accuracy, acc)
	}
	got.Accuracy = want.Accuracy
	if math.Abs(got.RecoverAt-want.RecoverAt) > 1e-12 {
		t.Errorf("recover at %v, want %v", got.RecoverAt, want.RecoverAt)
	}
	got.RecoverAt = want.RecoverAt
	if got != want {
		t.Errorf("snapshot\n got %+v\nwant %+v", got, want)
	}
}

func TestSnapshotJSON(t *testing.T) {
	tests := []struct {
		name string
		seq  string
		want string
	}{
		{
			name: "below min samples",
			seq:  "CD",
			want: `{"window":4,"min_samples":3,"samples":2,"confirmed":1,"replaced":0,` +
				`"conflicted":0,"dropped":1,"accuracy":null,"threshold":0.5,` +
				`"recover_at":0.5,"degraded":false,"degraded_since":null,"episodes":0}`,
		},
		{
			name: "degraded",
			seq:  "CDD",
			want: `{"window":4,"min_samples":3,"samples":3,"confirmed":1,"replaced":0,` +
				`"conflicted":0,"dropped":2,"accuracy":0.3333333333333333,` +
				`"threshold":0.5,"recover_at":0.5,"degraded":true,` +
				`"degraded_since":"2025-06-01T12:02:00Z","episodes":1}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newTestMonitor(t, Config{Window: 4, MinSamples: 3, Threshold: 0.5,
				Hysteresis: -1})
			feed(t, m, tt.seq, 0)

			got, err := json.Marshal(m.Snapshot())
			if err != nil {
				t.Fatalf("marshal: %v", err)
			}
			if string(got) != tt.want {
				t.Errorf("JSON\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestSnapshotSharesNoMemory(t *testing.T) {
	m := newTestMonitor(t, Config{Window: 2, MinSamples: 1, Threshold: 0.5})
	feed(t, m, "D", 0)

	s := m.Snapshot()
	*s.Accuracy = 1
	*s.DegradedSince = time.Time{}

	again := m.Snapshot()
	if *again.Accuracy != 0 || !again.DegradedSince.Equal(testStart) {
		t.Errorf("snapshot changed through an earlier copy: %+v", again)
	}
}

// TestAgainstNaive compares the ring's verdicts with a recomputation over the last Window
// outcomes of random sequences.
func TestAgainstNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 200 {
		cfg := Config{
			Window:     1 + rng.IntN(30),
			Threshold:  0.05 + 0.9*rng.Float64(),
			Hysteresis: -1,
		}
		cfg.MinSamples = 1 + rng.IntN(cfg.Window)
		if rng.IntN(2) == 0 {
			cfg.Hysteresis = (1 - cfg.Threshold) * rng.Float64()
		}
		checkAgainstNaive(t, round, cfg, rng)
	}
}

func checkAgainstNaive(t *testing.T, round int, cfg Config, rng *rand.Rand) {
	t.Helper()
	m := newTestMonitor(t, cfg)
	recoverAt := cfg.Threshold + max(cfg.Hysteresis, 0)
	confirmRate := rng.Float64()
	var history []Outcome
	degraded := false

	for i := range 300 {
		o := Outcome(2 + rng.IntN(3))
		if rng.Float64() < confirmRate {
			o = Confirmed
		}
		history = append(history, o)
		got := m.Record(o, testStart)

		last := history[max(0, len(history)-cfg.Window):]
		confirmed := 0
		for _, h := range last {
			if h == Confirmed {
				confirmed++
			}
		}
		want := None
		acc := float64(confirmed) / float64(len(last))
		if len(last) >= cfg.MinSamples {
			switch {
			case !degraded && acc < cfg.Threshold-epsilon:
				degraded, want = true, Degraded
			case degraded && acc >= recoverAt-epsilon:
				degraded, want = false, Recovered
			}
		}
		if got != want {
			t.Fatalf("round %d cfg %+v outcome %d: got %v, want %v", round, cfg, i, got, want)
		}
		if s := m.Snapshot(); s.Samples != len(last) || s.Confirmed != confirmed {
			t.Fatalf("round %d outcome %d: samples %d confirmed %d, want %d %d", round, i,
				s.Samples, s.Confirmed, len(last), confirmed)
		}
	}
}

func TestNewValidation(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr string // substring; empty means valid
	}{
		{name: "zero config takes defaults"},
		{name: "threshold one without hysteresis", cfg: Config{Threshold: 1, Hysteresis: -1}},
		{name: "min samples equal to window", cfg: Config{Window: 5, MinSamples: 5}},
		{name: "negative window", cfg: Config{Window: -1}, wantErr: "window -1"},
		{name: "window over max", cfg: Config{Window: MaxWindow + 1}, wantErr: "window"},
		{name: "negative min samples", cfg: Config{MinSamples: -3}, wantErr: "min samples -3"},
		{
			name:    "default min samples over small window",
			cfg:     Config{Window: 10},
			wantErr: "min samples 20 over window 10",
		},
		{name: "threshold above one", cfg: Config{Threshold: 1.5}, wantErr: "threshold 1.5"},
		{name: "negative threshold", cfg: Config{Threshold: -0.1}, wantErr: "threshold -0.1"},
		{name: "NaN threshold", cfg: Config{Threshold: math.NaN()}, wantErr: "threshold NaN"},
		{name: "NaN hysteresis", cfg: Config{Hysteresis: math.NaN()}, wantErr: "hysteresis"},
		{
			name:    "threshold one with default hysteresis",
			cfg:     Config{Threshold: 1},
			wantErr: "never recover",
		},
		{
			name:    "threshold plus hysteresis over one",
			cfg:     Config{Threshold: 0.9, Hysteresis: 0.2},
			wantErr: "never recover",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := New(tt.cfg)
			if tt.wantErr == "" {
				if err != nil || m == nil {
					t.Fatalf("New(%+v) = %v, %v; want a monitor", tt.cfg, m, err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("New(%+v) error %v, want ErrInvalidConfig mentioning %q", tt.cfg,
					err, tt.wantErr)
			}
		})
	}
}

func TestDefaultsInSnapshot(t *testing.T) {
	s := newTestMonitor(t, Config{}).Snapshot()

	if s.Window != DefaultWindow || s.MinSamples != DefaultMinSamples ||
		s.Threshold != DefaultThreshold {
		t.Errorf("defaults: %+v", s)
	}
	if math.Abs(s.RecoverAt-(DefaultThreshold+DefaultHysteresis)) > 1e-12 {
		t.Errorf("recover at %v, want %v", s.RecoverAt, DefaultThreshold+DefaultHysteresis)
	}
	if s.Accuracy != nil || s.Degraded || s.DegradedSince != nil {
		t.Errorf("fresh monitor has a verdict: %+v", s)
	}
}

func BenchmarkRecord(b *testing.B) {
	m := newTestMonitor(b, Config{})
	outcomes := []Outcome{Confirmed, Confirmed, Dropped, Confirmed, Replaced, Conflicted}
	b.ReportAllocs()

	for i := 0; b.Loop(); i++ {
		m.Record(outcomes[i%len(outcomes)], testStart)
	}
}
