package actors_test

import (
	"testing"
	"time"

	"github.com/btcsuite/btcd/wire/v2"

	"github.com/whalecast/whalecast/actors"
	"github.com/whalecast/whalecast/internal/alert"
)

// BenchmarkLifecycleConnect measures connecting real block 277647 (213 transactions) while
// 10,000 alerts are followed: the outpoint lookups of every input, per block.
func BenchmarkLifecycleConnect(b *testing.B) {
	block, hash := realBlock(b)
	l := actors.NewLifecycle(actors.LifecycleConfig{})
	for i := range 10_000 {
		tx := wire.NewMsgTx(2)
		tx.AddTxIn(&wire.TxIn{PreviousOutPoint: wire.OutPoint{Index: uint32(i)}})
		tx.AddTxOut(wire.NewTxOut(200*alert.SatPerBTC, []byte{0x51}))
		l.Track(alert.Alert{TxID: tx.TxHash().String()}, tx)
	}
	now := time.Now()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		// A new hash each time, so the block is not ignored as already connected.
		h := hash
		h[0] = byte(i)
		h[1] = byte(i >> 8)
		h[2] = byte(i >> 16)
		l.Connect(block, h, 277647, now)
	}
}

// BenchmarkLifecycleObserve measures one mempool transaction's conflict check against
// 10,000 followed alerts.
func BenchmarkLifecycleObserve(b *testing.B) {
	block, _ := realBlock(b)
	l := actors.NewLifecycle(actors.LifecycleConfig{})
	for i := range 10_000 {
		tx := wire.NewMsgTx(2)
		tx.AddTxIn(&wire.TxIn{PreviousOutPoint: wire.OutPoint{Index: uint32(i)}})
		l.Track(alert.Alert{TxID: tx.TxHash().String()}, tx)
	}
	txs := block.Transactions[1:]
	ids := make([]string, len(txs))
	for i, tx := range txs {
		ids[i] = tx.TxHash().String()
	}
	now := time.Now()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		k := i % len(txs)
		l.Observe(txs[k], ids[k], now)
	}
}
