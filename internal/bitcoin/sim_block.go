package bitcoin

import (
	"math"
	"slices"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

// Simulated blocks: the fixed parts of the blocks the simulated feed connects
// (docs/simulator.md).
const (
	// simBlockVersion is a version-bits block version that signals nothing.
	simBlockVersion = 0x20000000
	// simBlockBits is a mainnet difficulty of 2024, in compact form; no simulated block
	// meets it.
	simBlockBits = 0x17034219
	// simSubsidySat is the block subsidy from height 840,000 to 1,049,999: 3.125 BTC.
	simSubsidySat = 312_500_000
)

// simCoinbaseTag follows the height in a simulated coinbase, as miners tag theirs.
var simCoinbaseTag = []byte("/whalecast sim/")

// simMinerScript is the coinbase output of simulated blocks: a P2WPKH output whose key hash
// is the first 20 bytes of SHA-256("whalecast simulated miner").
var simMinerScript = func() []byte {
	hash := chainhash.HashB([]byte("whalecast simulated miner"))
	return append([]byte{0x00, 0x14}, hash[:20]...)
}()

// NewSimBlock returns a block on top of prev at height, stamped at, holding a coinbase and
// then txs. The coinbase states the height (BIP34) and pays the subsidy alone, and the
// merkle root is right, but there is no proof of work and no witness commitment: like the
// simulator's transactions, the block has the right shape and is not valid. The block
// shares the transactions, not the slice txs.
func NewSimBlock(prev chainhash.Hash, height int64, at time.Time,
	txs []*wire.MsgTx) *wire.MsgBlock {
	coinbase := wire.NewMsgTx(2)
	coinbase.AddTxIn(&wire.TxIn{
		PreviousOutPoint: wire.OutPoint{Index: math.MaxUint32},
		SignatureScript:  append(HeightScript(height), simCoinbaseTag...),
		Sequence:         wire.MaxTxInSequenceNum,
	})
	coinbase.AddTxOut(wire.NewTxOut(simSubsidySat, slices.Clone(simMinerScript)))

	all := make([]*wire.MsgTx, 0, 1+len(txs))
	all = append(append(all, coinbase), txs...)
	return &wire.MsgBlock{
		Header: wire.BlockHeader{
			Version:    simBlockVersion,
			PrevBlock:  prev,
			MerkleRoot: MerkleRoot(all),
			Timestamp:  at.Truncate(time.Second),
			Bits:       simBlockBits,
		},
		Transactions: all,
	}
}

// MerkleRoot returns the merkle root of txs, by txid, as a block header states it: each
// level hashes pairs of the one below with double SHA-256, the last hash of an odd level
// paired with itself. It returns the zero hash for no transaction.
func MerkleRoot(txs []*wire.MsgTx) chainhash.Hash {
	if len(txs) == 0 {
		return chainhash.Hash{}
	}
	level := make([]chainhash.Hash, len(txs))
	for i, tx := range txs {
		level[i] = tx.TxHash()
	}

	var pair [2 * chainhash.HashSize]byte
	for len(level) > 1 {
		if len(level)%2 == 1 {
			level = append(level, level[len(level)-1])
		}
		for i := 0; i < len(level); i += 2 {
			copy(pair[:], level[i][:])
			copy(pair[chainhash.HashSize:], level[i+1][:])
			level[i/2] = chainhash.DoubleHashH(pair[:])
		}
		level = level[:len(level)/2]
	}
	return level[0]
}
