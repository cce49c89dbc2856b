package bitcoin

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestDecodeBlock(t *testing.T) {
	t.Parallel()
	blk := block277647(t)
	raw := serializeBlock(t, blk)
	noCoinbase := blk.Copy()
	noCoinbase.Transactions = noCoinbase.Transactions[1:]
	tests := []struct {
		name    string
		raw     []byte
		wantErr error
	}{
		{"block 277647", raw, nil},
		{"early chain block 1", serializeBlock(t, earlyBlocks(t, 2)[1]), nil},
		{"empty", nil, ErrTruncated},
		{"header only", raw[:80], ErrTruncated},
		{"cut in a transaction", raw[:len(raw)-10], ErrTruncated},
		{"trailing byte", append(bytes.Clone(raw), 0), ErrTrailingBytes},
		{"first transaction not a coinbase", serializeBlock(t, noCoinbase), ErrMalformed},
		{"over the cap", make([]byte, MaxRecordSize+1), ErrTooLarge},
		{"a transaction", serializeTx(t, blk.Transactions[1]), ErrTruncated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := DecodeBlock(tt.raw)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("error %v, want one wrapping %v", err, tt.wantErr)
				}
				if !strings.HasPrefix(err.Error(), "bitcoin: decode block: ") {
					t.Errorf("error without context: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("DecodeBlock: %v", err)
			}
			if !bytes.Equal(serializeBlock(t, got), tt.raw) {
				t.Errorf("decoded block re-serializes to other bytes")
			}
		})
	}
}

// FuzzDecodeBlock feeds arbitrary bytes to DecodeBlock: it must never panic, and whatever
// it accepts must re-serialize to the same bytes.
func FuzzDecodeBlock(f *testing.F) {
	f.Add(serializeBlock(f, block277647(f)))
	for _, blk := range earlyBlocks(f, 3) {
		f.Add(serializeBlock(f, blk))
	}
	f.Add([]byte{})
	f.Add(make([]byte, 81))
	f.Fuzz(func(t *testing.T, raw []byte) {
		blk, err := DecodeBlock(raw)
		if err != nil {
			return
		}
		if got := serializeBlock(t, blk); !bytes.Equal(got, raw) {
			t.Fatalf("accepted %d bytes but re-serializes to %d other bytes", len(raw),
				len(got))
		}
	})
}
