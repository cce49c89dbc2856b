package bitcoin

import (
	"bytes"
	"encoding/hex"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

func TestHeightScript(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		height int64
		want   string
	}{
		{"one byte", 1, "0101"},
		{"largest positive byte", 127, "017f"},
		{"top bit set gets a zero byte", 128, "028000"},
		{"two bytes", 0x1234, "023412"},
		{"block 277647", 277_647, "038f3c04"},
		{"the simulated chain's start", 900_000, "03a0bb0d"},
		{"three bytes, top bit set", 0x800000, "0400008000"},
		{"largest BIP34 height", 1<<31 - 1, "04ffffff7f"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := HeightScript(tt.height)
			if hex.EncodeToString(got) != tt.want {
				t.Fatalf("HeightScript(%d) = %x, want %s", tt.height, got, tt.want)
			}
			b := NewSimBlock(chainhash.Hash{}, tt.height, time.Unix(0, 0), nil)
			if h, ok := CoinbaseHeight(b); !ok || h != tt.height {
				t.Errorf("CoinbaseHeight of a block at %d = %d, %v; want %d, true",
					tt.height, h, ok, tt.height)
			}
		})
	}
}

// TestHeightScriptMatchesMainnet checks the push against a real coinbase's.
func TestHeightScriptMatchesMainnet(t *testing.T) {
	t.Parallel()
	blk := block277647(t)
	script := blk.Transactions[0].TxIn[0].SignatureScript
	if want := HeightScript(277_647); !bytes.HasPrefix(script, want) {
		t.Errorf("coinbase of block 277647 starts %x, want the push %x", script[:4], want)
	}
}

// TestMerkleRoot checks MerkleRoot against real headers: block 277647 (212 transactions),
// and early blocks of one or a few transactions.
func TestMerkleRoot(t *testing.T) {
	t.Parallel()
	blocks := append([]*wire.MsgBlock{block277647(t)}, earlyBlocks(t, 200)...)
	checked := 0
	for _, b := range blocks {
		if got := MerkleRoot(b.Transactions); got != b.Header.MerkleRoot {
			t.Fatalf("block %s: merkle root %s, want %s", b.BlockHash(), got,
				b.Header.MerkleRoot)
		}
		checked++
	}
	if got := MerkleRoot(nil); got != (chainhash.Hash{}) {
		t.Errorf("MerkleRoot(nil) = %s, want the zero hash", got)
	}
	if checked != 201 {
		t.Errorf("checked %d blocks, want 201", checked)
	}
}

func TestNewSimBlock(t *testing.T) {
	t.Parallel()
	sim := NewSim(5)
	txs := []*wire.MsgTx{sim.Next(), sim.Next(), sim.Next()}
	prev := chainhash.DoubleHashH([]byte("parent"))
	at := time.Date(2025, 6, 1, 0, 1, 0, 500, time.UTC)
	b := NewSimBlock(prev, 900_001, at, txs)

	if h, ok := CoinbaseHeight(b); !ok || h != 900_001 {
		t.Errorf("CoinbaseHeight = %d, %v; want 900001, true", h, ok)
	}
	if !IsCoinbase(b.Transactions[0]) || len(b.Transactions) != 4 {
		t.Fatalf("block holds %d transactions, coinbase first %v; want 4, true",
			len(b.Transactions), IsCoinbase(b.Transactions[0]))
	}
	for i, tx := range txs {
		if b.Transactions[i+1] != tx {
			t.Errorf("transaction %d is not the one given", i)
		}
	}
	if got := b.Transactions[0].TxOut[0].Value; got != simSubsidySat {
		t.Errorf("coinbase pays %d sat, want the subsidy %d", got, simSubsidySat)
	}
	h := b.Header
	if h.PrevBlock != prev || h.MerkleRoot != MerkleRoot(b.Transactions) ||
		!h.Timestamp.Equal(at.Truncate(time.Second)) {
		t.Errorf("header prev %s root %s time %v; want %s, the root, %v", h.PrevBlock,
			h.MerkleRoot, h.Timestamp, prev, at.Truncate(time.Second))
	}

	raw := serializeBlock(t, b)
	back, err := DecodeBlock(raw)
	if err != nil {
		t.Fatalf("DecodeBlock: %v", err)
	}
	if back.BlockHash() != b.BlockHash() {
		t.Errorf("decoded hash %s, want %s", back.BlockHash(), b.BlockHash())
	}
	if again := NewSimBlock(prev, 900_001, at, txs); again.BlockHash() != b.BlockHash() {
		t.Errorf("the same inputs give block %s, then %s", b.BlockHash(), again.BlockHash())
	}
}
