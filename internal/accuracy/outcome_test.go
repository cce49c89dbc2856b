package accuracy

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestOutcomeNames(t *testing.T) {
	tests := []struct {
		o    Outcome
		name string
	}{
		{Confirmed, "confirmed"},
		{Replaced, "replaced"},
		{Conflicted, "conflicted"},
		{Dropped, "dropped"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.o.String(); got != tt.name {
				t.Errorf("String() = %q, want %q", got, tt.name)
			}

			got, err := ParseOutcome(tt.name)
			if err != nil || got != tt.o {
				t.Errorf("ParseOutcome(%q) = %v, %v; want %v", tt.name, got, err, tt.o)
			}

			b, err := json.Marshal(tt.o)
			if err != nil || string(b) != `"`+tt.name+`"` {
				t.Errorf("json.Marshal = %s, %v", b, err)
			}
			var back Outcome
			if err := json.Unmarshal(b, &back); err != nil || back != tt.o {
				t.Errorf("json.Unmarshal(%s) = %v, %v", b, back, err)
			}
		})
	}
}

func TestParseOutcomeRejects(t *testing.T) {
	for _, s := range []string{"", "Confirmed", "mined", " confirmed", "outcome(1)"} {
		t.Run(s, func(t *testing.T) {
			if _, err := ParseOutcome(s); !errors.Is(err, ErrUnknownOutcome) {
				t.Errorf("ParseOutcome(%q) error %v, want ErrUnknownOutcome", s, err)
			}
		})
	}
}

func TestInvalidValuesPrint(t *testing.T) {
	tests := []struct {
		name string
		got  string
		want string
	}{
		{"zero outcome", Outcome(0).String(), "outcome(0)"},
		{"outcome past the last", Outcome(5).String(), "outcome(5)"},
		{"none", None.String(), "none"},
		{"degraded", Degraded.String(), "degraded"},
		{"recovered", Recovered.String(), "recovered"},
		{"unknown transition", Transition(9).String(), "transition(9)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %q, want %q", tt.got, tt.want)
			}
		})
	}
	if _, err := Outcome(0).MarshalText(); !errors.Is(err, ErrUnknownOutcome) {
		t.Errorf("MarshalText of zero outcome: %v, want ErrUnknownOutcome", err)
	}
}
