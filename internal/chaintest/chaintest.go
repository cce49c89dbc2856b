// Package chaintest builds chains for lifecycle tests out of real mainnet data: block 277647
// from the btcd module (see internal/btcdtest), transactions that spend the same outputs as
// its real ones (replacements, double spends and re-signed variants), and competing blocks.
// Nothing here is valid by consensus (no proof of work, no signatures); the engine checks
// neither.
package chaintest

import (
	"bytes"
	"encoding/hex"
	"io"
	"testing"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/whalecast/whalecast/internal/bitcoin"
	"github.com/whalecast/whalecast/internal/btcdtest"
)

// Block277647 returns mainnet block 277647, its hash and its height.
func Block277647(tb testing.TB) (*wire.MsgBlock, chainhash.Hash, int64) {
	tb.Helper()
	r, err := bitcoin.OpenFile(btcdtest.Block277647(tb))
	if err != nil {
		tb.Fatal(err)
	}
	defer r.Close()
	item, err := r.Next()
	if err != nil || item.Block == nil {
		tb.Fatalf("read block 277647: %v", err)
	}
	height, ok := bitcoin.CoinbaseHeight(item.Block)
	if !ok {
		tb.Fatal("block 277647 states no height")
	}
	return item.Block, item.BlockHash, height
}

// Biggest returns the block's non-coinbase transaction with the largest total output.
func Biggest(b *wire.MsgBlock) *wire.MsgTx {
	var best *wire.MsgTx
	var bestSat int64
	for _, tx := range b.Transactions[1:] {
		if s := bitcoin.Summarize(tx); s.ValueSat > bestSat {
			best, bestSat = tx, s.ValueSat
		}
	}
	return best
}

// Spender returns a transaction spending the first input of tx to one new output: a
// replacement or a double spend of it. Different salts give different transactions.
func Spender(tx *wire.MsgTx, salt byte) *wire.MsgTx {
	out := wire.NewMsgTx(2)
	out.AddTxIn(&wire.TxIn{PreviousOutPoint: tx.TxIn[0].PreviousOutPoint,
		SignatureScript: []byte{salt}, Sequence: 0xfffffffd})
	out.AddTxOut(wire.NewTxOut(tx.TxOut[0].Value-1000, []byte{0x51, salt}))
	return out
}

// Variant returns a copy of tx with the same inputs and outputs whose first input script
// ends with salt: a new transaction of the same value (a fresh whale when tx is one), as if
// the same coins were signed again. Different salts give different transactions.
func Variant(tx *wire.MsgTx, salt byte) *wire.MsgTx {
	out := tx.Copy()
	in := out.TxIn[0]
	in.SignatureScript = append(in.SignatureScript, salt)
	return out
}

// BlockOn returns a block on top of prev at height (stated in its coinbase, BIP34) holding
// txs after the coinbase. salt tells apart blocks of the same parent and content.
func BlockOn(prev chainhash.Hash, height int64, salt uint32, txs ...*wire.MsgTx) (
	*wire.MsgBlock, chainhash.Hash) {
	cb := wire.NewMsgTx(2)
	cb.AddTxIn(&wire.TxIn{PreviousOutPoint: wire.OutPoint{Index: 0xffffffff},
		SignatureScript: []byte{3, byte(height), byte(height >> 8), byte(height >> 16)}})
	cb.AddTxOut(wire.NewTxOut(625_000_000, []byte{0x51}))
	b := wire.NewMsgBlock(wire.NewBlockHeader(2, &prev, &chainhash.Hash{}, 0, salt))
	b.Transactions = append([]*wire.MsgTx{cb}, txs...)
	return b, b.BlockHash()
}

// Without returns the block's non-coinbase transactions except drop.
func Without(b *wire.MsgBlock, drop *wire.MsgTx) []*wire.MsgTx {
	var out []*wire.MsgTx
	for _, tx := range b.Transactions[1:] {
		if tx != drop {
			out = append(out, tx)
		}
	}
	return out
}

// Hex returns the consensus serialization of a block or transaction in hex, one line of a
// replay text file.
func Hex(tb testing.TB, m interface{ Serialize(w io.Writer) error }) string {
	tb.Helper()
	var buf bytes.Buffer
	if err := m.Serialize(&buf); err != nil {
		tb.Fatal(err)
	}
	return hex.EncodeToString(buf.Bytes())
}
