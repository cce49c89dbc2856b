package bitcoin

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

const (
	// readBufferSize is the read-ahead of a Reader; memory use is this plus one item.
	readBufferSize = 64 << 10
	// sniffSize is how many leading bytes decide a file's format.
	sniffSize = 512
)

// network is a Bitcoin network as its blk files mark each record.
type network struct {
	name  string
	magic [4]byte
}

// networks lists the message-start bytes that Bitcoin Core writes before every block in
// its blk*.dat files.
var networks = []network{
	{"mainnet", [4]byte{0xf9, 0xbe, 0xb4, 0xd9}},
	{"testnet3", [4]byte{0x0b, 0x11, 0x09, 0x07}},
	{"testnet4", [4]byte{0x1c, 0x16, 0x3f, 0x28}},
	{"regtest", [4]byte{0xfa, 0xbf, 0xb5, 0xda}},
	{"signet", [4]byte{0x0a, 0x03, 0xcf, 0x40}},
}

// Item is one block or one standalone transaction read from a replay file. Exactly one of
// Block and Tx is set.
type Item struct {
	// Block is the decoded block, or nil for a transaction item.
	Block *wire.MsgBlock
	// BlockHash is the hash of Block's header; zero for a transaction item.
	BlockHash chainhash.Hash
	// Tx is the decoded transaction, or nil for a block item.
	Tx *wire.MsgTx
	// Offset is the byte offset in the decompressed stream where the item starts: the
	// network magic of a blk record, the first byte of a raw block, or the start of a line.
	Offset int64
	// Line is the 1-based line number of a text item, or 0 for binary formats.
	Line int
}

// Reader streams blocks and transactions out of one replay file. It holds the read-ahead
// buffer and the bytes of one item at a time, never the whole file. A Reader is not safe
// for concurrent use.
type Reader struct {
	path    string
	closer  io.Closer
	br      *bufio.Reader
	format  string
	network network
	next    func() (Item, error)
	textual bool

	pos   int64 // bytes consumed from the decompressed stream
	start int64 // where the current item began, for errors
	line  int   // lines consumed, for text files
	buf   []byte
	text  []byte
	err   error // sticky: io.EOF or a *FileError
}

// OpenFile opens path for replay and detects its format from its first bytes. The caller
// must Close the Reader. Errors name the file; a format problem found while sniffing is a
// *FileError at offset 0.
func OpenFile(path string) (*Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("bitcoin: open %s: %w", path, err)
	}
	r, err := NewReader(f, path)
	if err != nil {
		f.Close()
		return nil, err
	}
	r.closer = f
	return r, nil
}

// NewReader is OpenFile for an already open stream; name is used in error messages only.
// Close does not close src.
func NewReader(src io.Reader, name string) (*Reader, error) {
	r := &Reader{path: name, br: bufio.NewReaderSize(src, readBufferSize)}
	compressed := isBzip2(r.peekHead(4))
	if compressed {
		r.br = bufio.NewReaderSize(bzip2.NewReader(r.br), readBufferSize)
	}

	head, err := r.br.Peek(sniffSize)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, &FileError{Path: name, Err: fmt.Errorf("sniff format: %w", truncated(err))}
	}
	switch {
	case compressed && isBzip2(head):
		return nil, &FileError{Path: name,
			Err: fmt.Errorf("bzip2 inside bzip2 is not supported: %w", ErrMalformed)}
	case len(head) == 0:
		r.format, r.next = "empty", func() (Item, error) { return Item{}, io.EOF }
	case len(head) >= 4 && r.findNetwork(head[:4]):
		r.format, r.next = "blk/"+r.network.name, r.nextBlk
	case looksLikeText(head):
		r.format, r.next, r.textual = "text", r.nextText, true
	default:
		r.format, r.next = "raw", r.nextRaw
	}
	if compressed {
		r.format = "bzip2/" + r.format
	}
	return r, nil
}

// Format names the detected format: "raw", "blk/<network>", "text" or "empty", prefixed
// with "bzip2/" when the file is compressed. It is meant for logs.
func (r *Reader) Format() string { return r.format }

// Next returns the next item, or io.EOF after the last one. Any other error is a
// *FileError naming the file and the offset (or line) of the item that failed; after an
// error, Next keeps returning it.
func (r *Reader) Next() (Item, error) {
	if r.err != nil {
		return Item{}, r.err
	}
	item, err := r.next()
	if err == nil {
		return item, nil
	}
	if err == io.EOF {
		r.err = io.EOF
		return Item{}, io.EOF
	}
	fe := &FileError{Path: r.path, Offset: r.start, Err: truncated(err)}
	if r.textual {
		fe.Line = r.line
	}
	r.err = fe
	return Item{}, fe
}

// Close releases the file opened by OpenFile. Next fails after Close.
func (r *Reader) Close() error {
	if r.err == nil || errors.Is(r.err, io.EOF) {
		r.err = fmt.Errorf("bitcoin: read %s: %w", r.path, os.ErrClosed)
	}
	if r.closer == nil {
		return nil
	}
	c := r.closer
	r.closer = nil
	if err := c.Close(); err != nil {
		return fmt.Errorf("bitcoin: close %s: %w", r.path, err)
	}
	return nil
}

// truncated marks a stream that ended early (a cut bzip2 file) with ErrTruncated.
func truncated(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, ErrTruncated) {
		return fmt.Errorf("%w: %w", ErrTruncated, err)
	}
	return err
}

func (r *Reader) peekHead(n int) []byte {
	head, _ := r.br.Peek(n)
	return head
}

func (r *Reader) findNetwork(magic []byte) bool {
	for _, n := range networks {
		if bytes.Equal(magic, n.magic[:]) {
			r.network = n
			return true
		}
	}
	return false
}

func isBzip2(head []byte) bool {
	return len(head) >= 4 && string(head[:3]) == "BZh" && head[3] >= '1' && head[3] <= '9'
}

// looksLikeText reports whether the first bytes of a stream are those of a text file: no
// control byte other than tab, CR and LF. Every raw block fails the test, since the null
// outpoint of its coinbase (32 zero bytes) lies within its first 130 bytes.
func looksLikeText(head []byte) bool {
	for _, c := range head {
		if c < 0x20 && c != '\t' && c != '\r' && c != '\n' || c == 0x7f {
			return false
		}
	}
	return true
}
