package bitcoin

import (
	"errors"
	"fmt"
)

// Sentinel errors. Callers test for them with errors.Is; the wrapping error says where.
var (
	// ErrTruncated means the data ends inside a transaction, block or record.
	ErrTruncated = errors.New("bitcoin: truncated data")
	// ErrTrailingBytes means bytes follow a complete transaction or block where none may.
	ErrTrailingBytes = errors.New("bitcoin: trailing bytes")
	// ErrTooLarge means a length or count exceeds MaxRecordSize or the bytes available.
	ErrTooLarge = errors.New("bitcoin: length exceeds cap")
	// ErrMalformed means the bytes do not follow Bitcoin's serialization rules.
	ErrMalformed = errors.New("bitcoin: malformed data")
	// ErrBadMagic means a blk record starts with the wrong network magic.
	ErrBadMagic = errors.New("bitcoin: bad network magic")
	// ErrBadPadding means a non-zero byte follows the zero padding at the end of a file.
	ErrBadPadding = errors.New("bitcoin: data after zero padding")
	// ErrBadHex means a line of a text file is not valid hex.
	ErrBadHex = errors.New("bitcoin: bad hex")
	// ErrNotBlockOrTx means a text line decodes neither as a block nor as a transaction.
	ErrNotBlockOrTx = errors.New("bitcoin: neither a block nor a transaction")
	// ErrNoMatch means a path or glob given to ExpandPaths matches no file.
	ErrNoMatch = errors.New("bitcoin: no file matches")
)

// FileError reports where in a replay file reading failed. Offset counts bytes of the
// decompressed stream from its start; Line is the 1-based line number for text files and 0
// for binary ones.
type FileError struct {
	// Path is the file name given to OpenFile or NewReader.
	Path string
	// Offset is where the failing item (record, block, line) starts.
	Offset int64
	// Line is the failing line of a text file, or 0.
	Line int
	// Err is the cause; it wraps one of the sentinel errors where one applies.
	Err error
}

// Error names the file and the offset, or the line for text files.
func (e *FileError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("bitcoin: read %s at line %d (offset %d): %v",
			e.Path, e.Line, e.Offset, e.Err)
	}
	return fmt.Sprintf("bitcoin: read %s at offset %d: %v", e.Path, e.Offset, e.Err)
}

// Unwrap returns the cause.
func (e *FileError) Unwrap() error { return e.Err }
