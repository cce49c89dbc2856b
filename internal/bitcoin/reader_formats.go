package bitcoin

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/btcsuite/btcd/wire/v2"
)

const (
	// maxLineSize caps one text line: the hex of MaxRecordSize bytes plus room for blanks.
	maxLineSize = 2*MaxRecordSize + 4096
	// utf8BOM is the byte-order mark some editors put at the start of a text file.
	utf8BOM = "\xef\xbb\xbf"
)

// nextRaw reads one block of a file of concatenated raw blocks.
func (r *Reader) nextRaw() (Item, error) {
	r.start = r.pos
	head, err := r.br.Peek(4)
	if len(head) == 0 {
		return Item{}, err
	}
	if allZero(head) {
		return Item{}, r.skipPadding()
	}

	f := framer{src: r.br, buf: r.buf[:0], limit: MaxRecordSize, overLimit: ErrTooLarge}
	err = f.block()
	r.buf = f.buf
	r.pos += int64(len(f.buf))
	if err != nil {
		return Item{}, fmt.Errorf("block: %w", err)
	}
	return blockItem(f.buf, r.start)
}

// nextBlk reads one record of a Bitcoin Core blk*.dat file: network magic, little-endian
// length, block.
func (r *Reader) nextBlk() (Item, error) {
	r.start = r.pos
	head, err := r.br.Peek(8)
	if len(head) == 0 {
		return Item{}, err
	}
	if allZero(head[:min(4, len(head))]) {
		return Item{}, r.skipPadding()
	}
	if len(head) < 8 {
		if err != io.EOF {
			return Item{}, err
		}
		return Item{}, fmt.Errorf("record header: want 8 bytes, got %d: %w",
			len(head), ErrTruncated)
	}
	if !bytes.Equal(head[:4], r.network.magic[:]) {
		return Item{}, fmt.Errorf("record magic %x, want %x (%s): %w",
			head[:4], r.network.magic, r.network.name, ErrBadMagic)
	}
	length := binary.LittleEndian.Uint32(head[4:8])
	if length > MaxRecordSize {
		return Item{}, fmt.Errorf("record length %d passes the %d-byte cap: %w",
			length, MaxRecordSize, ErrTooLarge)
	}
	if _, err := r.br.Discard(8); err != nil {
		return Item{}, err
	}
	r.pos += 8

	f := framer{src: r.br, buf: r.buf[:0], limit: int(length), overLimit: ErrMalformed}
	err = f.block()
	r.buf = f.buf
	r.pos += int64(len(f.buf))
	if err != nil {
		return Item{}, fmt.Errorf("block in %d-byte record: %w", length, err)
	}
	if len(f.buf) != int(length) {
		return Item{}, fmt.Errorf("record length %d but the block is %d bytes: %w",
			length, len(f.buf), ErrMalformed)
	}
	return blockItem(f.buf, r.start)
}

// skipPadding consumes the zero bytes that Bitcoin Core preallocates at the end of a blk
// file and returns io.EOF, or an error at the first non-zero byte.
func (r *Reader) skipPadding() error {
	chunk := slices.Grow(r.buf[:0], readBufferSize)[:readBufferSize]
	for {
		n, err := r.br.Read(chunk)
		for i, c := range chunk[:n] {
			if c != 0 {
				r.start = r.pos + int64(i)
				return fmt.Errorf("byte %#02x after zero padding: %w", c, ErrBadPadding)
			}
		}
		r.pos += int64(n)
		if err != nil {
			return err
		}
	}
}

// nextText reads the next non-blank, non-comment line of a hex text file.
func (r *Reader) nextText() (Item, error) {
	for {
		r.start = r.pos
		line, err := r.readLine()
		if err == io.EOF {
			return Item{}, io.EOF
		}
		r.line++
		if err != nil {
			return Item{}, err
		}
		if r.line == 1 {
			line = bytes.TrimPrefix(line, []byte(utf8BOM))
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		return r.decodeLine(line)
	}
}

// readLine returns the next line, newline included, or io.EOF when none is left.
func (r *Reader) readLine() ([]byte, error) {
	r.text = r.text[:0]
	for {
		chunk, err := r.br.ReadSlice('\n')
		r.pos += int64(len(chunk))
		if len(r.text)+len(chunk) > maxLineSize {
			return nil, fmt.Errorf("line longer than %d bytes: %w", maxLineSize, ErrTooLarge)
		}
		r.text = append(r.text, chunk...)
		switch {
		case err == nil:
			return r.text, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case err == io.EOF && len(r.text) > 0:
			return r.text, nil
		default:
			return nil, err
		}
	}
}

// decodeLine decodes a hex line as a block if it parses as one whose first transaction is
// a coinbase, and otherwise as a transaction.
func (r *Reader) decodeLine(line []byte) (Item, error) {
	if len(line)%2 != 0 {
		return Item{}, fmt.Errorf("%w: odd length %d", ErrBadHex, len(line))
	}
	raw := slices.Grow(r.buf[:0], len(line)/2)[:len(line)/2]
	r.buf = raw
	if _, err := hex.Decode(raw, line); err != nil {
		return Item{}, fmt.Errorf("%w: %v", ErrBadHex, err)
	}

	blk, blockErr := decodeBlockBytes(raw)
	if blockErr == nil {
		return Item{Block: blk, BlockHash: blk.BlockHash(), Offset: r.start, Line: r.line}, nil
	}
	tx, txErr := decodeTxBytes(raw)
	if txErr == nil {
		return Item{Tx: tx, Offset: r.start, Line: r.line}, nil
	}
	return Item{}, fmt.Errorf("%w: as a block: %v; as a transaction: %v",
		ErrNotBlockOrTx, blockErr, txErr)
}

// decodeBlockBytes decodes raw as exactly one block.
func decodeBlockBytes(raw []byte) (*wire.MsgBlock, error) {
	f := framer{src: bytes.NewReader(raw), limit: len(raw), overLimit: ErrTruncated}
	if err := f.block(); err != nil {
		return nil, err
	}
	if len(f.buf) != len(raw) {
		return nil, fmt.Errorf("%d bytes after a %d-byte block: %w",
			len(raw)-len(f.buf), len(f.buf), ErrTrailingBytes)
	}
	return decodeFramedBlock(raw)
}

// decodeFramedBlock runs the wire decoder on bytes the framer has delimited and checks
// that the first transaction is a coinbase, as in every real block.
func decodeFramedBlock(raw []byte) (*wire.MsgBlock, error) {
	blk := new(wire.MsgBlock)
	if err := blk.Deserialize(bytes.NewReader(raw)); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if !IsCoinbase(blk.Transactions[0]) {
		return nil, fmt.Errorf("first transaction is not a coinbase: %w", ErrMalformed)
	}
	return blk, nil
}

func blockItem(raw []byte, offset int64) (Item, error) {
	blk, err := decodeFramedBlock(raw)
	if err != nil {
		return Item{}, fmt.Errorf("block: %w", err)
	}
	return Item{Block: blk, BlockHash: blk.BlockHash(), Offset: offset}, nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
