package bitcoin

import (
	"bytes"
	"errors"
	"math"
	"testing"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

// p2wpkhTx builds a one-input, two-output P2WPKH transaction with a 72-byte signature:
// 113 bytes without witness, 223 with it, so weight 562 and vsize 141.
func p2wpkhTx(sequence uint32, values ...int64) *wire.MsgTx {
	tx := wire.NewMsgTx(2)
	tx.AddTxIn(&wire.TxIn{
		PreviousOutPoint: wire.OutPoint{Hash: chainhash.Hash{1}, Index: 0},
		Witness:          wire.TxWitness{bytes.Repeat([]byte{0x30}, 72), make([]byte, 33)},
		Sequence:         sequence,
	})
	for _, v := range values {
		tx.AddTxOut(wire.NewTxOut(v, append([]byte{0x00, 0x14}, make([]byte, 20)...)))
	}
	return tx
}

// legacyTx is p2wpkhTx with the witness moved into a P2PKH-like signature script:
// 189 bytes, so vsize 189. A one-output p2wpkhTx is 82 bytes base, 192 total: vsize 110.
func legacyTx(values ...int64) *wire.MsgTx {
	tx := p2wpkhTx(wire.MaxTxInSequenceNum, values...)
	in := tx.TxIn[0]
	in.SignatureScript = append(push(in.Witness[0]), push(in.Witness[1])...)
	in.Witness = nil
	return tx
}

func TestDecodeTx(t *testing.T) {
	segwit := serializeTx(t, p2wpkhTx(wire.MaxTxInSequenceNum, 5000, 7000))
	legacy := serializeTx(t, legacyTx(5000))
	superfluous := serializeTx(t, legacyTx(5000))
	superfluous = append(append(append([]byte{}, superfluous[:4]...), 0x00, 0x01),
		superfluous[4:len(superfluous)-4]...)
	superfluous = append(superfluous, 0x00, 0, 0, 0, 0) // empty witness, lock time

	tests := []struct {
		name    string
		raw     []byte
		wantErr error // nil: must decode and re-serialize to raw
	}{
		{"segwit", segwit, nil},
		{"legacy", legacy, nil},
		{"empty", nil, ErrTruncated},
		{"version only", legacy[:4], ErrTruncated},
		{"cut in output", legacy[:len(legacy)-10], ErrTruncated},
		{"cut in witness", segwit[:len(segwit)-40], ErrTruncated},
		{"trailing byte", append(append([]byte{}, legacy...), 0x00), ErrTrailingBytes},
		{"bad segwit flag", append([]byte{2, 0, 0, 0, 0x00, 0x02}, segwit[6:]...), ErrMalformed},
		{"input count beyond data", []byte{1, 0, 0, 0, 0xfe, 0xff, 0xff, 0xff, 0x0f},
			ErrTruncated},
		{"script length beyond data", append(append([]byte{}, legacy[:41]...),
			0xfe, 0xff, 0xff, 0xff, 0xff), ErrTruncated},
		{"witness flag without witness", superfluous, ErrMalformed},
		{"non-canonical output count", append(append(append([]byte{}, legacy[:5+41+107]...),
			0xfd, 0x01, 0x00), legacy[5+41+107+1:]...), ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tx, err := DecodeTx(tt.raw)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("got err %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("got err %v", err)
			}
			if got := serializeTx(t, tx); !bytes.Equal(got, tt.raw) {
				t.Errorf("re-serialized: got %x, want %x", got, tt.raw)
			}
		})
	}
}

func TestSummarize(t *testing.T) {
	tests := []struct {
		name string
		tx   *wire.MsgTx
		want TxSummary
	}{
		{
			name: "p2wpkh payment",
			tx:   p2wpkhTx(wire.MaxTxInSequenceNum, 5000, 7000),
			want: TxSummary{ValueSat: 12000, Outputs: 2, Inputs: 1,
				LargestOutputSat: 7000, VSize: 141},
		},
		{
			name: "legacy vsize is size",
			tx:   legacyTx(5000),
			want: TxSummary{ValueSat: 5000, Outputs: 1, Inputs: 1,
				LargestOutputSat: 5000, VSize: 189},
		},
		{
			name: "rbf signalled",
			tx:   p2wpkhTx(0xfffffffd, 1),
			want: TxSummary{ValueSat: 1, Outputs: 1, Inputs: 1, LargestOutputSat: 1,
				VSize: 110, RBF: true},
		},
		{
			name: "lock time sequence is final for rbf",
			tx:   p2wpkhTx(0xfffffffe, 1),
			want: TxSummary{ValueSat: 1, Outputs: 1, Inputs: 1, LargestOutputSat: 1,
				VSize: 110},
		},
		{
			name: "sum saturates",
			tx:   p2wpkhTx(wire.MaxTxInSequenceNum, math.MaxInt64, math.MaxInt64, 1),
			want: TxSummary{ValueSat: math.MaxInt64, Outputs: 3, Inputs: 1,
				LargestOutputSat: math.MaxInt64, VSize: 172},
		},
		{
			name: "negative values count as zero",
			tx:   p2wpkhTx(wire.MaxTxInSequenceNum, -5, 3),
			want: TxSummary{ValueSat: 3, Outputs: 2, Inputs: 1,
				LargestOutputSat: 3, VSize: 141},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Summarize(tt.tx)
			tt.want.TxID = tt.tx.TxHash().String()
			if got != tt.want {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestIsCoinbase(t *testing.T) {
	coinbase := func(index uint32, hash chainhash.Hash, extra bool) *wire.MsgTx {
		tx := wire.NewMsgTx(1)
		tx.AddTxIn(&wire.TxIn{PreviousOutPoint: wire.OutPoint{Hash: hash, Index: index}})
		if extra {
			tx.AddTxIn(&wire.TxIn{})
		}
		return tx
	}
	tests := []struct {
		name string
		tx   *wire.MsgTx
		want bool
	}{
		{"null outpoint", coinbase(math.MaxUint32, chainhash.Hash{}, false), true},
		{"index zero", coinbase(0, chainhash.Hash{}, false), false},
		{"non-zero hash", coinbase(math.MaxUint32, chainhash.Hash{1}, false), false},
		{"two inputs", coinbase(math.MaxUint32, chainhash.Hash{}, true), false},
		{"no inputs", wire.NewMsgTx(1), false},
		{"payment", p2wpkhTx(wire.MaxTxInSequenceNum, 1), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsCoinbase(tt.tx); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// TestTxIDIgnoresWitness checks that TxID hashes the serialization without witness data
// (BIP141), unlike the wtxid, for simulated segwit and legacy transactions.
func TestTxIDIgnoresWitness(t *testing.T) {
	sim := NewSim(11)
	var segwit, legacy int
	for segwit < 20 || legacy < 3 {
		tx := sim.Next()
		got := Summarize(tx).TxID
		if want := independentTxID(t, tx); got != want {
			t.Fatalf("TxID %s, want %s", got, want)
		}
		wtxid := tx.WitnessHash().String()
		if tx.HasWitness() {
			segwit++
			if got == wtxid {
				t.Fatalf("segwit tx %s: TxID equals wtxid", got)
			}
		} else {
			legacy++
			if got != wtxid {
				t.Fatalf("legacy tx %s: TxID differs from wtxid %s", got, wtxid)
			}
		}
	}
}
