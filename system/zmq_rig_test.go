package system_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/gorilla/websocket"

	"github.com/whalecast/whalecast/actors"
	"github.com/whalecast/whalecast/internal/auth"
	"github.com/whalecast/whalecast/internal/bitcoin"
	"github.com/whalecast/whalecast/internal/chaintest"
	"github.com/whalecast/whalecast/internal/zmqtest"
)

// zmqSettleBlocks is the engines' --settle-blocks in the ZMQ tests: small, so that a few
// blocks make outcomes final.
const zmqSettleBlocks = 2

// graceQuiet is how long a client must then hear nothing for no decision to be pending:
// the removal grace, a tick of the tracker that decides it, and a margin.
const graceQuiet = actors.DefaultRemovalGrace + actors.DefaultTrackerTick + 500*time.Millisecond

// baseHeight is the height of the fake node's tip when an engine connects: block 277646,
// the parent of block 277647, known to the node by its hash alone (the test data lacks
// it). The blocks the tests mine are 277647 and up.
const baseHeight = 277646

// zmqWhale is a whale the tests publish: a real transaction of block 277647 or one built
// from it, and the fee the fake node gives it.
type zmqWhale struct {
	tx       *wire.MsgTx
	txid     string
	valueSat int64
	fee      zmqtest.Fee
}

func newZMQWhale(tx *wire.MsgTx, fee zmqtest.Fee) zmqWhale {
	s := bitcoin.Summarize(tx)
	return zmqWhale{tx: tx, txid: s.TxID, valueSat: s.ValueSat, fee: fee}
}

// zmqRig is an engine whose source is a publisher on 127.0.0.1, with the fake node as its
// --rpc (unless the rig runs without it), and a client that follows the engine live from
// before the first record. Block 277647, its three whales (W[0] 103 BTC, W[1] 927 BTC,
// W[2] 133 BTC) and its parent, the node's tip, are at hand.
type zmqRig struct {
	te     *testEngine
	pub    *zmqtest.Publisher
	node   *zmqtest.Node
	rpc    bool
	tok    string
	live   *websocket.Conn
	block  *wire.MsgBlock
	hash   chainhash.Hash
	parent chainhash.Hash
	W      []zmqWhale
	// got is every record the live client received, in order.
	got []serverMsg
}

// startZMQRig starts the publisher, the node and the engine, waits for the engine's
// subscription (and, with RPC, its baseline), and authenticates the live client.
func startZMQRig(t *testing.T, rpc bool) *zmqRig {
	t.Helper()
	block, hash, _ := chaintest.Block277647(t)
	parent := block.Header.PrevBlock
	r := &zmqRig{rpc: rpc, block: block, hash: hash, parent: parent,
		pub: zmqtest.NewPublisher(t, ""), node: zmqtest.NewNodeAt(t, parent, baseHeight)}
	fees := []zmqtest.Fee{{Sat: 42_230, VSize: 4223}, {Sat: 22_500, VSize: 225},
		{Sat: 33_913, VSize: 226}}
	for _, tx := range block.Transactions {
		if i := slices.Index(wantWhales, tx.TxHash().String()); i >= 0 {
			r.W = append(r.W, newZMQWhale(tx, fees[i]))
		}
	}
	if len(r.W) != len(wantWhales) {
		t.Fatalf("found %d whales in block 277647, want %d", len(r.W), len(wantWhales))
	}

	cfg := replayConfig(t)
	cfg.Source = "zmq:" + r.pub.Endpoint()
	cfg.SettleBlocks = zmqSettleBlocks
	if rpc {
		cfg.RPC, cfg.RPCCookieFile = r.node.URL(), r.node.CookieFile()
	}
	r.te = startEngine(t, cfg)
	r.pub.WaitSubscribed(t)
	if rpc {
		r.expectCalls(t, "getrawmempool", "getbestblockhash",
			"getblockheader "+parent.String())
	}

	r.tok = token(t, "watcher", auth.PermRead)
	r.live = dial(t, r.te.wsURL())
	authenticate(t, r.live, r.tok, -1)
	return r
}

// expectCalls waits until the node answered len(want) calls since the last check and
// compares them.
func (r *zmqRig) expectCalls(t *testing.T, want ...string) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d calls to the node", len(want)), func() bool {
		return r.node.CallCount() >= len(want)
	})
	if got := r.node.TakeCalls(); !slices.Equal(got, want) {
		t.Errorf("calls to the node\n got %q\nwant %q", got, want)
	}
}

// announce puts w in the node's mempool, with its fee, and publishes it as it enters.
func (r *zmqRig) announce(t *testing.T, w zmqWhale) {
	t.Helper()
	r.node.AddTx(w.tx, w.fee)
	r.pub.PublishTx(t, w.tx)
}

// mine connects blk on the node and publishes it, with a rawtx for each of its
// transactions when announceTxs is set.
func (r *zmqRig) mine(t *testing.T, blk *wire.MsgBlock, announceTxs bool) {
	t.Helper()
	r.node.Connect(blk)
	r.pub.PublishBlock(t, blk, announceTxs)
}

// expect reads len(want) more records from the live client and checks them. When one
// does not come within waitTimeout it fails t, naming the records that did come and those
// still missing.
func (r *zmqRig) expect(t *testing.T, want ...zmqWant) {
	t.Helper()
	var got []serverMsg
	for len(got) < len(want) {
		m, err := tryRead(r.live, waitTimeout)
		if err != nil {
			checkZMQRecords(t, got, want)
			t.Fatalf("after %d of these %d records: %v", len(got), len(want), err)
		}
		if !m.isRecord() {
			t.Fatalf("got a %s message, want whale_alert or alert_update", m.Type)
		}
		got = append(got, m)
	}
	checkZMQRecords(t, got, want)
	r.got = append(r.got, got...)
}

// finish checks that the engine stored exactly the records the live client received and
// that nothing more comes within liveQuiet; then that clients resuming from each of
// sinces receive the same tail, and nothing more.
func (r *zmqRig) finish(t *testing.T, liveQuiet time.Duration, sinces ...uint64) {
	t.Helper()
	r.te.waitLastSeq(t, uint64(len(r.got)))
	expectNothing(t, r.live, liveQuiet)
	r.te.waitLastSeq(t, uint64(len(r.got)))

	want := make([]wantRecord, len(r.got))
	for i, m := range r.got {
		want[i] = recordOf(m)
	}
	for _, since := range sinces {
		c := dial(t, r.te.wsURL())
		authenticate(t, c, r.tok, int64(since))
		tail := readRecords(t, c, len(want)-int(since))
		checkRecords(t, tail, want[since:])
		for i, m := range tail {
			if string(m.Raw) != string(r.got[int(since)+i].Raw) {
				t.Errorf("since %d: record seq %d resumed as\n%s\nwant as sent live\n%s",
					since, m.Seq, m.Raw, r.got[int(since)+i].Raw)
			}
		}
		expectNothing(t, c, quiet)
	}
}

// zmqStats reads the feed's counters from /api/v1/stats.
func (r *zmqRig) zmqStats(t *testing.T) actors.ZMQStats {
	t.Helper()
	var body struct {
		Source struct {
			ZMQ actors.ZMQStats `json:"zmq"`
		} `json:"source"`
	}
	if code := getJSON(t, r.te, "/api/v1/stats", r.tok, &body); code != 200 {
		t.Fatalf("GET /api/v1/stats = %d, want 200", code)
	}
	return body.Source.ZMQ
}

// zmqWant is a record the live client must receive: wantRecord's fields, and those a
// whale_alert or an alert_update carries besides.
type zmqWant struct {
	rec wantRecord
	// replacedBy, conflictedBy and blockHash are an alert_update's.
	replacedBy, conflictedBy, blockHash string
	// fee is a whale_alert's fee and rate: nil wants null.
	fee *zmqtest.Fee
}

// alertOf is the whale_alert of w at seq, with the node's fee when withFee is set.
func alertOf(seq uint64, w zmqWhale, withFee bool) zmqWant {
	out := zmqWant{rec: wantRecord{typ: "whale_alert", seq: seq, txid: w.txid,
		valueSat: w.valueSat, status: "mempool"}}
	if withFee {
		fee := w.fee
		out.fee = &fee
	}
	return out
}

// updateOf is an alert_update of w at seq, about its alert at alertSeq.
func updateOf(seq uint64, w zmqWhale, alertSeq uint64, status, previous string) zmqWant {
	return zmqWant{rec: wantRecord{typ: "alert_update", seq: seq, txid: w.txid,
		valueSat: w.valueSat, status: status, previous: previous, alertSeq: alertSeq}}
}

// in sets the block of an update, and its confirmations (0 for any status but confirmed).
func (z zmqWant) in(height int64, hash chainhash.Hash, confirmations int64) zmqWant {
	z.rec.height, z.blockHash, z.rec.confirmations = height, hash.String(), confirmations
	return z
}

func (z zmqWant) final() zmqWant {
	z.rec.final = true
	return z
}

func (z zmqWant) replacedByTx(tx *wire.MsgTx) zmqWant {
	z.replacedBy = tx.TxHash().String()
	return z
}

func (z zmqWant) conflictedByTx(tx *wire.MsgTx) zmqWant {
	z.conflictedBy = tx.TxHash().String()
	return z
}

// zmqExtra is what checkZMQRecords reads of a record besides recordOf.
type zmqExtra struct {
	ReplacedBy   string   `json:"replaced_by"`
	ConflictedBy string   `json:"conflicted_by"`
	BlockHash    string   `json:"block_hash"`
	FeeSat       *int64   `json:"fee_sat"`
	FeeRate      *float64 `json:"fee_rate_sat_vb"`
}

// checkZMQRecords checks that got holds exactly the records of want, in order, extra
// fields included.
func checkZMQRecords(tb testing.TB, got []serverMsg, want []zmqWant) {
	tb.Helper()
	recs := make([]wantRecord, len(want))
	for i, w := range want {
		recs[i] = w.rec
	}
	checkRecords(tb, got, recs)

	for i, m := range got[:min(len(got), len(want))] {
		var f struct {
			Data zmqExtra `json:"data"`
		}
		if err := json.Unmarshal(m.Raw, &f); err != nil {
			tb.Fatalf("decode %s: %v", m.Raw, err)
		}
		x, w := f.Data, want[i]
		if x.ReplacedBy != w.replacedBy || x.ConflictedBy != w.conflictedBy ||
			x.BlockHash != w.blockHash {
			tb.Errorf("seq %d: replaced_by %q conflicted_by %q block_hash %q, want %q %q %q",
				m.Seq, x.ReplacedBy, x.ConflictedBy, x.BlockHash, w.replacedBy,
				w.conflictedBy, w.blockHash)
		}
		if m.Type == "whale_alert" {
			checkFee(tb, m.Seq, x, w.fee)
		}
	}
}

// checkFee checks a whale_alert's fee_sat and fee_rate_sat_vb: the node's figures, or
// null when want is nil.
func checkFee(tb testing.TB, seq uint64, x zmqExtra, want *zmqtest.Fee) {
	tb.Helper()
	switch {
	case want == nil && (x.FeeSat != nil || x.FeeRate != nil):
		tb.Errorf("seq %d: fee_sat %v fee_rate_sat_vb %v, want null", seq,
			deref(x.FeeSat), deref(x.FeeRate))
	case want != nil && (x.FeeSat == nil || x.FeeRate == nil):
		tb.Errorf("seq %d: fee_sat %v fee_rate_sat_vb %v, want %d and %v", seq,
			deref(x.FeeSat), deref(x.FeeRate), want.Sat, want.Rate())
	case want != nil && (*x.FeeSat != want.Sat || *x.FeeRate != want.Rate()):
		tb.Errorf("seq %d: fee_sat %d fee_rate_sat_vb %v, want %d and %v", seq, *x.FeeSat,
			*x.FeeRate, want.Sat, want.Rate())
	}
}

func deref[T any](p *T) any {
	if p == nil {
		return "null"
	}
	return *p
}

// freshWhale returns a copy of tx whose first input spends another output (index moved
// by salt): a new whale of the same value that conflicts with nothing when tx has one
// input.
func freshWhale(tx *wire.MsgTx, salt uint32, fee zmqtest.Fee) zmqWhale {
	out := tx.Copy()
	out.TxIn[0].PreviousOutPoint.Index += 1000 + salt
	return newZMQWhale(out, fee)
}
