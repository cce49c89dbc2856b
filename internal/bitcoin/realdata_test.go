package bitcoin

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"testing"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/whalecast/whalecast/internal/btcdtest"
)

const whaleSat = 100 * satPerBTC

// independentTxID hashes the legacy serialization with crypto/sha256 and reverses it,
// without going through wire's TxHash.
func independentTxID(tb testing.TB, tx *wire.MsgTx) string {
	tb.Helper()
	var buf bytes.Buffer
	if err := tx.SerializeNoWitness(&buf); err != nil {
		tb.Fatalf("serialize: %v", err)
	}
	first := sha256.Sum256(buf.Bytes())
	id := sha256.Sum256(first[:])
	slices.Reverse(id[:])
	return hex.EncodeToString(id[:])
}

// TestBlock277647 checks the summary of mainnet block 277647 against facts known from
// block explorers, and proves the txid computation by recomputing the merkle root.
func TestBlock277647(t *testing.T) {
	path := btcdtest.Block277647(t)
	items := readFile(t, path)
	if len(items) != 1 {
		t.Fatalf("got %d items, want 1 block", len(items))
	}
	blk := items[0].Block
	if got, want := items[0].BlockHash.String(),
		"0000000000000000054a714e580b16c583701712ab91060e92dbde6eb1e052a8"; got != want {
		t.Errorf("block hash: got %s, want %s", got, want)
	}
	if got, want := len(blk.Transactions), 213; got != want {
		t.Fatalf("transactions: got %d, want %d", got, want)
	}

	var txids []chainhash.Hash
	var nonCoinbase int
	var whales []string
	var largest TxSummary
	for i, tx := range blk.Transactions {
		s := Summarize(tx)
		if want := independentTxID(t, tx); s.TxID != want {
			t.Fatalf("tx %d: Summarize TxID %s, independent hash %s", i, s.TxID, want)
		}
		id, err := chainhash.NewHashFromStr(s.TxID)
		if err != nil {
			t.Fatalf("tx %d: parse TxID %q: %v", i, s.TxID, err)
		}
		txids = append(txids, *id)
		if got, want := IsCoinbase(tx), i == 0; got != want {
			t.Errorf("tx %d: IsCoinbase %v, want %v", i, got, want)
		}
		if IsCoinbase(tx) {
			continue
		}
		nonCoinbase++
		if s.ValueSat >= whaleSat {
			whales = append(whales, s.TxID)
		}
		if s.ValueSat > largest.ValueSat {
			largest = s
		}
	}

	if got := merkleRoot(txids); got != blk.Header.MerkleRoot {
		t.Errorf("merkle root from txids: got %s, header says %s", got, blk.Header.MerkleRoot)
	}
	if nonCoinbase != 212 {
		t.Errorf("non-coinbase transactions: got %d, want 212", nonCoinbase)
	}
	wantWhales := []string{
		"d385205568e5420bc73b190ede001678730d42744d0716d2c5c2b6467cf73082",
		"5143ba5524d21b646de5cd5a1ab6ee7b7823a59c87a347d3b5339e9f977e7dcd",
		"712db987272743dd6e02bdd00fd8a0718bbfd04d13495a97eb70cdc42c010b1e",
	}
	if !slices.Equal(whales, wantWhales) {
		t.Errorf("txs of at least 100 BTC, in block order:\n got %q\nwant %q", whales, wantWhales)
	}
	if largest.TxID != wantWhales[1] || largest.ValueSat != 927*satPerBTC {
		t.Errorf("largest: got %s at %d sat, want %s at 927 BTC",
			largest.TxID, largest.ValueSat, wantWhales[1])
	}
}

// TestEarlyChain reads btcd's copy of mainnet blocks 0 to 14131 as Bitcoin Core wrote
// them, zero padding included.
func TestEarlyChain(t *testing.T) {
	items := readFile(t, btcdtest.EarlyChain(t))
	if got, want := len(items), 14132; got != want {
		t.Fatalf("blocks: got %d, want %d", got, want)
	}
	if got, want := items[0].BlockHash.String(),
		"000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f"; got != want {
		t.Errorf("genesis hash: got %s, want %s", got, want)
	}

	var nonCoinbase, at100, at1000 int
	var offset int64
	for i, item := range items {
		if item.Offset != offset {
			t.Fatalf("block %d: offset %d, want %d", i, item.Offset, offset)
		}
		offset += 8 + int64(item.Block.SerializeSize())
		if i > 0 && item.Block.Header.PrevBlock != items[i-1].BlockHash {
			t.Fatalf("block %d does not extend block %d", i, i-1)
		}
		for _, tx := range item.Block.Transactions[1:] {
			nonCoinbase++
			s := Summarize(tx)
			if s.ValueSat >= whaleSat {
				at100++
			}
			if s.ValueSat >= 1000*satPerBTC {
				at1000++
			}
		}
	}
	checks := []struct {
		name      string
		got, want int
	}{
		{"non-coinbase transactions", nonCoinbase, 115},
		{"at or above 100 BTC", at100, 66},
		{"at or above 1000 BTC", at1000, 15},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %d, want %d", c.name, c.got, c.want)
		}
	}
}
