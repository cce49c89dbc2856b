package bitcoin

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
)

// MaxRecordSize caps the bytes of one block, one blk record or one hex-decoded text line:
// 8 MiB, twice the largest block that BIP141 weight rules allow (4 MB with witness). A
// corrupt length above it fails before anything of that size is allocated.
const MaxRecordSize = 8 << 20

// Smallest serialized sizes, used to reject counts that cannot fit in the bytes left.
const (
	headerSize   = 80
	minTxInSize  = 41 // outpoint 36, script length 1, sequence 4
	minTxOutSize = 9  // value 8, script length 1
	minTxSize    = 60 // version 4, two counts, one minimal input and output, lock time 4
)

// framer copies one serialized transaction or block from src into buf while walking its
// structure. Every length and count is checked against the bytes still allowed by limit
// before it is trusted, so a corrupt count fails early instead of allocating gigabytes
// inside the wire decoder. The framed bytes are then handed to wire for the real decode.
type framer struct {
	src   io.Reader
	buf   []byte
	limit int
	// overLimit is the sentinel returned when a length passes limit: ErrTooLarge when
	// limit is the cap of a stream, ErrTruncated when it is the size of known data.
	overLimit error
}

func (f *framer) left() int { return f.limit - len(f.buf) }

// take appends the next n bytes of src to buf.
func (f *framer) take(n uint64, what string) error {
	if n > uint64(f.left()) {
		return fmt.Errorf("%s: need %d bytes, %d left: %w", what, n, f.left(), f.overLimit)
	}
	start := len(f.buf)
	f.buf = slices.Grow(f.buf, int(n))[:start+int(n)]
	got, err := io.ReadFull(f.src, f.buf[start:])
	if err != nil {
		f.buf = f.buf[:start+got]
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("%s: need %d bytes, data ends after %d: %w",
				what, n, got, ErrTruncated)
		}
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// varint reads a CompactSize integer. Non-canonical encodings pass here and are rejected
// by the wire decoder afterwards.
func (f *framer) varint(what string) (uint64, error) {
	if err := f.take(1, what); err != nil {
		return 0, err
	}
	var size int
	switch f.buf[len(f.buf)-1] {
	case 0xfd:
		size = 2
	case 0xfe:
		size = 4
	case 0xff:
		size = 8
	default:
		return uint64(f.buf[len(f.buf)-1]), nil
	}
	if err := f.take(uint64(size), what); err != nil {
		return 0, err
	}
	var le [8]byte
	copy(le[:], f.buf[len(f.buf)-size:])
	return binary.LittleEndian.Uint64(le[:]), nil
}

// count reads a CompactSize count of elements that each take at least minSize bytes.
func (f *framer) count(what string, minSize int) (uint64, error) {
	n, err := f.varint(what)
	if err != nil {
		return 0, err
	}
	if n > uint64(f.left()/minSize) {
		return 0, fmt.Errorf("%s %d cannot fit in the %d bytes left: %w",
			what, n, f.left(), f.overLimit)
	}
	return n, nil
}

// bytesField reads a CompactSize length and that many bytes.
func (f *framer) bytesField(what string) error {
	n, err := f.varint(what + " length")
	if err != nil {
		return err
	}
	return f.take(n, what)
}

// tx frames one transaction in the BIP144 witness-aware serialization.
func (f *framer) tx() error {
	if err := f.take(4, "version"); err != nil {
		return err
	}
	inputs, err := f.varint("input count")
	if err != nil {
		return err
	}
	witness := inputs == 0
	if witness {
		if err := f.take(1, "segwit flag"); err != nil {
			return err
		}
		if flag := f.buf[len(f.buf)-1]; flag != 0x01 {
			return fmt.Errorf("segwit flag %#02x, want 0x01: %w", flag, ErrMalformed)
		}
		if inputs, err = f.varint("input count"); err != nil {
			return err
		}
	}
	if inputs > uint64(f.left()/minTxInSize) {
		return fmt.Errorf("input count %d cannot fit in the %d bytes left: %w",
			inputs, f.left(), f.overLimit)
	}

	for i := range inputs {
		if err := f.txIn(); err != nil {
			return fmt.Errorf("input %d: %w", i, err)
		}
	}

	outputs, err := f.count("output count", minTxOutSize)
	if err != nil {
		return err
	}
	for i := range outputs {
		if err := f.take(8, "value"); err != nil {
			return fmt.Errorf("output %d: %w", i, err)
		}
		if err := f.bytesField("script"); err != nil {
			return fmt.Errorf("output %d: %w", i, err)
		}
	}

	if witness {
		for i := range inputs {
			if err := f.witness(); err != nil {
				return fmt.Errorf("witness %d: %w", i, err)
			}
		}
	}
	return f.take(4, "lock time")
}

func (f *framer) txIn() error {
	if err := f.take(36, "outpoint"); err != nil {
		return err
	}
	if err := f.bytesField("script"); err != nil {
		return err
	}
	return f.take(4, "sequence")
}

func (f *framer) witness() error {
	items, err := f.count("item count", 1)
	if err != nil {
		return err
	}
	for j := range items {
		if err := f.bytesField("item"); err != nil {
			return fmt.Errorf("item %d: %w", j, err)
		}
	}
	return nil
}

// block frames one block: an 80-byte header, a transaction count and the transactions.
func (f *framer) block() error {
	if err := f.take(headerSize, "header"); err != nil {
		return err
	}
	txs, err := f.count("transaction count", minTxSize)
	if err != nil {
		return err
	}
	if txs == 0 {
		return fmt.Errorf("block has no transactions: %w", ErrMalformed)
	}
	for i := range txs {
		if err := f.tx(); err != nil {
			return fmt.Errorf("transaction %d: %w", i, err)
		}
	}
	return nil
}
