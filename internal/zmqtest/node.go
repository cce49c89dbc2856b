package zmqtest

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/whalecast/whalecast/internal/corerpc"
)

// Fee is what the node answers to getmempoolentry for one transaction: its fee in
// satoshis and its virtual size in vbytes.
type Fee struct {
	Sat, VSize int64
}

// Rate returns the fee rate in satoshis per vbyte, as the engine computes it.
func (f Fee) Rate() float64 { return float64(f.Sat) / float64(f.VSize) }

// cookieText is the cookie file the node writes and accepts: not a real secret.
const cookieText = "__cookie__:c0ffee-not-a-real-secret"

// Node plays Bitcoin Core's JSON-RPC server on 127.0.0.1: cookie authentication (401 with
// an empty body otherwise), JSON-RPC 1.0 calls and batches, errors as objects with HTTP
// status 500 for a single call. It serves a main chain, stale blocks and a mempool that
// the test edits, and records every call it answers.
//
// It answers getrawmempool (with mempool_sequence), getrawtransaction, getmempoolentry,
// getbestblockhash, getblockhash, getblock (verbosity 0) and getblockheader; any other
// method gets "Method not found". Nothing is checked by consensus.
type Node struct {
	srv    *httptest.Server
	cookie string

	mu sync.Mutex
	// login is the cookie file's contents: "__cookie__:PASSWORD".
	login string
	// chain is the main chain from height base up.
	chain []chainBlock
	base  int64
	// stale holds blocks off the main chain, by hash, with their heights.
	stale      map[chainhash.Hash]staleBlock
	mempool    []*wire.MsgTx
	fees       map[chainhash.Hash]Fee
	mempoolSeq uint64
	failures   map[string]int
	rotations  int
	holds      map[string]chan struct{}
	held       []string
	calls      []string
}

// chainBlock is a block of the node; blk is nil for a block known by its hash alone.
type chainBlock struct {
	hash chainhash.Hash
	blk  *wire.MsgBlock
}

func chainOf(blocks []*wire.MsgBlock) []chainBlock {
	out := make([]chainBlock, len(blocks))
	for i, blk := range blocks {
		out[i] = chainBlock{hash: blk.BlockHash(), blk: blk}
	}
	return out
}

type staleBlock struct {
	chainBlock
	height int64
}

// NewNode starts a node on 127.0.0.1 whose main chain is chain (at least one block), its
// first block at height base, and whose mempool is empty. Its cookie file is written in a
// temporary directory of tb. The node is closed when the test ends.
func NewNode(tb testing.TB, chain []*wire.MsgBlock, base int64) *Node {
	tb.Helper()
	if len(chain) == 0 {
		tb.Fatal("zmqtest: a node needs a chain of at least one block")
	}
	return startNode(tb, chainOf(chain), base)
}

// NewNodeAt starts a node whose main chain is one block known by its hash alone, at
// height: the parent of the first block a test mines when the test data lacks it, such as
// block 277646 under mainnet block 277647. The node answers getblockheader for it (its
// previousblockhash is the zero hash) and refuses getblock as a pruned node does. Its
// mempool is empty.
func NewNodeAt(tb testing.TB, hash chainhash.Hash, height int64) *Node {
	tb.Helper()
	return startNode(tb, []chainBlock{{hash: hash}}, height)
}

func startNode(tb testing.TB, chain []chainBlock, base int64) *Node {
	tb.Helper()
	n := &Node{chain: chain, base: base,
		stale: make(map[chainhash.Hash]staleBlock), fees: make(map[chainhash.Hash]Fee),
		failures: make(map[string]int), holds: make(map[string]chan struct{})}
	n.cookie = filepath.Join(tb.TempDir(), ".cookie")
	n.writeCookie(tb, cookieText)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("zmqtest: node listen: %v", err)
	}
	n.srv = httptest.NewUnstartedServer(http.HandlerFunc(n.serve))
	n.srv.Listener = ln
	n.srv.Start()
	tb.Cleanup(n.srv.Close)
	return n
}

// URL returns the node's RPC endpoint, http://127.0.0.1:PORT.
func (n *Node) URL() string { return n.srv.URL }

// CookieFile returns the path of the node's .cookie file.
func (n *Node) CookieFile() string { return n.cookie }

// Client returns a JSON-RPC client of the node, logged in with its cookie; its idle
// connections are closed when the test ends.
func (n *Node) Client(tb testing.TB) *corerpc.Client {
	tb.Helper()
	c, err := corerpc.New(corerpc.Config{URL: n.URL(), CookieFile: n.cookie})
	if err != nil {
		tb.Fatalf("zmqtest: rpc client: %v", err)
	}
	tb.Cleanup(c.CloseIdleConnections)
	return c
}

// AddTx puts tx in the mempool with fee.
func (n *Node) AddTx(tx *wire.MsgTx, fee Fee) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.mempool = append(n.mempool, tx)
	n.fees[tx.TxHash()] = fee
	n.mempoolSeq++
}

// RemoveTx takes tx out of the mempool.
func (n *Node) RemoveTx(tx *wire.MsgTx) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.removeLocked(tx.TxHash())
}

func (n *Node) removeLocked(txid chainhash.Hash) {
	before := len(n.mempool)
	n.mempool = slices.DeleteFunc(n.mempool, func(m *wire.MsgTx) bool {
		return m.TxHash() == txid
	})
	delete(n.fees, txid)
	if len(n.mempool) != before {
		n.mempoolSeq++
	}
}

// Connect adds blocks on top of the main chain; the transactions they mine leave the
// mempool.
func (n *Node) Connect(blocks ...*wire.MsgBlock) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.chain = append(n.chain, chainOf(blocks)...)
	for _, blk := range blocks {
		for _, tx := range blk.Transactions {
			n.removeLocked(tx.TxHash())
		}
	}
}

// Disconnect takes the tip off the main chain; it stays known as a stale block. Its
// transactions do not return to the mempool (a test adds back those it wants there). The
// last block of the chain stays.
func (n *Node) Disconnect() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.chain) < 2 {
		return
	}
	tip := n.chain[len(n.chain)-1]
	n.stale[tip.hash] = staleBlock{chainBlock: tip, height: n.base + int64(len(n.chain)) - 1}
	n.chain = n.chain[:len(n.chain)-1]
}

// RotateCookie writes a new cookie file, as Bitcoin Core does at every start: from now on
// the node accepts only the new one, and a client logged in with the old one gets 401
// until it reads the file again.
func (n *Node) RotateCookie(tb testing.TB) {
	tb.Helper()
	n.mu.Lock()
	defer n.mu.Unlock()
	n.rotations++
	n.writeCookie(tb, fmt.Sprintf("%s-%d", cookieText, n.rotations))
}

// writeCookie replaces the cookie file whole (a reader never sees half of it) and makes
// the node accept it; the caller holds n.mu, or the node does not serve yet.
func (n *Node) writeCookie(tb testing.TB, login string) {
	tb.Helper()
	tmp := n.cookie + ".tmp"
	if err := os.WriteFile(tmp, []byte(login), 0o600); err != nil {
		tb.Fatalf("zmqtest: write cookie: %v", err)
	}
	if err := os.Rename(tmp, n.cookie); err != nil {
		tb.Fatalf("zmqtest: write cookie: %v", err)
	}
	n.login = login
}

// FailNext makes the next count calls of method fail as an overloaded node does: HTTP 503
// "Work queue depth exceeded".
func (n *Node) FailNext(method string, count int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.failures[method] = count
}

// Hold makes the calls of method wait until release is called, the client gives up or
// WaitLimit passes.
func (n *Node) Hold(method string) (release func()) {
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

// HeldNow returns the methods of the calls waiting on a hold.
func (n *Node) HeldNow() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.held)
}

// TakeCalls returns the calls answered since the last take, one line each: the method and
// its first parameter ("getrawtransaction A,B" for a batch, "getrawmempool failed" for a
// call FailNext failed).
func (n *Node) TakeCalls() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	calls := n.calls
	n.calls = nil
	return calls
}

// CallCount returns how many calls the node answered since the last take.
func (n *Node) CallCount() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.calls)
}
