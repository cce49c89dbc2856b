package bitcoin

import (
	"bytes"
	"encoding/hex"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

var updateFixtures = flag.Bool("update-fixtures", false,
	"rewrite the plain files in testdata from the simulator (see testdata/README.md)")

// fixtureSeed is the simulator seed the testdata files were made with.
const fixtureSeed = 42

// simBlock wraps a coinbase and n simulated transactions in a synthetic block with a
// correct merkle root. It has no proof of work and no witness commitment.
func simBlock(s *Sim, prev chainhash.Hash, height uint32, n int) *wire.MsgBlock {
	coinbase := wire.NewMsgTx(1)
	coinbase.AddTxIn(&wire.TxIn{
		PreviousOutPoint: wire.OutPoint{Index: math.MaxUint32},
		SignatureScript:  []byte{0x03, byte(height), byte(height >> 8), byte(height >> 16)},
		Sequence:         wire.MaxTxInSequenceNum,
	})
	coinbase.AddTxOut(wire.NewTxOut(3_1250_0000, s.outputScript(outP2WPKH)))

	txs := []*wire.MsgTx{coinbase}
	for range n {
		txs = append(txs, s.Next())
	}
	txids := make([]chainhash.Hash, len(txs))
	for i, tx := range txs {
		txids[i] = tx.TxHash()
	}
	return &wire.MsgBlock{
		Header: wire.BlockHeader{
			Version:    0x20000000,
			PrevBlock:  prev,
			MerkleRoot: merkleRoot(txids),
			Timestamp:  time.Unix(1_713_571_200+600*int64(height-simStartHeight), 0),
			Bits:       0x17034219,
		},
		Transactions: txs,
	}
}

// TestFixturesMatchSimulator checks that testdata/sim-blocks.raw and testdata/sim-items.hex
// are what the simulator makes for fixtureSeed. With -update-fixtures it rewrites them
// instead; compress them afterwards as testdata/README.md says.
func TestFixturesMatchSimulator(t *testing.T) {
	raw, text := fixtureBytes(t)
	for _, f := range []struct {
		name string
		data []byte
	}{{"sim-blocks.raw", raw}, {"sim-items.hex", text}} {
		if *updateFixtures {
			writeFixture(t, f.name, f.data)
			continue
		}
		got, err := os.ReadFile(filepath.Join("testdata", f.name))
		if err != nil {
			t.Fatalf("read fixture: %v", err)
		}
		if !bytes.Equal(got, f.data) {
			t.Errorf("testdata/%s differs from what the simulator makes; if the simulator "+
				"changed on purpose, run with -update-fixtures", f.name)
		}
	}
}

// fixtureBytes makes the fixtures: two synthetic blocks, raw; and a text file of simulated
// transactions and one block in hex.
func fixtureBytes(t *testing.T) (raw, text []byte) {
	t.Helper()
	s := NewSim(fixtureSeed)
	prev := chainhash.Hash(sha256Of("whalecast synthetic fixture"))
	for i := range uint32(2) {
		blk := simBlock(s, prev, simStartHeight+i, 8)
		raw = append(raw, serializeBlock(t, blk)...)
		prev = blk.BlockHash()
	}

	var b strings.Builder
	fmt.Fprintf(&b, "# Simulated transactions (bitcoin.NewSim(%d)) and one synthetic block.\n",
		fixtureSeed)
	b.WriteString("\n")
	for range 12 {
		b.WriteString(hex.EncodeToString(s.NextRaw()) + "\n")
	}
	blk := simBlock(s, prev, simStartHeight+2, 3)
	b.WriteString(hex.EncodeToString(serializeBlock(t, blk)) + "\n")
	return raw, []byte(b.String())
}

func writeFixture(tb testing.TB, name string, data []byte) {
	tb.Helper()
	if err := os.WriteFile(filepath.Join("testdata", name), data, 0o644); err != nil {
		tb.Fatalf("write fixture: %v", err)
	}
}
