package bitcoin

import (
	"bytes"
	"fmt"
	"math"

	"github.com/btcsuite/btcd/wire/v2"
)

// rbfSequenceLimit is the BIP125 bound: an input whose nSequence is below it signals that
// the transaction may be replaced.
const rbfSequenceLimit = 0xfffffffe

// DecodeTx decodes one transaction in Bitcoin's consensus serialization, with or without
// BIP144 witness data (the bytes `getrawtransaction <txid>` returns, hex-decoded). raw must
// hold exactly one transaction: trailing bytes are an error wrapping ErrTrailingBytes, and
// data that ends early wraps ErrTruncated. Every count and length is checked against
// len(raw) before it is trusted, so a hostile count cannot make the decoder allocate
// memory for elements that are not there.
//
// As in Bitcoin Core, an input count of zero is read as the segwit marker, so a
// transaction with no inputs cannot be decoded in the legacy form.
func DecodeTx(raw []byte) (*wire.MsgTx, error) {
	tx, err := decodeTxBytes(raw)
	if err != nil {
		return nil, fmt.Errorf("bitcoin: decode tx: %w", err)
	}
	return tx, nil
}

// decodeTxBytes is DecodeTx without the package prefix on its errors.
func decodeTxBytes(raw []byte) (*wire.MsgTx, error) {
	if len(raw) == 0 {
		return nil, fmt.Errorf("empty input: %w", ErrTruncated)
	}
	f := framer{src: bytes.NewReader(raw), limit: len(raw), overLimit: ErrTruncated}
	if err := f.tx(); err != nil {
		return nil, err
	}
	if len(f.buf) != len(raw) {
		return nil, fmt.Errorf("%d bytes after a %d-byte transaction: %w",
			len(raw)-len(f.buf), len(f.buf), ErrTrailingBytes)
	}
	return decodeFramedTx(raw)
}

// decodeFramedTx runs the wire decoder on bytes the framer has already delimited.
func decodeFramedTx(raw []byte) (*wire.MsgTx, error) {
	tx := new(wire.MsgTx)
	if err := tx.Deserialize(bytes.NewReader(raw)); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return tx, nil
}

// TxSummary is what the engine needs to know about one transaction.
type TxSummary struct {
	// TxID is the transaction id in display order (byte-reversed double SHA-256 of the
	// transaction without witness data), as block explorers show it.
	TxID string
	// ValueSat is the sum of all output values in satoshis, change included. Negative
	// values (invalid in consensus, but decodable) count as zero, and the sum saturates at
	// math.MaxInt64 instead of wrapping.
	ValueSat int64
	// Outputs is the number of outputs.
	Outputs int
	// Inputs is the number of inputs.
	Inputs int
	// LargestOutputSat is the largest single output value in satoshis (negative as zero).
	LargestOutputSat int64
	// VSize is the virtual size in vbytes: ceil(weight/4), with weight = base*3 + total
	// (BIP141), base being the size without witness data and total the size with it.
	VSize int64
	// RBF reports a BIP125 replaceability signal: some input has nSequence < 0xfffffffe.
	// The rule is applied to every input as written, a coinbase's included.
	RBF bool
}

// Summarize computes the summary of tx, which must not be nil.
func Summarize(tx *wire.MsgTx) TxSummary {
	s := TxSummary{
		TxID:    tx.TxHash().String(),
		Outputs: len(tx.TxOut),
		Inputs:  len(tx.TxIn),
		VSize:   vsize(tx),
	}
	for _, out := range tx.TxOut {
		v := max(out.Value, 0)
		s.LargestOutputSat = max(s.LargestOutputSat, v)
		if s.ValueSat > math.MaxInt64-v {
			s.ValueSat = math.MaxInt64
		} else {
			s.ValueSat += v
		}
	}
	for _, in := range tx.TxIn {
		if in.Sequence < rbfSequenceLimit {
			s.RBF = true
			break
		}
	}
	return s
}

// vsize returns the BIP141 virtual size of tx in vbytes: ceil((base*3 + total) / 4).
func vsize(tx *wire.MsgTx) int64 {
	weight := int64(tx.SerializeSizeStripped())*3 + int64(tx.SerializeSize())
	return (weight + 3) / 4
}

// IsCoinbase reports whether tx is a coinbase: exactly one input, spending the null
// outpoint (all-zero hash, index 0xffffffff).
func IsCoinbase(tx *wire.MsgTx) bool {
	if len(tx.TxIn) != 1 {
		return false
	}
	prev := tx.TxIn[0].PreviousOutPoint
	return prev.Index == math.MaxUint32 && prev.Hash == [32]byte{}
}
