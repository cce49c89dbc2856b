package actors

import (
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/whalecast/whalecast/internal/bitcoin"
)

// replayFeed yields the transactions of block files (and of transaction files) one file after
// another, as if they arrived in the mempool. After a block's transactions it reports the
// block connected, so alerts go through their lifecycle on real blocks. A block whose parent
// is an earlier block instead of the tip (or the parent of an earlier block: a sibling) makes
// it disconnect the blocks above that parent first: that is how a reorg is replayed.
type replayFeed struct {
	paths []string
	next  int
	r     *bitcoin.Reader
	queue []FeedTx
	chain replayChain
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

// Next returns the next transaction or chain event. A corrupt file ends that file with its
// error (naming the file and offset); the following call goes on with the next file.
func (f *replayFeed) Next() (FeedTx, error) {
	for {
		if len(f.queue) > 0 {
			item := f.queue[0]
			f.queue = f.queue[1:]
			return item, nil
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
			f.queueBlock(item.Block, item.BlockHash)
		}
	}
}

// queueBlock queues the disconnections a fork needs, the block's transactions and then its
// connection.
func (f *replayFeed) queueBlock(b *wire.MsgBlock, hash chainhash.Hash) {
	if f.chain.has(hash) {
		// Listed twice (a file given twice, overlapping globs): it is on the chain already.
		return
	}
	for _, gone := range f.chain.forkTo(b.Header.PrevBlock) {
		f.queue = append(f.queue, FeedTx{Event: &ChainEvent{Kind: BlockDisconnected,
			Hash: gone}})
	}
	for _, tx := range b.Transactions {
		if !bitcoin.IsCoinbase(tx) {
			f.queue = append(f.queue, FeedTx{Msg: tx})
		}
	}
	height := f.chain.connect(b, hash)
	f.queue = append(f.queue, FeedTx{Event: &ChainEvent{Kind: BlockConnected, Block: b,
		Hash: hash, Height: height}})
}

// replayChain remembers the last blocks a replay connected, to give heights to blocks that
// do not state theirs and to find the blocks a fork disconnects.
type replayChain struct {
	blocks []chainLink // oldest first; the last one is the tip
}

type chainLink struct {
	hash, prev chainhash.Hash
	height     int64
}

// maxReplayChain bounds the blocks a replay remembers, so the deepest reorg it can replay.
const maxReplayChain = 100

// forkTo returns, tip first, the blocks to disconnect before a block whose parent is prev:
// those above prev when prev is a remembered block, or those from a remembered sibling of
// the new block up. It returns nothing when prev is the tip or unknown (a replay of
// unrelated blocks).
func (c *replayChain) forkTo(prev chainhash.Hash) []chainhash.Hash {
	var gone []chainhash.Hash
	for i := len(c.blocks) - 1; i >= 0; i-- {
		link := c.blocks[i]
		if link.hash == prev {
			c.blocks = c.blocks[:i+1]
			return gone
		}
		gone = append(gone, link.hash)
		if link.prev == prev {
			c.blocks = c.blocks[:i]
			return gone
		}
	}
	return nil
}

// has reports whether the block is on the remembered chain.
func (c *replayChain) has(hash chainhash.Hash) bool {
	return slices.ContainsFunc(c.blocks, func(l chainLink) bool { return l.hash == hash })
}

// connect records a block as the new tip and returns its height: stated in its coinbase
// (BIP34), else one above a remembered parent (or the genesis block), else 0 (unknown).
func (c *replayChain) connect(b *wire.MsgBlock, hash chainhash.Hash) int64 {
	height, ok := bitcoin.CoinbaseHeight(b)
	if !ok {
		height = c.heightAfter(b.Header.PrevBlock)
	}
	if len(c.blocks) >= maxReplayChain {
		c.blocks = slices.Delete(c.blocks, 0, 1)
	}
	c.blocks = append(c.blocks, chainLink{hash: hash, prev: b.Header.PrevBlock, height: height})
	return height
}

func (c *replayChain) heightAfter(prev chainhash.Hash) int64 {
	if prev == bitcoin.MainnetGenesis {
		return 1
	}
	for i := len(c.blocks) - 1; i >= 0; i-- {
		if l := c.blocks[i]; l.hash == prev && l.height > 0 {
			return l.height + 1
		}
	}
	return 0
}

func (f *replayFeed) closeFile() {
	if f.r != nil {
		_ = f.r.Close()
		f.r = nil
	}
}

// Rewind implements Feed: the replay starts again at its first file, with a new chain.
func (f *replayFeed) Rewind() error {
	f.closeFile()
	f.next, f.queue, f.chain = 0, nil, replayChain{}
	return nil
}

// Close implements Feed: it closes the file being read.
func (f *replayFeed) Close() error {
	f.closeFile()
	return nil
}
