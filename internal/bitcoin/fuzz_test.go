package bitcoin

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/whalecast/whalecast/internal/btcdtest"
)

// fuzzSeeds returns real files and known-bad inputs for the reader's fuzz corpus.
func fuzzSeeds(tb testing.TB) [][]byte {
	tb.Helper()
	early := earlyBlocks(tb, 2)
	rec0 := blkRecord(mainnetMagic, serializeBlock(tb, early[0]))
	rec1 := blkRecord(mainnetMagic, serializeBlock(tb, early[1]))
	seeds := [][]byte{
		append(append([]byte{}, rec0...), rec1...),
		append(append([]byte{}, rec0...), make([]byte, 64)...),
		serializeBlock(tb, early[1]),
		nil,
		[]byte("BZh9"),
		[]byte("BZh91AY&SY\x00\x00\x00\x00"),
		append(append([]byte{}, mainnetMagic[:]...), 0xff, 0xff, 0xff, 0xff),
		append(append([]byte{}, rec0...), 0x0b, 0x11, 0x09, 0x07, 1, 0, 0, 0),
		[]byte("# comment\n\nzz\n"),
		[]byte("00\n"),
		[]byte("0100000000\n"),
	}
	for _, path := range []string{
		btcdtest.Block277647(tb),
		filepath.Join("testdata", "sim-items.hex"),
		filepath.Join("testdata", "sim-items.hex.bz2"),
	} {
		data, err := os.ReadFile(path)
		if err != nil {
			tb.Fatalf("read seed: %v", err)
		}
		seeds = append(seeds, data)
	}
	return seeds
}

// FuzzReader feeds arbitrary files to the reader: it must never panic, must end, and every
// error other than io.EOF must be a *FileError naming the file.
func FuzzReader(f *testing.F) {
	for _, seed := range fuzzSeeds(f) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := NewReader(bytes.NewReader(data), "fuzz.dat")
		if err != nil {
			checkFuzzError(t, err)
			return
		}
		// Each item consumes at least one byte of the decompressed stream, which bzip2
		// can make far longer than data; the bound only catches a reader that stops
		// making progress.
		for range 1 << 20 {
			item, err := r.Next()
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				checkFuzzError(t, err)
				return
			}
			if (item.Block == nil) == (item.Tx == nil) {
				t.Fatalf("item at offset %d: want exactly one of Block and Tx", item.Offset)
			}
		}
		t.Fatal("reader did not finish")
	})
}

func checkFuzzError(t *testing.T, err error) {
	t.Helper()
	var fe *FileError
	if !errors.As(err, &fe) || !strings.HasPrefix(err.Error(), "bitcoin: read fuzz.dat at ") {
		t.Fatalf("got %T %v, want a *FileError naming fuzz.dat", err, err)
	}
}

// FuzzDecodeTx feeds arbitrary bytes to DecodeTx: it must never panic, and whatever it
// accepts must re-serialize to the same bytes and summarize without panicking.
func FuzzDecodeTx(f *testing.F) {
	blk := block277647(f)
	for _, tx := range blk.Transactions[:5] {
		f.Add(serializeTx(f, tx))
	}
	sim := NewSim(5)
	for range 5 {
		f.Add(sim.NextRaw())
	}
	for _, bad := range [][]byte{
		nil,
		{1, 0, 0, 0},
		{1, 0, 0, 0, 0x00, 0x02},
		{1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		{2, 0, 0, 0, 0x00, 0x01, 0x00, 0x00, 0, 0, 0, 0},
	} {
		f.Add(bad)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		tx, err := DecodeTx(raw)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "bitcoin: decode tx: ") {
				t.Fatalf("error without context: %v", err)
			}
			return
		}
		if got := serializeTx(t, tx); !bytes.Equal(got, raw) {
			t.Fatalf("accepted %x but re-serializes to %x", raw, got)
		}
		if s := Summarize(tx); s.VSize > int64(len(raw)) || s.ValueSat < 0 {
			t.Fatalf("summary %+v of a %d-byte tx", s, len(raw))
		}
	})
}
