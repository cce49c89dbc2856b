package bitcoin

import (
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

// MainnetGenesis is the hash of Bitcoin's mainnet genesis block, at height 0.
var MainnetGenesis = mustHash(
	"000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f")

func mustHash(s string) chainhash.Hash {
	h, err := chainhash.NewHashFromStr(s)
	if err != nil {
		panic(err)
	}
	return *h
}

// bip34Version is the first block version whose coinbase starts with the block's height.
const bip34Version = 2

// CoinbaseHeight returns the height a block states in its coinbase (BIP34): the first push of
// the coinbase's signature script, a little-endian number. It reports false for blocks older
// than BIP34 (version 1) or a coinbase that does not start with a small push.
func CoinbaseHeight(b *wire.MsgBlock) (int64, bool) {
	if b.Header.Version < bip34Version || len(b.Transactions) == 0 ||
		!IsCoinbase(b.Transactions[0]) {
		return 0, false
	}
	script := b.Transactions[0].TxIn[0].SignatureScript
	if len(script) == 0 {
		return 0, false
	}
	n := int(script[0])
	if n < 1 || n > 4 || len(script) < 1+n {
		// Heights up to 2^31 fit in four bytes; anything else is not a BIP34 height.
		return 0, false
	}
	var h int64
	for i := n; i >= 1; i-- {
		h = h<<8 | int64(script[i])
	}
	if script[n]&0x80 != 0 {
		return 0, false
	}
	return h, true
}

// HeightScript returns the BIP34 push of height that starts a coinbase's signature script,
// the inverse of CoinbaseHeight: the height's minimal little-endian bytes after their
// length, with a zero byte added when the top bit of the last one is set (the number would
// read as negative). height must be from 1 to 2^31-1.
func HeightScript(height int64) []byte {
	var num []byte
	for h := height; h > 0; h >>= 8 {
		num = append(num, byte(h))
	}
	if len(num) > 0 && num[len(num)-1]&0x80 != 0 {
		num = append(num, 0)
	}
	return append([]byte{byte(len(num))}, num...)
}
