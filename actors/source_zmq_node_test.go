package actors_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/whalecast/whalecast/internal/corerpc"
)

// coreFee is what the fake node answers to getmempoolentry for one transaction.
type coreFee struct {
	sat, vsize int64
}

// fakeCore plays Bitcoin Core's JSON-RPC server on 127.0.0.1: cookie authentication (401
// with an empty body otherwise), JSON-RPC 1.0 calls and batches, errors as objects with
// HTTP status 500 for a single call. It serves a main chain, stale blocks and a mempool the
// test edits, and records every call it answers.
type fakeCore struct {
	srv    *httptest.Server
	cookie string

	mu sync.Mutex
	// chain is the main chain from height base up.
	chain []*wire.MsgBlock
	base  int64
	// stale holds blocks off the main chain, by hash, with their heights.
	stale      map[chainhash.Hash]coreStale
	mempool    []*wire.MsgTx
	fees       map[chainhash.Hash]coreFee
	mempoolSeq uint64
	failures   map[string]int
	holds      map[string]chan struct{}
	held       []string
	calls      []string
}

type coreStale struct {
	blk    *wire.MsgBlock
	height int64
}

// newFakeCore starts a fake node whose main chain is chain, the first block at height
// base, and whose mempool is empty.
func newFakeCore(tb testing.TB, chain []*wire.MsgBlock, base int64) *fakeCore {
	tb.Helper()
	n := &fakeCore{chain: slices.Clone(chain), base: base,
		stale: make(map[chainhash.Hash]coreStale), fees: make(map[chainhash.Hash]coreFee),
		failures: make(map[string]int), holds: make(map[string]chan struct{})}
	n.cookie = filepath.Join(tb.TempDir(), ".cookie")
	if err := os.WriteFile(n.cookie, []byte("__cookie__:c0ffee-not-a-real-secret"),
		0o600); err != nil {
		tb.Fatalf("write cookie: %v", err)
	}
	n.srv = httptest.NewServer(http.HandlerFunc(n.serve))
	tb.Cleanup(n.srv.Close)
	return n
}

// client returns a JSON-RPC client of the node, logged in with its cookie.
func (n *fakeCore) client(tb testing.TB) *corerpc.Client {
	tb.Helper()
	c, err := corerpc.New(corerpc.Config{URL: n.srv.URL, CookieFile: n.cookie})
	if err != nil {
		tb.Fatalf("rpc client: %v", err)
	}
	tb.Cleanup(c.CloseIdleConnections)
	return c
}

// addTx puts tx in the mempool with a fee.
func (n *fakeCore) addTx(tx *wire.MsgTx, fee coreFee) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.mempool = append(n.mempool, tx)
	n.fees[tx.TxHash()] = fee
	n.mempoolSeq++
}

// removeTx takes tx out of the mempool.
func (n *fakeCore) removeTx(tx *wire.MsgTx) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.mempool = slices.DeleteFunc(n.mempool, func(m *wire.MsgTx) bool {
		return m.TxHash() == tx.TxHash()
	})
	delete(n.fees, tx.TxHash())
	n.mempoolSeq++
}

// connect adds blocks on top of the main chain.
func (n *fakeCore) connect(blocks ...*wire.MsgBlock) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.chain = append(n.chain, blocks...)
}

// disconnect takes the tip off the main chain; it stays known as a stale block.
func (n *fakeCore) disconnect() {
	n.mu.Lock()
	defer n.mu.Unlock()
	tip := n.chain[len(n.chain)-1]
	n.stale[tip.BlockHash()] = coreStale{blk: tip, height: n.base + int64(len(n.chain)) - 1}
	n.chain = n.chain[:len(n.chain)-1]
}

// failNext makes the next count calls of method fail as an overloaded node does: HTTP 503
// "Work queue depth exceeded".
func (n *fakeCore) failNext(method string, count int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.failures[method] = count
}

// hold makes the calls of method wait until release is called (or the client gives up).
func (n *fakeCore) hold(method string) (release func()) {
	n.mu.Lock()
	defer n.mu.Unlock()
	ch := make(chan struct{})
	n.holds[method] = ch
	var once sync.Once
	return func() {
		once.Do(func() {
			n.mu.Lock()
			delete(n.holds, method)
			n.mu.Unlock()
			close(ch)
		})
	}
}

// takeCalls returns the calls answered since the last take, one line each: the method and
// its first parameters ("getrawtransaction A,B" for a batch).
func (n *fakeCore) takeCalls() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	calls := n.calls
	n.calls = nil
	return calls
}

// callCount returns how many calls the node answered since the last take.
func (n *fakeCore) callCount() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.calls)
}

// coreRequest and coreReply are JSON-RPC 1.0 as bitcoin-cli and Bitcoin Core write them.
type coreRequest struct {
	ID     json.RawMessage `json:"id"`
	Method string          `json:"method"`
	Params []any           `json:"params"`
}

type coreReply struct {
	Result any             `json:"result"`
	Error  *coreError      `json:"error"`
	ID     json.RawMessage `json:"id"`
}

type coreError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func (n *fakeCore) serve(w http.ResponseWriter, r *http.Request) {
	user, password, ok := r.BasicAuth()
	want, _ := os.ReadFile(n.cookie)
	if !ok || r.Method != http.MethodPost || user+":"+password != string(want) {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
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
	var req coreRequest
	if err := json.Unmarshal(body, &req); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	if n.failing(w, req.Method) {
		return
	}
	n.calls = append(n.calls, strings.TrimSpace(req.Method+" "+coreCallArgs(req.Params)))
	reply := n.answer(req)
	if reply.Error != nil {
		w.WriteHeader(http.StatusInternalServerError)
	}
	_ = json.NewEncoder(w).Encode(reply)
}

// waitHeld waits while the method of body is held.
func (n *fakeCore) waitHeld(r *http.Request, body []byte) {
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

	select {
	case <-ch:
	case <-r.Context().Done():
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if i := slices.Index(n.held, method.Method); i >= 0 {
		n.held = slices.Delete(n.held, i, i+1)
	}
}

// heldNow returns the methods of the calls waiting on a hold.
func (n *fakeCore) heldNow() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.held)
}

func (n *fakeCore) serveBatch(w http.ResponseWriter, body []byte) {
	var reqs []coreRequest
	if err := json.Unmarshal(body, &reqs); err != nil || len(reqs) == 0 {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	if n.failing(w, reqs[0].Method) {
		return
	}
	var firsts []string
	replies := make([]coreReply, len(reqs))
	for i, req := range reqs {
		firsts = append(firsts, fmt.Sprint(req.Params[0]))
		replies[i] = n.answer(req)
	}
	n.calls = append(n.calls, reqs[0].Method+" "+strings.Join(firsts, ","))
	_ = json.NewEncoder(w).Encode(replies)
}

// failing answers 503 if method is set to fail.
func (n *fakeCore) failing(w http.ResponseWriter, method string) bool {
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

// coreCallArgs shows the parameters that name what a call asks about.
func coreCallArgs(params []any) string {
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
func (n *fakeCore) answer(req coreRequest) coreReply {
	result, rerr := n.result(req.Method, req.Params)
	return coreReply{Result: result, Error: rerr, ID: req.ID}
}

func (n *fakeCore) result(method string, params []any) (any, *coreError) {
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
			return hex.EncodeToString(txBytes(tx)), nil
		}
		return nil, &coreError{Code: corerpc.CodeNotFound,
			Message: "No such mempool or blockchain transaction"}
	case "getmempoolentry":
		return n.mempoolEntry(arg)
	case "getbestblockhash":
		return n.chain[len(n.chain)-1].BlockHash().String(), nil
	case "getblockhash":
		h, _ := params[0].(float64)
		i := int64(h) - n.base
		if i < 0 || i >= int64(len(n.chain)) {
			return nil, &coreError{Code: corerpc.CodeInvalidParameter,
				Message: "Block height out of range"}
		}
		return n.chain[i].BlockHash().String(), nil
	case "getblock":
		if blk, _, _ := n.findBlock(arg); blk != nil {
			return hex.EncodeToString(zmqBlockBytes(blk)), nil
		}
		return nil, &coreError{Code: corerpc.CodeNotFound, Message: "Block not found"}
	case "getblockheader":
		return n.header(arg)
	}
	return nil, &coreError{Code: corerpc.CodeMethodNotFound, Message: "Method not found"}
}

func (n *fakeCore) mempoolEntry(txid string) (any, *coreError) {
	h, err := chainhash.NewHashFromStr(txid)
	if err == nil {
		if fee, ok := n.fees[*h]; ok {
			return map[string]any{"vsize": fee.vsize, "fees": map[string]any{
				"base": json.Number(fmt.Sprintf("%d.%08d", fee.sat/1e8, fee.sat%1e8))}}, nil
		}
	}
	return nil, &coreError{Code: corerpc.CodeNotFound, Message: "Transaction not in mempool"}
}

func (n *fakeCore) header(hash string) (any, *coreError) {
	blk, height, onChain := n.findBlock(hash)
	if blk == nil {
		return nil, &coreError{Code: corerpc.CodeNotFound, Message: "Block not found"}
	}
	confs := int64(-1)
	if onChain {
		confs = n.base + int64(len(n.chain)) - height
	}
	hdr := map[string]any{"hash": blk.BlockHash().String(), "height": height,
		"confirmations": confs}
	if height > 0 {
		hdr["previousblockhash"] = blk.Header.PrevBlock.String()
	}
	return hdr, nil
}

// findBlock returns the block of hash, its height and whether it is on the main chain.
func (n *fakeCore) findBlock(hash string) (*wire.MsgBlock, int64, bool) {
	h, err := chainhash.NewHashFromStr(hash)
	if err != nil {
		return nil, 0, false
	}
	for i, blk := range n.chain {
		if blk.BlockHash() == *h {
			return blk, n.base + int64(i), true
		}
	}
	if s, ok := n.stale[*h]; ok {
		return s.blk, s.height, false
	}
	return nil, 0, false
}

// findTx returns a mempool or main-chain transaction.
func (n *fakeCore) findTx(txid string) *wire.MsgTx {
	h, err := chainhash.NewHashFromStr(txid)
	if err != nil {
		return nil
	}
	for _, tx := range n.mempool {
		if tx.TxHash() == *h {
			return tx
		}
	}
	for _, blk := range n.chain {
		for _, tx := range blk.Transactions {
			if tx.TxHash() == *h {
				return tx
			}
		}
	}
	return nil
}

func txBytes(tx *wire.MsgTx) []byte {
	var buf bytes.Buffer
	_ = tx.Serialize(&buf)
	return buf.Bytes()
}

func zmqBlockBytes(blk *wire.MsgBlock) []byte {
	var buf bytes.Buffer
	_ = blk.Serialize(&buf)
	return buf.Bytes()
}
