package corerpc

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"

	"github.com/whalecast/whalecast/internal/bitcoin"
	"github.com/whalecast/whalecast/internal/btcdtest"
)

// Credentials the fake node accepts unless a test changes them.
const (
	testUser     = "whalecast"
	testPassword = "hunter2-secret"
)

// fakeError is a JSON-RPC error object as Bitcoin Core writes it.
type fakeError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// fakeReply is one answer as Bitcoin Core writes it: result and error both present.
type fakeReply struct {
	Result any             `json:"result"`
	Error  *fakeError      `json:"error"`
	ID     json.RawMessage `json:"id"`
}

// fakeEntry is a mempool entry; fee is the JSON text of fees.base.
type fakeEntry struct {
	fee   string
	vsize int64
}

// fakeNode answers like Bitcoin Core's HTTP JSON-RPC server: basic auth, 401 with an empty
// body, JSON-RPC 1.0 errors with status 500 (404 for an unknown method), batches with 200.
type fakeNode struct {
	srv *httptest.Server
	blk *realBlock

	mu         sync.Mutex
	user       string
	password   string
	txs        map[string][]byte
	entries    map[string]fakeEntry
	itemErrors map[string]*fakeError
	blocks     map[string][]byte
	heights    map[int64]string
	stale      map[string]bool
	best       string
	mempool    []string
	sequence   uint64
	noSequence bool
	disabled   map[string]bool
	warmup     string
	// override, if set, may answer a request itself and return true.
	override func(w http.ResponseWriter, r *http.Request, body []byte) bool
	// editBatch, if set, rewrites the answers to a batch before they are sent.
	editBatch func([]fakeReply) []fakeReply

	requests   int
	batchSizes []int
	lastHeader http.Header
	lastBody   []byte
}

// newFakeNode starts a fake node on 127.0.0.1 that knows mainnet block 277647.
func newFakeNode(tb testing.TB) *fakeNode {
	tb.Helper()
	blk := block277647(tb)
	f := &fakeNode{
		blk:        blk,
		user:       testUser,
		password:   testPassword,
		txs:        map[string][]byte{},
		entries:    map[string]fakeEntry{},
		itemErrors: map[string]*fakeError{},
		blocks:     map[string][]byte{blk.hash: blk.raw},
		heights:    map[int64]string{blk.height: blk.hash},
		stale:      map[string]bool{},
		best:       blk.hash,
		disabled:   map[string]bool{},
	}
	for i, txid := range blk.txids {
		f.txs[txid] = blk.txs[i]
	}
	f.srv = httptest.NewServer(f)
	tb.Cleanup(f.srv.Close)
	return f
}

// client returns a client of f with the fake's credentials and cfg's other fields.
func (f *fakeNode) client(tb testing.TB, cfg Config) *Client {
	tb.Helper()
	cfg.URL = f.srv.URL
	if cfg.CookieFile == "" && cfg.User == "" {
		cfg.User, cfg.Password = testUser, testPassword
	}
	c, err := New(cfg)
	if err != nil {
		tb.Fatalf("New(%v): %v", cfg, err)
	}
	tb.Cleanup(c.CloseIdleConnections)
	return c
}

// set runs change under the fake's lock.
func (f *fakeNode) set(change func(f *fakeNode)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	change(f)
}

// stats returns the number of requests and the sizes of the batches received.
func (f *fakeNode) stats() (int, []int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests, slices.Clone(f.batchSizes)
}

// ServeHTTP checks the credentials, then lets override answer, or answers one call or a
// batch. The override runs without the lock, so it may block.
func (f *fakeNode) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	f.mu.Lock()
	f.requests++
	f.lastHeader, f.lastBody = r.Header.Clone(), body
	user, password, ok := r.BasicAuth()
	authorized := ok && user == f.user && password == f.password
	override := f.override
	f.mu.Unlock()

	if !authorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="jsonrpc"`)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if r.Method != http.MethodPost {
		http.Error(w, "JSONRPC server handles only POST requests", http.StatusMethodNotAllowed)
		return
	}
	if override != nil && override(w, r, body) {
		return
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	if bytes.HasPrefix(bytes.TrimSpace(body), []byte("[")) {
		f.serveBatch(w, body)
		return
	}
	reply := f.answer(body)
	status := http.StatusOK
	if reply.Error != nil {
		status = http.StatusInternalServerError
		if reply.Error.Code == CodeMethodNotFound {
			status = http.StatusNotFound
		}
	}
	writeJSON(w, status, reply)
}

// serveBatch answers every call of a batch, in order, with status 200.
func (f *fakeNode) serveBatch(w http.ResponseWriter, body []byte) {
	var calls []json.RawMessage
	if err := json.Unmarshal(body, &calls); err != nil {
		writeJSON(w, http.StatusInternalServerError, fakeReply{
			Error: &fakeError{Code: -32700, Message: "Parse error"}, ID: json.RawMessage("null")})
		return
	}
	f.batchSizes = append(f.batchSizes, len(calls))

	replies := make([]fakeReply, len(calls))
	for i, call := range calls {
		replies[i] = f.answer(call)
	}
	if f.editBatch != nil {
		replies = f.editBatch(replies)
	}
	writeJSON(w, http.StatusOK, replies)
}

// answer decodes one call and runs it.
func (f *fakeNode) answer(call []byte) fakeReply {
	var req struct {
		ID     json.RawMessage   `json:"id"`
		Method string            `json:"method"`
		Params []json.RawMessage `json:"params"`
	}
	if err := json.Unmarshal(call, &req); err != nil {
		return fakeReply{Error: &fakeError{Code: -32700, Message: "Parse error"},
			ID: json.RawMessage("null")}
	}

	result, rpcErr := f.run(req.Method, req.Params)
	if rpcErr != nil {
		return fakeReply{Error: rpcErr, ID: req.ID}
	}
	return fakeReply{Result: result, ID: req.ID}
}

// run executes one method the way Bitcoin Core does, for the methods the client uses.
func (f *fakeNode) run(method string, params []json.RawMessage) (any, *fakeError) {
	if f.warmup != "" {
		return nil, &fakeError{Code: CodeInWarmup, Message: f.warmup}
	}
	str := func(i int) string {
		var s string
		if i < len(params) {
			_ = json.Unmarshal(params[i], &s)
		}
		return s
	}
	arg := func(i int) string {
		if i < len(params) {
			return string(params[i])
		}
		return ""
	}
	blockNotFound := &fakeError{Code: CodeNotFound, Message: "Block not found"}

	switch {
	case f.disabled[method]:
	case method == "getrawmempool":
		if f.noSequence || arg(0) != "false" || arg(1) != "true" {
			return f.mempool, nil
		}
		return map[string]any{"txids": f.mempool, "mempool_sequence": f.sequence}, nil
	case method == "getrawtransaction":
		if e := f.itemErrors[str(0)]; e != nil {
			return nil, e
		}
		if tx, ok := f.txs[str(0)]; ok && arg(1) == "false" {
			return hex.EncodeToString(tx), nil
		}
		return nil, &fakeError{Code: CodeNotFound, Message: "No such mempool or blockchain " +
			"transaction. Use gettransaction for wallet transactions."}
	case method == "getmempoolentry":
		return f.mempoolEntry(str(0))
	case method == "getbestblockhash":
		return f.best, nil
	case method == "getblockhash":
		var height int64
		_ = json.Unmarshal([]byte(arg(0)), &height)
		if hash, ok := f.heights[height]; ok {
			return hash, nil
		}
		return nil, &fakeError{Code: CodeInvalidParameter, Message: "Block height out of range"}
	case method == "getblock":
		if raw, ok := f.blocks[str(0)]; ok && arg(1) == "0" {
			return hex.EncodeToString(raw), nil
		}
		return nil, blockNotFound
	case method == "getblockheader":
		if _, ok := f.blocks[str(0)]; ok && arg(1) == "true" {
			return f.header(str(0)), nil
		}
		return nil, blockNotFound
	}
	return nil, &fakeError{Code: CodeMethodNotFound, Message: "Method not found"}
}

// mempoolEntry answers getmempoolentry with the fields Bitcoin Core 28 writes.
func (f *fakeNode) mempoolEntry(txid string) (any, *fakeError) {
	e, ok := f.entries[txid]
	if !ok {
		return nil, &fakeError{Code: CodeNotFound, Message: "Transaction not in mempool"}
	}
	fee := json.RawMessage(e.fee)
	return map[string]any{
		"vsize": e.vsize, "weight": 4 * e.vsize, "time": 1700000000, "height": 277647,
		"descendantcount": 1, "descendantsize": e.vsize, "ancestorcount": 1,
		"ancestorsize": e.vsize, "wtxid": txid,
		"fees": map[string]any{
			"base": fee, "modified": fee, "ancestor": fee, "descendant": fee},
		"depends": []string{}, "spentby": []string{}, "bip125-replaceable": false,
		"unbroadcast": false,
	}, nil
}

// header answers getblockheader true for a block the fake knows.
func (f *fakeNode) header(hash string) map[string]any {
	blk := f.blk
	confirmations := 1
	if f.stale[hash] {
		confirmations = -1
	}
	return map[string]any{
		"hash": hash, "confirmations": confirmations, "height": blk.height,
		"version": 2, "versionHex": "00000002", "merkleroot": blk.merkle,
		"time": 1388185914, "mediantime": 1388183675, "nonce": 1, "bits": "1903a30c",
		"difficulty": 1180923195.258026, "nTx": len(blk.txids),
		"previousblockhash": blk.prev,
	}
}

// writeJSON writes v as Bitcoin Core does: JSON, a newline, the given status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(data, '\n'))
}

// realBlock is a mainnet block with its transactions serialized.
type realBlock struct {
	height int64
	hash   string
	prev   string
	merkle string
	raw    []byte
	txids  []string
	txs    [][]byte
}

var (
	blockOnce sync.Once
	blockData *realBlock
	blockErr  error
)

// block277647 returns mainnet block 277647 from the btcd module, read once per process.
func block277647(tb testing.TB) *realBlock {
	tb.Helper()
	path := btcdtest.Block277647(tb)
	blockOnce.Do(func() { blockData, blockErr = readBlock(path) })
	if blockErr != nil {
		tb.Fatalf("load block 277647: %v", blockErr)
	}
	return blockData
}

// readBlock reads the first block of a replay file and serializes it and its transactions.
func readBlock(path string) (*realBlock, error) {
	r, err := bitcoin.OpenFile(path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	item, err := r.Next()
	if err != nil {
		return nil, err
	}

	var buf bytes.Buffer
	if err := item.Block.Serialize(&buf); err != nil {
		return nil, err
	}
	blk := &realBlock{height: 277647, hash: item.BlockHash.String(), raw: buf.Bytes(),
		prev:   item.Block.Header.PrevBlock.String(),
		merkle: item.Block.Header.MerkleRoot.String()}
	for _, tx := range item.Block.Transactions {
		var txBuf bytes.Buffer
		if err := tx.Serialize(&txBuf); err != nil {
			return nil, err
		}
		blk.txids = append(blk.txids, tx.TxHash().String())
		blk.txs = append(blk.txs, txBuf.Bytes())
	}
	return blk, nil
}

// txidOf computes the txid of a serialized non-witness transaction.
func txidOf(raw []byte) string {
	first := sha256.Sum256(raw)
	second := sha256.Sum256(first[:])
	slices.Reverse(second[:])
	return hex.EncodeToString(second[:])
}
