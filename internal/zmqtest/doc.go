// Package zmqtest is test support for the live feed (actors.ZMQFeed) and the engines that
// run it: a Publisher that frames messages exactly as Bitcoin Core's ZMQ notifier does, and
// a Node that plays Bitcoin Core's JSON-RPC server over a chain and a mempool the test
// edits. Nothing in the engine imports it; tests of several packages share it, so that
// there is one copy of both.
//
// Both listen on 127.0.0.1 only, on a port of their own, and are closed when the test that
// made them ends. Every wait they do is bounded: WaitSubscribed by WaitLimit, a held RPC
// call by release, by the client giving up, or by WaitLimit.
//
// Concurrency: a Publisher is driven by one test goroutine; its methods are not safe for
// concurrent use. A Node's methods may be called from any goroutine while it serves.
package zmqtest

import (
	"bytes"
	"time"

	"github.com/btcsuite/btcd/wire/v2"
)

// WaitLimit bounds every wait of this package. Publishing and serving take milliseconds;
// the margin is for -race on a loaded runner.
const WaitLimit = 10 * time.Second

// pollEvery is how often a wait checks its condition.
const pollEvery = 5 * time.Millisecond

// TxBytes returns the consensus serialization of tx, the body of a rawtx message.
func TxBytes(tx *wire.MsgTx) []byte {
	var buf bytes.Buffer
	// Serializing into memory cannot fail.
	_ = tx.Serialize(&buf)
	return buf.Bytes()
}

// BlockBytes returns the consensus serialization of blk, the body of a rawblock message.
func BlockBytes(blk *wire.MsgBlock) []byte {
	var buf bytes.Buffer
	_ = blk.Serialize(&buf)
	return buf.Bytes()
}
