package zmqtest

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/whalecast/whalecast/internal/corerpc"
)

// maxRequest bounds the body of a request the node reads.
const maxRequest = 1 << 20

// codeMisc is Bitcoin Core's RPC_MISC_ERROR, its answer to getblock for a pruned block.
const codeMisc = -1

// rpcRequest and rpcReply are JSON-RPC 1.0 as bitcoin-cli and Bitcoin Core write them.
type rpcRequest struct {
	ID     json.RawMessage `json:"id"`
	Method string          `json:"method"`
	Params []any           `json:"params"`
}

type rpcReply struct {
	Result any             `json:"result"`
	Error  *rpcError       `json:"error"`
	ID     json.RawMessage `json:"id"`
}

type rpcError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func (n *Node) serve(w http.ResponseWriter, r *http.Request) {
	user, password, ok := r.BasicAuth()
	n.mu.Lock()
	login := n.login
	n.mu.Unlock()
	if !ok || r.Method != http.MethodPost || user+":"+password != login {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequest))
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}

	n.waitHeld(r, body)
	n.mu.Lock()
	defer n.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if bytes.HasPrefix(bytes.TrimSpace(body), []byte("[")) {
		n.serveBatch(w, body)
		return
	}
	var req rpcRequest
	if err := json.Unmarshal(body, &req); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	if n.failing(w, req.Method) {
		return
	}
	n.calls = append(n.calls, strings.TrimSpace(req.Method+" "+callArgs(req.Params)))
	reply := n.answer(req)
	if reply.Error != nil {
		w.WriteHeader(http.StatusInternalServerError)
	}
	_ = json.NewEncoder(w).Encode(reply)
}

// waitHeld waits while the method of body is held, at most WaitLimit.
func (n *Node) waitHeld(r *http.Request, body []byte) {
	var method struct {
		Method string `json:"method"`
	}
	var batch []json.RawMessage
	first := body
	if json.Unmarshal(body, &batch) == nil && len(batch) > 0 {
		first = batch[0]
	}
	_ = json.Unmarshal(first, &method)
	n.mu.Lock()
	ch := n.holds[method.Method]
	if ch != nil {
		n.held = append(n.held, method.Method)
	}
	n.mu.Unlock()
	if ch == nil {
		return
	}

	t := time.NewTimer(WaitLimit)
	defer t.Stop()
	select {
	case <-ch:
	case <-r.Context().Done():
	case <-t.C:
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if i := slices.Index(n.held, method.Method); i >= 0 {
		n.held = slices.Delete(n.held, i, i+1)
	}
}

func (n *Node) serveBatch(w http.ResponseWriter, body []byte) {
	var reqs []rpcRequest
	if err := json.Unmarshal(body, &reqs); err != nil || len(reqs) == 0 {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	if n.failing(w, reqs[0].Method) {
		return
	}
	var firsts []string
	replies := make([]rpcReply, len(reqs))
	for i, req := range reqs {
		firsts = append(firsts, callArgs(req.Params))
		replies[i] = n.answer(req)
	}
	n.calls = append(n.calls, reqs[0].Method+" "+strings.Join(firsts, ","))
	_ = json.NewEncoder(w).Encode(replies)
}

// failing answers 503 if method is set to fail; the caller holds n.mu.
func (n *Node) failing(w http.ResponseWriter, method string) bool {
	if n.failures[method] <= 0 {
		return false
	}
	n.failures[method]--
	n.calls = append(n.calls, method+" failed")
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(http.StatusServiceUnavailable)
	_, _ = io.WriteString(w, "Work queue depth exceeded")
	return true
}

// callArgs shows the parameter that names what a call asks about.
func callArgs(params []any) string {
	if len(params) == 0 {
		return ""
	}
	switch v := params[0].(type) {
	case string:
		return v
	case float64:
		return fmt.Sprint(int64(v))
	}
	return ""
}

// answer answers one call; the caller holds n.mu.
func (n *Node) answer(req rpcRequest) rpcReply {
	result, rerr := n.result(req.Method, req.Params)
	return rpcReply{Result: result, Error: rerr, ID: req.ID}
}

func (n *Node) result(method string, params []any) (any, *rpcError) {
	arg := ""
	if len(params) > 0 {
		arg, _ = params[0].(string)
	}
	switch method {
	case "getrawmempool":
		txids := make([]string, len(n.mempool))
		for i, tx := range n.mempool {
			txids[i] = tx.TxHash().String()
		}
		return map[string]any{"txids": txids, "mempool_sequence": n.mempoolSeq}, nil
	case "getrawtransaction":
		if tx := n.findTx(arg); tx != nil {
			return hex.EncodeToString(TxBytes(tx)), nil
		}
		return nil, &rpcError{Code: corerpc.CodeNotFound,
			Message: "No such mempool or blockchain transaction"}
	case "getmempoolentry":
		return n.mempoolEntry(arg)
	case "getbestblockhash":
		return n.chain[len(n.chain)-1].hash.String(), nil
	case "getblockhash":
		return n.blockHash(params)
	case "getblock":
		b, _, _ := n.findBlock(arg)
		switch {
		case b == nil:
			return nil, &rpcError{Code: corerpc.CodeNotFound, Message: "Block not found"}
		case b.blk == nil:
			return nil, &rpcError{Code: codeMisc, Message: "Block not available (pruned data)"}
		}
		return hex.EncodeToString(BlockBytes(b.blk)), nil
	case "getblockheader":
		return n.header(arg)
	}
	return nil, &rpcError{Code: corerpc.CodeMethodNotFound, Message: "Method not found"}
}

func (n *Node) blockHash(params []any) (any, *rpcError) {
	var h float64
	if len(params) > 0 {
		h, _ = params[0].(float64)
	}
	i := int64(h) - n.base
	if i < 0 || i >= int64(len(n.chain)) {
		return nil, &rpcError{Code: corerpc.CodeInvalidParameter,
			Message: "Block height out of range"}
	}
	return n.chain[i].hash.String(), nil
}

func (n *Node) mempoolEntry(txid string) (any, *rpcError) {
	h, err := chainhash.NewHashFromStr(txid)
	if err == nil {
		if fee, ok := n.fees[*h]; ok {
			return map[string]any{"vsize": fee.VSize, "fees": map[string]any{
				"base": json.Number(fmt.Sprintf("%d.%08d", fee.Sat/1e8, fee.Sat%1e8))}}, nil
		}
	}
	return nil, &rpcError{Code: corerpc.CodeNotFound, Message: "Transaction not in mempool"}
}

func (n *Node) header(hash string) (any, *rpcError) {
	b, height, onChain := n.findBlock(hash)
	if b == nil {
		return nil, &rpcError{Code: corerpc.CodeNotFound, Message: "Block not found"}
	}
	confs := int64(-1)
	if onChain {
		confs = n.base + int64(len(n.chain)) - height
	}
	hdr := map[string]any{"hash": b.hash.String(), "height": height,
		"confirmations": confs}
	switch {
	case height > 0 && b.blk != nil:
		hdr["previousblockhash"] = b.blk.Header.PrevBlock.String()
	case height > 0:
		// A block known by its hash alone has an unknown parent: the zero hash stands for it.
		hdr["previousblockhash"] = chainhash.Hash{}.String()
	}
	return hdr, nil
}

// findBlock returns the block of hash, its height and whether it is on the main chain.
func (n *Node) findBlock(hash string) (*chainBlock, int64, bool) {
	h, err := chainhash.NewHashFromStr(hash)
	if err != nil {
		return nil, 0, false
	}
	for i := range n.chain {
		if n.chain[i].hash == *h {
			return &n.chain[i], n.base + int64(i), true
		}
	}
	if s, ok := n.stale[*h]; ok {
		return &s.chainBlock, s.height, false
	}
	return nil, 0, false
}

// findTx returns a mempool or main-chain transaction.
func (n *Node) findTx(txid string) *wire.MsgTx {
	h, err := chainhash.NewHashFromStr(txid)
	if err != nil {
		return nil
	}
	for _, tx := range n.mempool {
		if tx.TxHash() == *h {
			return tx
		}
	}
	for _, b := range n.chain {
		if b.blk == nil {
			continue
		}
		for _, tx := range b.blk.Transactions {
			if tx.TxHash() == *h {
				return tx
			}
		}
	}
	return nil
}
