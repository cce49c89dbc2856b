package bitcoin

import (
	"bytes"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/wire/v2"

	"github.com/whalecast/whalecast/internal/btcdtest"
)

// itemKey is what TestReaderFormats compares of an item.
type itemKey struct {
	block  bool
	hash   string // block hash or txid
	offset int64
	line   int
}

func keyOf(item Item) itemKey {
	if item.Block != nil {
		return itemKey{true, item.BlockHash.String(), item.Offset, item.Line}
	}
	return itemKey{false, item.Tx.TxHash().String(), item.Offset, item.Line}
}

func blockKey(blk *wire.MsgBlock, offset int64) itemKey {
	return itemKey{true, blk.BlockHash().String(), offset, 0}
}

// shifted returns keys whose offsets are moved by n bytes.
func shifted(keys []itemKey, n int64) []itemKey {
	out := make([]itemKey, len(keys))
	for i, k := range keys {
		k.offset += n
		out[i] = k
	}
	return out
}

func TestReaderFormats(t *testing.T) {
	early := earlyBlocks(t, 3)
	big := block277647(t)
	tx1, tx2 := big.Transactions[1], big.Transactions[2]
	segwit := NewSim(3).Next()

	var raw []byte
	var rawWant []itemKey
	for _, blk := range append(early, big) {
		rawWant = append(rawWant, blockKey(blk, int64(len(raw))))
		raw = append(raw, serializeBlock(t, blk)...)
	}

	records := func(magic [4]byte, padding int) ([]byte, []itemKey) {
		var data []byte
		var want []itemKey
		for _, blk := range early {
			want = append(want, blockKey(blk, int64(len(data))))
			data = append(data, blkRecord(magic, serializeBlock(t, blk))...)
		}
		return append(data, make([]byte, padding)...), want
	}

	bigHex := hex.EncodeToString(serializeBlock(t, big))
	tx1Hex := hex.EncodeToString(serializeTx(t, tx1))
	tx2Hex := strings.ToUpper(hex.EncodeToString(serializeTx(t, tx2)))
	segwitHex := hex.EncodeToString(serializeTx(t, segwit))
	lines := []string{
		"# replay file",
		"",
		bigHex,
		tx1Hex + "\r",
		"  " + tx2Hex + "\t",
		"   # indented comment",
		segwitHex,
	}
	text := strings.Join(lines, "\n")
	lineOffset := func(n int) int64 { return int64(len(strings.Join(lines[:n-1], "\n")) + 1) }
	textWant := []itemKey{
		{true, big.BlockHash().String(), lineOffset(3), 3},
		{false, tx1.TxHash().String(), lineOffset(4), 4},
		{false, tx2.TxHash().String(), lineOffset(5), 5},
		{false, segwit.TxHash().String(), lineOffset(7), 7},
	}

	type testCase struct {
		name       string
		data       []byte
		path       string // used instead of data when set
		wantFormat string
		want       []itemKey
	}
	tests := []testCase{
		{name: "raw blocks", data: raw, wantFormat: "raw", want: rawWant},
		{name: "raw with zero padding", data: append(append([]byte{}, raw...),
			make([]byte, 3000)...), wantFormat: "raw", want: rawWant},
		{name: "text", data: []byte(text), wantFormat: "text", want: textWant},
		{name: "text with final newline", data: []byte(text + "\n"), wantFormat: "text",
			want: textWant},
		{name: "text with byte-order mark", data: []byte("\xef\xbb\xbf" + text),
			wantFormat: "text", want: shifted(textWant, 3)},
		{name: "text only comments", data: []byte("# nothing\n\n# here\n"),
			wantFormat: "text"},
		{name: "empty", data: nil, wantFormat: "empty"},
		{name: "bzip2 blk record", path: btcdtest.Block277647(t),
			wantFormat: "bzip2/blk/mainnet", want: []itemKey{blockKey(big, 0)}},
	}
	for _, n := range networks {
		data, want := records(n.magic, 0)
		tests = append(tests, testCase{name: "blk " + n.name, data: data,
			wantFormat: "blk/" + n.name, want: want})
	}
	data, want := records(mainnetMagic, 100_000)
	tests = append(tests, testCase{name: "blk with zero padding", data: data,
		wantFormat: "blk/mainnet", want: want})

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tt.path
			if path == "" {
				path = writeTemp(t, "replay", tt.data)
			}
			r, err := OpenFile(path)
			if err != nil {
				t.Fatalf("OpenFile: %v", err)
			}
			defer r.Close()
			if got := r.Format(); got != tt.wantFormat {
				t.Errorf("format: got %q, want %q", got, tt.wantFormat)
			}
			items, err := readAll(t, r)
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			if len(items) != len(tt.want) {
				t.Fatalf("items: got %d, want %d", len(items), len(tt.want))
			}
			for i, item := range items {
				if got := keyOf(item); got != tt.want[i] {
					t.Errorf("item %d: got %+v, want %+v", i, got, tt.want[i])
				}
			}
		})
	}
}

// TestCompressedTwins checks that each bzip2 file in testdata reads to the same items as
// its plain twin, and that the synthetic blocks are internally consistent.
func TestCompressedTwins(t *testing.T) {
	tests := []struct {
		name       string
		plain      string
		wantFormat string
		wantBlocks int
		wantTxs    int
	}{
		{"raw blocks", "sim-blocks.raw", "raw", 2, 0},
		{"text items", "sim-items.hex", "text", 1, 12},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plainPath := filepath.Join("testdata", tt.plain)
			plain := readFile(t, plainPath)
			compressed := readFile(t, plainPath+".bz2")
			if len(plain) != len(compressed) {
				t.Fatalf("items: plain %d, bzip2 %d", len(plain), len(compressed))
			}
			var blocks, txs int
			for i := range plain {
				if got, want := keyOf(compressed[i]), keyOf(plain[i]); got != want {
					t.Errorf("item %d: bzip2 %+v, plain %+v", i, got, want)
				}
				if blk := plain[i].Block; blk != nil {
					blocks++
					checkMerkleRoot(t, blk)
				} else {
					txs++
				}
			}
			if blocks != tt.wantBlocks || txs != tt.wantTxs {
				t.Errorf("got %d blocks and %d txs, want %d and %d",
					blocks, txs, tt.wantBlocks, tt.wantTxs)
			}
			checkFormat(t, plainPath, tt.wantFormat)
			checkFormat(t, plainPath+".bz2", "bzip2/"+tt.wantFormat)
		})
	}
}

func checkMerkleRoot(tb testing.TB, blk *wire.MsgBlock) {
	tb.Helper()
	txids, err := blk.TxHashes()
	if err != nil {
		tb.Fatalf("tx hashes: %v", err)
	}
	if got := merkleRoot(txids); got != blk.Header.MerkleRoot {
		tb.Errorf("block %s: merkle root %s, header %s", blk.BlockHash(), got,
			blk.Header.MerkleRoot)
	}
}

func checkFormat(tb testing.TB, path, want string) {
	tb.Helper()
	r, err := OpenFile(path)
	if err != nil {
		tb.Fatalf("OpenFile: %v", err)
	}
	defer r.Close()
	if got := r.Format(); got != want {
		tb.Errorf("%s: format %q, want %q", path, got, want)
	}
}

func TestReaderClose(t *testing.T) {
	r, err := OpenFile(filepath.Join("testdata", "sim-items.hex"))
	if err != nil {
		t.Fatalf("OpenFile: %v", err)
	}
	if _, err := r.Next(); err != nil {
		t.Fatalf("first Next: %v", err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := r.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := r.Next(); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Next after Close: got %v, want os.ErrClosed", err)
	}
}

func TestOpenFileMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "absent.dat")
	_, err := OpenFile(path)
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), path) {
		t.Errorf("got %v, want a not-exist error naming %s", err, path)
	}
}

func TestNewReaderName(t *testing.T) {
	r, err := NewReader(bytes.NewReader([]byte("zz\n")), "stdin")
	if err != nil {
		t.Fatalf("NewReader: %v", err)
	}
	_, err = r.Next()
	if want := "bitcoin: read stdin at line 1 (offset 0): "; err == nil ||
		!strings.HasPrefix(err.Error(), want) {
		t.Errorf("got %v, want prefix %q", err, want)
	}
}
