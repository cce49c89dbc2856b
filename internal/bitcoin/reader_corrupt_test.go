package bitcoin

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/whalecast/whalecast/internal/btcdtest"
)

// TestReaderCorrupt checks that every kind of damage ends the replay with a *FileError
// naming the file and the offset (or line) of the damaged item, after the items before it
// were delivered.
func TestReaderCorrupt(t *testing.T) {
	early := earlyBlocks(t, 3)
	var blocks, records [][]byte
	for _, blk := range early {
		raw := serializeBlock(t, blk)
		blocks = append(blocks, raw)
		records = append(records, blkRecord(mainnetMagic, raw))
	}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	size := func(parts ...[]byte) int64 { return int64(len(cat(parts...))) }
	lenRecord := func(length uint32, body []byte) []byte {
		rec := binary.LittleEndian.AppendUint32(append([]byte{}, mainnetMagic[:]...), length)
		return append(rec, body...)
	}
	notCoinbase := early[1].Copy()
	notCoinbase.Transactions[0] = NewSim(1).Next()

	bz2, err := os.ReadFile(btcdtest.Block277647(t))
	if err != nil {
		t.Fatalf("read bzip2 fixture: %v", err)
	}
	flipped := append([]byte{}, bz2...)
	flipped[len(flipped)/2] ^= 0x55

	txHex := fmt.Sprintf("%x", serializeTx(t, early[2].Transactions[0]))
	tests := []struct {
		name       string
		data       []byte
		wantErr    error  // nil: no package sentinel applies
		wantText   string // substring of the message after the file name
		wantOffset int64
		wantLine   int
		wantItems  int
	}{
		{name: "blk truncated record",
			data:    cat(records[0], records[1], records[2][:len(records[2])-10]),
			wantErr: ErrTruncated, wantOffset: size(records[0], records[1]), wantItems: 2},
		{name: "blk truncated record header",
			data:    cat(records[0], records[1][:6]),
			wantErr: ErrTruncated, wantOffset: size(records[0]), wantItems: 1},
		{name: "blk bad magic mid-file",
			data: cat(records[0], records[1], []byte{0x0b, 0x11, 0x09, 0x07},
				records[2][4:]),
			wantErr: ErrBadMagic, wantOffset: size(records[0], records[1]), wantItems: 2},
		{name: "blk absurd length",
			data:    cat(records[0], lenRecord(0xffffffff, blocks[1])),
			wantErr: ErrTooLarge, wantOffset: size(records[0]), wantItems: 1},
		{name: "blk length shorter than block",
			data:    cat(records[0], lenRecord(uint32(len(blocks[1])-1), blocks[1])),
			wantErr: ErrMalformed, wantOffset: size(records[0]), wantItems: 1},
		{name: "blk length longer than block",
			data: cat(records[0], lenRecord(uint32(len(blocks[1])+3), blocks[1]),
				[]byte{1, 2, 3}),
			wantErr: ErrMalformed, wantOffset: size(records[0]), wantItems: 1},
		{name: "blk data after zero padding",
			data:    cat(records[0], make([]byte, 100), []byte{7}, make([]byte, 50)),
			wantErr: ErrBadPadding, wantOffset: size(records[0]) + 100, wantItems: 1},
		{name: "raw truncated block",
			data:    cat(blocks[0], blocks[1], blocks[2][:100]),
			wantErr: ErrTruncated, wantOffset: size(blocks[0], blocks[1]), wantItems: 2},
		{name: "raw garbage after block",
			data:    cat(blocks[0], bytes.Repeat([]byte{0xff}, 200)),
			wantErr: ErrTooLarge, wantOffset: size(blocks[0]), wantItems: 1},
		{name: "raw first tx not a coinbase",
			data:    cat(blocks[0], serializeBlock(t, notCoinbase)),
			wantErr: ErrMalformed, wantText: "coinbase", wantOffset: size(blocks[0]),
			wantItems: 1},
		{name: "text garbage hex line",
			data:    []byte("# header\n" + txHex + "\nzz12\n" + txHex + "\n"),
			wantErr: ErrBadHex, wantOffset: int64(10 + len(txHex)), wantLine: 3,
			wantItems: 1},
		{name: "text odd length",
			data:    []byte(txHex + "\nabc\n"),
			wantErr: ErrBadHex, wantOffset: int64(len(txHex) + 1), wantLine: 2, wantItems: 1},
		{name: "text hex that is no block or tx",
			data:    []byte("\n\ndeadbeef\n"),
			wantErr: ErrNotBlockOrTx, wantOffset: 2, wantLine: 3},
		{name: "text tx with a trailing byte",
			data:    []byte(txHex + "00\n"),
			wantErr: ErrNotBlockOrTx, wantText: "trailing", wantLine: 1},
		{name: "text line over the cap",
			data:    cat([]byte("# big\n"), bytes.Repeat([]byte{'a'}, maxLineSize+1)),
			wantErr: ErrTooLarge, wantOffset: 6, wantLine: 2},
		{name: "bzip2 garbage",
			data:     cat([]byte("BZh9"), bytes.Repeat([]byte{0x42, 0x17}, 100)),
			wantText: "bzip2 data invalid"},
		{name: "bzip2 truncated",
			data:    bz2[:len(bz2)/2],
			wantErr: ErrTruncated},
		{name: "bzip2 corrupt byte",
			data: flipped},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeTemp(t, "corrupt.dat", tt.data)
			items, err := openAndReadAll(t, path)
			if err == nil {
				t.Fatalf("no error after %d items", len(items))
			}
			if len(items) != tt.wantItems {
				t.Errorf("items before the error: got %d, want %d", len(items), tt.wantItems)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("got %v, want it to wrap %v", err, tt.wantErr)
			}
			msg := err.Error()
			cause, named := strings.CutPrefix(msg, "bitcoin: read "+path+" at ")
			if !named || !strings.Contains(cause, tt.wantText) {
				t.Errorf("message %q: want it to name %s and contain %q", msg, path, tt.wantText)
			}
			var fe *FileError
			if !errors.As(err, &fe) {
				t.Fatalf("got %T %v, want a *FileError", err, err)
			}
			if fe.Path != path || fe.Offset != tt.wantOffset || fe.Line != tt.wantLine {
				t.Errorf("got path %s offset %d line %d, want %s %d %d",
					fe.Path, fe.Offset, fe.Line, path, tt.wantOffset, tt.wantLine)
			}
			where := fmt.Sprintf("at offset %d", tt.wantOffset)
			if tt.wantLine > 0 {
				where = fmt.Sprintf("at line %d", tt.wantLine)
			}
			if !strings.Contains(msg, where) {
				t.Errorf("message %q: want %q", msg, where)
			}
		})
	}
}

// openAndReadAll reads path to its end and returns the items and the first error,
// whether OpenFile or Next reported it. It also checks that errors are sticky.
func openAndReadAll(tb testing.TB, path string) ([]Item, error) {
	tb.Helper()
	r, err := OpenFile(path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	items, err := readAll(tb, r)
	if err != nil {
		if _, again := r.Next(); again != err {
			tb.Errorf("second Next: got %v, want the same error %v", again, err)
		}
	}
	return items, err
}
