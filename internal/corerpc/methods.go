package corerpc

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// MaxBatch is the largest number of calls sent in one batch request; longer lists are
// split. A batch occupies one slot of the node's work queue however long it is.
const MaxBatch = 100

// MempoolEntry is what the engine needs of one getmempoolentry answer.
type MempoolEntry struct {
	// Found is false when the transaction is no longer in the node's mempool; the other
	// fields are then zero.
	Found bool
	// FeeSat is the base fee (fees.base) in satoshis, converted exactly.
	FeeSat int64
	// VSize is the virtual size in vbytes.
	VSize int64
}

// BlockHeader is what the engine needs of one getblockheader answer.
type BlockHeader struct {
	// Hash is the block hash, lowercase hex.
	Hash string
	// Height is the block height.
	Height int64
	// PreviousBlockHash is the parent's hash; empty for the genesis block.
	PreviousBlockHash string
	// Confirmations counts the blocks on top of this one, itself included, on the main
	// chain; it is -1 for a block off the main chain.
	Confirmations int64
}

// RawMempool returns the txids in the node's mempool and the mempool sequence number they
// are valid at (getrawmempool false true), to match against the ZMQ sequence topic.
func (c *Client) RawMempool(ctx context.Context) ([]string, uint64, error) {
	var res struct {
		TxIDs    []string `json:"txids"`
		Sequence *uint64  `json:"mempool_sequence"`
	}
	if err := c.call(ctx, "getrawmempool", &res, false, true); err != nil {
		return nil, 0, err
	}

	if res.TxIDs == nil || res.Sequence == nil {
		return nil, 0, fmt.Errorf("corerpc: getrawmempool: %w: no txids or mempool_sequence",
			ErrBadResponse)
	}
	for _, txid := range res.TxIDs {
		if !isHash(txid) {
			return nil, 0, fmt.Errorf("corerpc: getrawmempool: %w: txid %.80q",
				ErrBadResponse, txid)
		}
	}
	return res.TxIDs, *res.Sequence, nil
}

// RawTransactions returns the serialized transactions of txids, in the same order, with
// nil for a txid the node no longer knows. It sends batches of getrawtransaction of at
// most MaxBatch calls; any error other than not found fails the whole call.
func (c *Client) RawTransactions(ctx context.Context, txids []string) ([][]byte, error) {
	const method = "getrawtransaction"
	resps, err := c.batchByTxid(ctx, method, txids, false)
	if err != nil {
		return nil, err
	}

	txs := make([][]byte, len(txids))
	for i := range resps {
		err := resps[i].err(method)
		if IsNotFound(err) {
			continue
		}
		if err == nil {
			txs[i], err = resps[i].hexResult(method)
		}
		if err != nil {
			return nil, fmt.Errorf("%w (txid %s)", err, txids[i])
		}
	}
	return txs, nil
}

// MempoolEntries returns the fee and size of txids, in the same order, with Found false
// for a txid no longer in the mempool. It sends batches of getmempoolentry of at most
// MaxBatch calls; any error other than not found fails the whole call.
func (c *Client) MempoolEntries(ctx context.Context, txids []string) ([]MempoolEntry, error) {
	const method = "getmempoolentry"
	resps, err := c.batchByTxid(ctx, method, txids)
	if err != nil {
		return nil, err
	}

	entries := make([]MempoolEntry, len(txids))
	for i := range resps {
		err := resps[i].err(method)
		if IsNotFound(err) {
			continue
		}
		if err == nil {
			entries[i], err = decodeEntry(&resps[i])
		}
		if err != nil {
			return nil, fmt.Errorf("%w (txid %s)", err, txids[i])
		}
	}
	return entries, nil
}

// decodeEntry reads the base fee and the virtual size of one getmempoolentry result.
func decodeEntry(r *response) (MempoolEntry, error) {
	var res struct {
		VSize int64 `json:"vsize"`
		Fees  struct {
			Base json.RawMessage `json:"base"`
		} `json:"fees"`
	}
	if err := r.result("getmempoolentry", &res); err != nil {
		return MempoolEntry{}, err
	}

	if res.VSize <= 0 {
		return MempoolEntry{}, fmt.Errorf("corerpc: getmempoolentry: %w: vsize %d",
			ErrBadResponse, res.VSize)
	}
	fee, err := btcToSat(string(res.Fees.Base))
	if err != nil {
		return MempoolEntry{}, fmt.Errorf("corerpc: getmempoolentry: %w: fees.base %.40q: %v",
			ErrBadResponse, res.Fees.Base, err)
	}
	return MempoolEntry{Found: true, FeeSat: fee, VSize: res.VSize}, nil
}

// batchByTxid validates txids, then calls method with each txid followed by extra, in
// batches of at most MaxBatch, and returns the responses in the order of txids.
func (c *Client) batchByTxid(ctx context.Context, method string, txids []string,
	extra ...any) ([]response, error) {
	for _, txid := range txids {
		if !isHash(txid) {
			return nil, fmt.Errorf("corerpc: %s: %w: txid %.80q", method,
				ErrInvalidArgument, txid)
		}
	}

	resps := make([]response, 0, len(txids))
	for start := 0; start < len(txids); start += MaxBatch {
		chunk := txids[start:min(start+MaxBatch, len(txids))]
		params := make([][]any, len(chunk))
		for i, txid := range chunk {
			params[i] = append([]any{txid}, extra...)
		}
		got, err := c.batch(ctx, method, params)
		if err != nil {
			return nil, err
		}
		resps = append(resps, got...)
	}
	return resps, nil
}

// BestBlockHash returns the hash of the tip of the node's main chain.
func (c *Client) BestBlockHash(ctx context.Context) (string, error) {
	return c.hashCall(ctx, "getbestblockhash")
}

// BlockHash returns the hash of the main-chain block at height. A height above the tip
// fails with an *Error of CodeInvalidParameter.
func (c *Client) BlockHash(ctx context.Context, height int64) (string, error) {
	if height < 0 {
		return "", fmt.Errorf("corerpc: getblockhash: %w: height %d", ErrInvalidArgument,
			height)
	}
	return c.hashCall(ctx, "getblockhash", height)
}

// hashCall makes a call whose result is one block hash.
func (c *Client) hashCall(ctx context.Context, method string, params ...any) (string, error) {
	var hash string
	if err := c.call(ctx, method, &hash, params...); err != nil {
		return "", err
	}
	if !isHash(hash) {
		return "", fmt.Errorf("corerpc: %s: %w: hash %.80q", method, ErrBadResponse, hash)
	}
	return hash, nil
}

// Block returns the serialized block of hash (getblock <hash> 0).
func (c *Client) Block(ctx context.Context, hash string) ([]byte, error) {
	const method = "getblock"
	if !isHash(hash) {
		return nil, fmt.Errorf("corerpc: %s: %w: hash %.80q", method, ErrInvalidArgument, hash)
	}

	var text string
	if err := c.call(ctx, method, &text, hash, 0); err != nil {
		return nil, err
	}
	return unhex(method, text)
}

// BlockHeader returns the header fields of the block of hash (getblockheader <hash> true).
func (c *Client) BlockHeader(ctx context.Context, hash string) (BlockHeader, error) {
	const method = "getblockheader"
	if !isHash(hash) {
		return BlockHeader{}, fmt.Errorf("corerpc: %s: %w: hash %.80q", method,
			ErrInvalidArgument, hash)
	}

	var res struct {
		Hash          string `json:"hash"`
		Height        *int64 `json:"height"`
		Previous      string `json:"previousblockhash"`
		Confirmations *int64 `json:"confirmations"`
	}
	if err := c.call(ctx, method, &res, hash, true); err != nil {
		return BlockHeader{}, err
	}

	if err := checkHeader(hash, res.Hash, res.Height, res.Previous,
		res.Confirmations); err != nil {
		return BlockHeader{}, fmt.Errorf("corerpc: %s %s: %w: %v", method, hash,
			ErrBadResponse, err)
	}
	return BlockHeader{Hash: res.Hash, Height: *res.Height, PreviousBlockHash: res.Previous,
		Confirmations: *res.Confirmations}, nil
}

// checkHeader checks a getblockheader result against the hash asked for.
func checkHeader(want, hash string, height *int64, prev string, confs *int64) error {
	switch {
	case !strings.EqualFold(hash, want):
		return fmt.Errorf("header of %.80q", hash)
	case height == nil || *height < 0:
		return errors.New("no height")
	case confs == nil || *confs < -1:
		return errors.New("no confirmations")
	case prev == "" && *height != 0, prev != "" && !isHash(prev):
		return fmt.Errorf("previousblockhash %.80q", prev)
	}
	return nil
}

// hexResult decodes a result that is a non-empty hex string.
func (r *response) hexResult(method string) ([]byte, error) {
	var text string
	if err := r.result(method, &text); err != nil {
		return nil, err
	}
	return unhex(method, text)
}

// unhex decodes the non-empty hex string a method answered.
func unhex(method, text string) ([]byte, error) {
	raw, err := hex.DecodeString(text)
	if err != nil || len(raw) == 0 {
		return nil, fmt.Errorf("corerpc: %s: %w: not non-empty hex", method, ErrBadResponse)
	}
	return raw, nil
}

// isHash reports whether s is 64 hex digits, the form of a txid or block hash.
func isHash(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := range len(s) {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}
