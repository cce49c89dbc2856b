package bitcoin

import (
	"fmt"

	"github.com/btcsuite/btcd/wire/v2"
)

// DecodeBlock decodes one block in Bitcoin's consensus serialization (the bytes of Bitcoin
// Core's ZMQ rawblock topic, or of `getblock <hash> 0` hex-decoded). raw must hold exactly
// one block of at most MaxRecordSize bytes whose first transaction is a coinbase: trailing
// bytes wrap ErrTrailingBytes, data that ends early wraps ErrTruncated, a larger input
// wraps ErrTooLarge. As with DecodeTx, no count is trusted before it is checked against
// len(raw).
func DecodeBlock(raw []byte) (*wire.MsgBlock, error) {
	switch {
	case len(raw) == 0:
		return nil, fmt.Errorf("bitcoin: decode block: empty input: %w", ErrTruncated)
	case len(raw) > MaxRecordSize:
		return nil, fmt.Errorf("bitcoin: decode block: %d bytes, cap %d: %w", len(raw),
			MaxRecordSize, ErrTooLarge)
	}

	blk, err := decodeBlockBytes(raw)
	if err != nil {
		return nil, fmt.Errorf("bitcoin: decode block: %w", err)
	}
	return blk, nil
}
