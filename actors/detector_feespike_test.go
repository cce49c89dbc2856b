package actors_test

import (
	"testing"

	"github.com/whalecast/whalecast/actors"
	"github.com/whalecast/whalecast/internal/bitcoin"
)

// feeRun is a stretch of transactions all paying one fee rate; nil fees when rate is 0.
type feeRun struct {
	n    int
	rate float64
}

func TestFeeSpikeFiresOncePerEpisode(t *testing.T) {
	txs := block277647Txs(t)
	tests := []struct {
		name string
		runs []feeRun
		// want lists the indexes (across all runs) of the transactions that match.
		want []int
	}{
		{name: "steady fees never fire", runs: []feeRun{{6000, 10}}},
		{name: "no fees, no verdict", runs: []feeRun{{6000, 0}}},
		{name: "baseline not full yet", runs: []feeRun{{2000, 10}, {500, 50}}},
		{name: "a jump fires once, at the transaction that tips the median",
			runs: []feeRun{{5000, 10}, {1000, 40}}, want: []int{5100}},
		{name: "a jump below the factor does not fire",
			runs: []feeRun{{5000, 10}, {1000, 15}}},
		{name: "fees fall back, then a second episode fires again",
			runs: []feeRun{{5000, 10}, {300, 40}, {5000, 10}, {300, 60}},
			want: []int{5100, 10400}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rule := actors.NewFeeSpike(0, 0, 0)
			var got []int
			i := 0
			for _, run := range tt.runs {
				for range run.n {
					msg := txs[i%len(txs)]
					tx := actors.Transaction{Msg: msg, Summary: bitcoin.Summarize(msg)}
					if run.rate > 0 {
						vsize := tx.Summary.VSize
						tx.Fee = &actors.Fee{Sat: int64(run.rate * float64(vsize)), VSize: vsize}
					}
					rule.Observe(tx)
					if rule.Match(tx) {
						got = append(got, i)
					}
					i++
				}
			}
			if len(got) != len(tt.want) {
				t.Fatalf("matched at %v, want %v", got, tt.want)
			}
			for k := range got {
				if got[k] != tt.want[k] {
					t.Errorf("matched at %v, want %v", got, tt.want)
				}
			}
		})
	}
}
