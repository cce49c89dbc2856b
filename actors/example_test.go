package actors_test

import (
	"fmt"

	"github.com/btcsuite/btcd/wire/v2"

	"github.com/whalecast/whalecast/actors"
	"github.com/whalecast/whalecast/internal/bitcoin"
)

// BatchPayout is a new detector: an exchange paying many customers in one transaction.
type BatchPayout struct {
	MinOutputs int
	MinSat     int64
}

// Name implements actors.Rule.
func (BatchPayout) Name() string { return "batch_payout" }

// Match implements actors.Rule.
func (r BatchPayout) Match(tx actors.Transaction) bool {
	return tx.Summary.Outputs >= r.MinOutputs && tx.Summary.ValueSat >= r.MinSat
}

// ExampleRule adds batch_payout before large_value and names the alert of each transaction.
func ExampleRule() {
	reg := actors.BuiltinRegistry()
	reg.MustRegister("batch_payout", func(c actors.DetectorConfig) actors.Rule {
		return BatchPayout{MinOutputs: 50, MinSat: c.MinSat / 10}
	})
	rules, _ := reg.Build([]string{"batch_payout", "large_value"},
		actors.DetectorConfig{MinSat: 100 * 100_000_000})
	for _, p := range []struct{ outputs, sat int64 }{{60, 5e7}, {2, 6e9}, {60, 1e3}} {
		tx := wire.NewMsgTx(2)
		tx.AddTxIn(wire.NewTxIn(&wire.OutPoint{Index: 7}, nil, nil))
		for range p.outputs {
			tx.AddTxOut(wire.NewTxOut(p.sat, []byte{0x51}))
		}
		name, view := "no alert", actors.Transaction{Msg: tx, Summary: bitcoin.Summarize(tx)}
		if r, ok := actors.FirstMatch(rules, view); ok {
			name = r.Name()
		}
		fmt.Printf("%d outputs of %d sat: %s\n", p.outputs, p.sat, name)
	}
	// Output:
	// 60 outputs of 50000000 sat: batch_payout
	// 2 outputs of 6000000000 sat: large_value
	// 60 outputs of 1000 sat: no alert
}
