package bitcoin

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/whalecast/whalecast/internal/btcdtest"
)

var mainnetMagic = [4]byte{0xf9, 0xbe, 0xb4, 0xd9}

// readAll drains r and returns its items and the error that ended it (nil for io.EOF).
func readAll(tb testing.TB, r *Reader) ([]Item, error) {
	tb.Helper()
	var items []Item
	for {
		item, err := r.Next()
		if errors.Is(err, io.EOF) {
			return items, nil
		}
		if err != nil {
			return items, err
		}
		if (item.Block == nil) == (item.Tx == nil) {
			tb.Fatalf("item at offset %d: want exactly one of Block and Tx", item.Offset)
		}
		items = append(items, item)
	}
}

// readFile opens path and returns all its items, failing tb on any error.
func readFile(tb testing.TB, path string) []Item {
	tb.Helper()
	r, err := OpenFile(path)
	if err != nil {
		tb.Fatalf("OpenFile: %v", err)
	}
	defer r.Close()
	items, err := readAll(tb, r)
	if err != nil {
		tb.Fatalf("read %s: %v", path, err)
	}
	return items
}

// earlyBlocks returns the first n blocks of btcd's blk_0_to_14131.dat.
func earlyBlocks(tb testing.TB, n int) []*wire.MsgBlock {
	tb.Helper()
	r, err := OpenFile(btcdtest.EarlyChain(tb))
	if err != nil {
		tb.Fatalf("OpenFile: %v", err)
	}
	defer r.Close()
	blocks := make([]*wire.MsgBlock, 0, n)
	for range n {
		item, err := r.Next()
		if err != nil {
			tb.Fatalf("early chain block %d: %v", len(blocks), err)
		}
		blocks = append(blocks, item.Block)
	}
	return blocks
}

// block277647 returns mainnet block 277647 from btcd's test data.
func block277647(tb testing.TB) *wire.MsgBlock {
	tb.Helper()
	items := readFile(tb, btcdtest.Block277647(tb))
	if len(items) != 1 || items[0].Block == nil {
		tb.Fatalf("277647.dat.bz2: got %d items, want one block", len(items))
	}
	return items[0].Block
}

func serializeBlock(tb testing.TB, blk *wire.MsgBlock) []byte {
	tb.Helper()
	var buf bytes.Buffer
	if err := blk.Serialize(&buf); err != nil {
		tb.Fatalf("serialize block: %v", err)
	}
	return buf.Bytes()
}

func serializeTx(tb testing.TB, tx *wire.MsgTx) []byte {
	tb.Helper()
	var buf bytes.Buffer
	if err := tx.Serialize(&buf); err != nil {
		tb.Fatalf("serialize tx: %v", err)
	}
	return buf.Bytes()
}

// blkRecord frames raw as one blk*.dat record.
func blkRecord(magic [4]byte, raw []byte) []byte {
	rec := append([]byte{}, magic[:]...)
	rec = binary.LittleEndian.AppendUint32(rec, uint32(len(raw)))
	return append(rec, raw...)
}

// writeTemp writes data to a new file named name in a per-test directory.
func writeTemp(tb testing.TB, name string, data []byte) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		tb.Fatalf("write %s: %v", path, err)
	}
	return path
}

// sha256Of hashes a string once.
func sha256Of(s string) [32]byte { return sha256.Sum256([]byte(s)) }

// merkleRoot computes a Bitcoin merkle root: pairs of hashes are concatenated and double
// SHA-256 hashed, the last hash of an odd level being paired with itself.
func merkleRoot(txids []chainhash.Hash) chainhash.Hash {
	level := slices.Clone(txids)
	for len(level) > 1 {
		if len(level)%2 == 1 {
			level = append(level, level[len(level)-1])
		}
		next := make([]chainhash.Hash, 0, len(level)/2)
		for i := 0; i < len(level); i += 2 {
			next = append(next, chainhash.DoubleHashH(append(level[i][:], level[i+1][:]...)))
		}
		level = next
	}
	return level[0]
}
