package actors_test

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/wire/v2"

	"github.com/whalecast/whalecast/actors"
	"github.com/whalecast/whalecast/internal/alert"
	"github.com/whalecast/whalecast/internal/bitcoin"
)

const btc = alert.SatPerBTC

// defaultDetectorConfig is the engine's default thresholds: 100 BTC, 100 BTC, and
// consolidations of 20 inputs or more into 2 outputs or fewer, of 10 BTC or more.
var defaultDetectorConfig = actors.DetectorConfig{MinSat: 100 * btc, LargeOutputSat: 100 * btc,
	ConsolidationMinSat: 10 * btc}

// ruleNamed builds the one built-in rule called name.
func ruleNamed(tb testing.TB, name string, cfg actors.DetectorConfig) actors.Rule {
	tb.Helper()
	rules, err := actors.BuiltinRegistry().Build([]string{name}, cfg)
	if err != nil || len(rules) != 1 {
		tb.Fatalf("build %s: %v rules, %v", name, len(rules), err)
	}
	return rules[0]
}

// view is the Transaction the detector hands its rules.
func view(tx *wire.MsgTx) actors.Transaction {
	return actors.Transaction{Msg: tx, Summary: bitcoin.Summarize(tx)}
}

// isRound tells a multiple of 0.001 BTC by printing the amount, not by arithmetic.
func isRound(sat int64) bool {
	s := strconv.FormatFloat(float64(sat)/btc, 'f', -1, 64)
	_, frac, _ := strings.Cut(s, ".")
	return len(frac) <= 3
}

// independent decides each built-in rule from the outputs directly, without the summary
// or the rule code, so that a test compares two computations.
func independent(name string, tx *wire.MsgTx, cfg actors.DetectorConfig) bool {
	var values []int64
	total := int64(0)
	for _, out := range tx.TxOut {
		values = append(values, out.Value)
		total += out.Value
	}
	switch name {
	case "large_value":
		return total >= cfg.MinSat
	case "large_output":
		return slices.Max(values) >= cfg.LargeOutputSat
	case "value_moved":
		moved := total
		if len(values) >= 2 {
			var odd []int64
			for _, v := range values {
				if !isRound(v) {
					odd = append(odd, v)
				}
			}
			if len(odd) == 1 {
				moved -= odd[0]
			} else {
				moved -= slices.Min(values)
			}
		}
		return moved >= cfg.MinSat
	case "consolidation":
		return len(tx.TxIn) >= 20 && len(tx.TxOut) <= 2 && total >= cfg.ConsolidationMinSat
	}
	panic("no independent computation for " + name)
}

func TestRulesOnRealBlocks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		rule  string
		chain bool
		want  int
		ids   []string
	}{
		{"large_value", false, 3, []string{
			"d385205568e5420bc73b190ede001678730d42744d0716d2c5c2b6467cf73082",
			"5143ba5524d21b646de5cd5a1ab6ee7b7823a59c87a347d3b5339e9f977e7dcd",
			"712db987272743dd6e02bdd00fd8a0718bbfd04d13495a97eb70cdc42c010b1e"}},
		{"large_output", false, 3, []string{
			"d385205568e5420bc73b190ede001678730d42744d0716d2c5c2b6467cf73082",
			"5143ba5524d21b646de5cd5a1ab6ee7b7823a59c87a347d3b5339e9f977e7dcd",
			"712db987272743dd6e02bdd00fd8a0718bbfd04d13495a97eb70cdc42c010b1e"}},
		{"value_moved", false, 2, []string{
			"d385205568e5420bc73b190ede001678730d42744d0716d2c5c2b6467cf73082",
			"5143ba5524d21b646de5cd5a1ab6ee7b7823a59c87a347d3b5339e9f977e7dcd"}},
		{"consolidation", false, 2, []string{
			"d385205568e5420bc73b190ede001678730d42744d0716d2c5c2b6467cf73082",
			"3a266953259bf98f8ad2740683d132b5c5031ffa17ae7a7ad4f01defaeb6c394"}},
		{"large_value", true, 66, nil},
		{"large_output", true, 66, nil},
		{"value_moved", true, 66, nil},
		{"consolidation", true, 13, nil},
	}
	for _, tt := range tests {
		name := tt.rule + " block 277647"
		if tt.chain {
			name = tt.rule + " early chain"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			txs := block277647Txs(t)
			if tt.chain {
				txs = earlyChainTxs(t)
			}
			rule := ruleNamed(t, tt.rule, defaultDetectorConfig)
			var got []string
			for _, tx := range txs {
				match := rule.Match(view(tx))
				if want := independent(tt.rule, tx, defaultDetectorConfig); match != want {
					t.Errorf("%s: rule says %v, independent computation %v", tx.TxHash(),
						match, want)
				}
				if match {
					got = append(got, tx.TxHash().String())
				}
			}
			if len(got) != tt.want {
				t.Errorf("got %d matches, want %d", len(got), tt.want)
			}
			if tt.ids != nil && !slices.Equal(got, tt.ids) {
				t.Errorf("got %v, want %v", got, tt.ids)
			}
		})
	}
}

// handTx builds a transaction with inputs inputs and one output per value.
func handTx(inputs int, values ...int64) *wire.MsgTx {
	tx := wire.NewMsgTx(2)
	for i := range inputs {
		prev := wire.OutPoint{Index: uint32(i)}
		prev.Hash[0] = 1
		tx.AddTxIn(wire.NewTxIn(&prev, nil, nil))
	}
	for _, v := range values {
		tx.AddTxOut(wire.NewTxOut(v, []byte{0x51}))
	}
	return tx
}

func TestRuleThresholds(t *testing.T) {
	t.Parallel()
	cfg := defaultDetectorConfig
	tests := []struct {
		rule string
		name string
		tx   *wire.MsgTx
		want bool
	}{
		{"large_value", "total exactly at the threshold", handTx(1, 60*btc, 40*btc), true},
		{"large_value", "one satoshi short", handTx(1, 60*btc, 40*btc-1), false},
		{"large_value", "negative output counts as zero", handTx(1, 100*btc, -5), true},
		{"large_value", "no outputs", handTx(1), false},
		{"large_output", "one output at the threshold", handTx(1, 100*btc, 1), true},
		{"large_output", "split below the threshold", handTx(1, 99*btc, 99*btc), false},
		{"large_output", "largest one satoshi short", handTx(1, 100*btc-1), false},
		{"value_moved", "single output moves everything", handTx(1, 100*btc), true},
		{"value_moved", "odd change excluded", handTx(1, 100*btc, 500*btc+1), true},
		{"value_moved", "odd change excluded, short", handTx(1, 100*btc-100_000, 500*btc+1),
			false},
		{"value_moved", "no odd output: smallest is change", handTx(1, 100*btc, 100*btc),
			true},
		{"value_moved", "smallest is change, short", handTx(1, 60*btc, 50*btc), false},
		{"value_moved", "two odd outputs: smallest is change",
			handTx(1, 99*btc+1, 1*btc+1, 1*btc+3), true},
		{"value_moved", "no outputs", handTx(1), false},
		{"consolidation", "20 inputs into 2 outputs at 10 BTC", handTx(20, 9*btc, 1*btc), true},
		{"consolidation", "19 inputs", handTx(19, 10*btc), false},
		{"consolidation", "3 outputs", handTx(20, 8*btc, 1*btc, 1*btc), false},
		{"consolidation", "one satoshi short", handTx(25, 10*btc-1), false},
	}
	for _, tt := range tests {
		t.Run(tt.rule+" "+tt.name, func(t *testing.T) {
			t.Parallel()
			rule := ruleNamed(t, tt.rule, cfg)
			if got := rule.Match(view(tt.tx)); got != tt.want {
				t.Errorf("Match = %v, want %v", got, tt.want)
			}
			if got := independent(tt.rule, tt.tx, cfg); got != tt.want &&
				!slices.ContainsFunc(tt.tx.TxOut, func(o *wire.TxOut) bool { return o.Value < 0 }) {
				t.Errorf("independent computation = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestLikelyChange(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		values []int64
		want   int
	}{
		{"one output has no change", []int64{5 * btc}, -1},
		{"no outputs", nil, -1},
		{"the one odd amount", []int64{3 * btc, 7*btc + 12_345}, 1},
		{"all round: the smallest", []int64{3 * btc, 2 * btc, 7 * btc}, 1},
		{"all odd: the smallest", []int64{3*btc + 1, 2*btc + 1}, 1},
		{"equal smallest: the first", []int64{2 * btc, 2 * btc}, 0},
		{"0.001 BTC is round", []int64{100_000, 5*btc + 7}, 1},
		{"a negative value is the smallest", []int64{1 * btc, -1}, 1},
		{"huge outputs do not overflow", []int64{math.MaxInt64, math.MaxInt64 - 1}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := actors.LikelyChange(handTx(1, tt.values...)); got != tt.want {
				t.Errorf("LikelyChange(%v) = %d, want %d", tt.values, got, tt.want)
			}
		})
	}
}

func TestRegistryBuild(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		enabled []string
		want    string
		wantErr bool
	}{
		{"priority order whatever the flag order",
			[]string{"large_value", "consolidation", "large_output", "value_moved"},
			"[consolidation value_moved large_output large_value]", false},
		{"a repeated name counts once", []string{"large_value", "large_value"},
			"[large_value]", false},
		{"nothing enabled", nil, "[]", false},
		{"unknown name", []string{"large_value", "tx_storm"}, "", true},
		{"wrong case", []string{"Large_Value"}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rules, err := actors.BuiltinRegistry().Build(tt.enabled, defaultDetectorConfig)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("Build(%v) = %d rules, want an error", tt.enabled, len(rules))
				}
				return
			}
			if err != nil {
				t.Fatalf("Build(%v): %v", tt.enabled, err)
			}
			names := []string{}
			for _, r := range rules {
				names = append(names, r.Name())
			}
			if got := fmt.Sprint(names); got != tt.want {
				t.Errorf("Build(%v) = %s, want %s", tt.enabled, got, tt.want)
			}
		})
	}
}

func TestRegistryRegister(t *testing.T) {
	t.Parallel()
	f := func(actors.DetectorConfig) actors.Rule { return actors.LargeValue{} }
	tests := []struct {
		name    string
		rule    string
		factory actors.RuleFactory
		wantErr bool
	}{
		{"new name", "dust_storm", f, false},
		{"taken name", "large_value", f, true},
		{"empty name", "", f, true},
		{"uppercase", "Dust", f, true},
		{"too long", strings.Repeat("a", actors.MaxDetectorName+1), f, true},
		{"nil factory", "nil_factory", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := actors.BuiltinRegistry()
			err := r.Register(tt.rule, tt.factory)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Register(%q) = %v, want error %v", tt.rule, err, tt.wantErr)
			}
			if !tt.wantErr && r.Names()[len(r.Names())-1] != tt.rule {
				t.Errorf("Names() = %v, want %s last", r.Names(), tt.rule)
			}
		})
	}
}
