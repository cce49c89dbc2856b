package chaintest

import (
	"reflect"
	"testing"

	"github.com/btcsuite/btcd/chainhash/v2"
)

func TestVariant(t *testing.T) {
	block, _, _ := Block277647(t)
	tx := Biggest(block)
	txid := tx.TxHash()
	seen := map[chainhash.Hash]bool{txid: true}

	tests := []struct {
		name string
		salt byte
	}{{"salt 0", 0}, {"salt 1", 1}, {"salt 255", 255}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := Variant(tx, tt.salt)

			if got := v.TxHash(); seen[got] {
				t.Errorf("txid %s, want a new one", got)
			}
			seen[v.TxHash()] = true
			if !reflect.DeepEqual(v.TxOut, tx.TxOut) {
				t.Errorf("outputs differ from the original's")
			}
			for i, in := range v.TxIn {
				if in.PreviousOutPoint != tx.TxIn[i].PreviousOutPoint {
					t.Errorf("input %d spends %v, want %v", i, in.PreviousOutPoint,
						tx.TxIn[i].PreviousOutPoint)
				}
			}
		})
	}
	if tx.TxHash() != txid {
		t.Errorf("the original changed: txid %s, want %s", tx.TxHash(), txid)
	}
}
