package actors

import (
	"github.com/asynkron/protoactor-go/actor"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/whalecast/whalecast/internal/alert"
	"github.com/whalecast/whalecast/internal/bitcoin"
)

// Fee is what the node reports of a mempool transaction's fee.
type Fee struct {
	// Sat is the fee in satoshis.
	Sat int64
	// VSize is the node's virtual size in vbytes (it counts sigops, so it may exceed the
	// BIP141 size the engine computes).
	VSize int64
}

// Rate returns the fee rate in satoshis per vbyte.
func (f Fee) Rate() float64 {
	if f.VSize <= 0 {
		return 0
	}
	return float64(f.Sat) / float64(f.VSize)
}

// EventKind names a chain or mempool event.
type EventKind uint8

// The events a feed reports besides transactions.
const (
	// BlockConnected: Block joined the best chain.
	BlockConnected EventKind = iota + 1
	// BlockDisconnected: the block Hash left the best chain (a reorg).
	BlockDisconnected
	// TxRemoved: TxID left the mempool for a reason other than a block.
	TxRemoved
	// MempoolSnapshot: Mempool lists every txid in the node's mempool (after a resync).
	MempoolSnapshot
)

// String names the kind for logs.
func (k EventKind) String() string {
	switch k {
	case BlockConnected:
		return "block_connected"
	case BlockDisconnected:
		return "block_disconnected"
	case TxRemoved:
		return "tx_removed"
	case MempoolSnapshot:
		return "mempool_snapshot"
	}
	return "unknown"
}

// ChainEvent is a chain or mempool event from a feed. The source sends it to the detector,
// which forwards it to the tracker behind the transactions that came before it, so the
// tracker sees everything in the feed's order.
type ChainEvent struct {
	Kind EventKind
	// Block is the connected block (BlockConnected).
	Block *wire.MsgBlock
	// Hash is the connected or disconnected block's hash.
	Hash chainhash.Hash
	// Height is the connected block's height, 0 when the feed does not know it.
	Height int64
	// TxID is the removed transaction (TxRemoved).
	TxID string
	// Mempool is the node's mempool (MempoolSnapshot).
	Mempool map[string]struct{}
	// AckTo receives Processed once the event's changes are durable; nil for none.
	AckTo *actor.PID
}

// Observed is a decoded transaction on its way from the detector to the tracker: every
// transaction goes there, whale or not, because any of them may replace or conflict with a
// followed alert.
type Observed struct {
	Msg     *wire.MsgTx
	Summary bitcoin.TxSummary
	// Alert is set when a detector rule flagged the transaction.
	Alert *alert.Alert
	// AckTo receives Processed once the transaction is done (durable, for a whale).
	AckTo *actor.PID
}

// String keeps events short in logs.
func (e *ChainEvent) String() string {
	return "ChainEvent{" + e.Kind.String() + "}"
}
