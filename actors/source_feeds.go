package actors

import (
	"errors"
	"fmt"
	"io"

	"github.com/btcsuite/btcd/wire/v2"

	"github.com/whalecast/whalecast/internal/bitcoin"
)

// simFeed yields the simulator's endless, deterministic mempool.
type simFeed struct {
	seed int64
	sim  *bitcoin.Sim
}

// NewSimFeed returns a feed of simulated transactions; the same seed yields the same ones.
func NewSimFeed(seed int64) Feed {
	return &simFeed{seed: seed, sim: bitcoin.NewSim(seed)}
}

// Next implements Feed; the simulator never ends.
func (f *simFeed) Next() (FeedTx, error) { return FeedTx{Msg: f.sim.Next()}, nil }

// Rewind implements Feed: the same seed starts the same stream again.
func (f *simFeed) Rewind() error {
	f.sim = bitcoin.NewSim(f.seed)
	return nil
}

// Close implements Feed; the simulator holds no file.
func (f *simFeed) Close() error { return nil }

// replayFeed yields the non-coinbase transactions of block files (and the transactions of
// transaction files) one file after another, as if they arrived in the mempool.
type replayFeed struct {
	paths []string
	next  int
	r     *bitcoin.Reader
	txs   []*wire.MsgTx
}

// NewReplayFeed opens a replay of spec: comma-separated paths, each possibly a glob. Every
// file is opened and its format checked now, so that a typo stops the engine at start.
func NewReplayFeed(spec string) (Feed, error) {
	paths, err := bitcoin.ExpandPaths(spec)
	if err != nil {
		return nil, err
	}
	for _, p := range paths {
		r, err := bitcoin.OpenFile(p)
		if err != nil {
			return nil, err
		}
		if err := r.Close(); err != nil {
			return nil, fmt.Errorf("close %s: %w", p, err)
		}
	}
	return &replayFeed{paths: paths}, nil
}

// Next returns the next transaction. A corrupt file ends that file with its error (naming
// the file and offset); the following call goes on with the next file.
func (f *replayFeed) Next() (FeedTx, error) {
	for {
		if len(f.txs) > 0 {
			tx := f.txs[0]
			f.txs = f.txs[1:]
			return FeedTx{Msg: tx}, nil
		}
		if f.r == nil {
			if f.next >= len(f.paths) {
				return FeedTx{}, io.EOF
			}
			r, err := bitcoin.OpenFile(f.paths[f.next])
			f.next++
			if err != nil {
				return FeedTx{}, err
			}
			f.r = r
		}
		item, err := f.r.Next()
		switch {
		case errors.Is(err, io.EOF):
			f.closeFile()
		case err != nil:
			f.closeFile()
			return FeedTx{}, err
		case item.Tx != nil:
			return FeedTx{Msg: item.Tx}, nil
		case item.Block != nil:
			f.txs = nonCoinbase(item.Block.Transactions)
		}
	}
}

func nonCoinbase(txs []*wire.MsgTx) []*wire.MsgTx {
	out := txs[:0:0]
	for _, tx := range txs {
		if !bitcoin.IsCoinbase(tx) {
			out = append(out, tx)
		}
	}
	return out
}

func (f *replayFeed) closeFile() {
	if f.r != nil {
		_ = f.r.Close()
		f.r = nil
	}
}

// Rewind implements Feed: the replay starts again at its first file.
func (f *replayFeed) Rewind() error {
	f.closeFile()
	f.next, f.txs = 0, nil
	return nil
}

// Close implements Feed: it closes the file being read.
func (f *replayFeed) Close() error {
	f.closeFile()
	return nil
}
