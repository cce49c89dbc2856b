// Package bitcoin decodes Bitcoin transactions and blocks, summarizes transactions for
// whale detection, replays block files, and simulates a mainnet-like transaction stream.
//
// # Transactions
//
// DecodeTx decodes one transaction in consensus serialization, witness data included
// (BIP144), and rejects trailing bytes. Summarize reduces a transaction to what the engine
// needs: txid, total output value, counts, largest output, virtual size (BIP141) and the
// BIP125 replaceability signal. IsCoinbase tells block rewards apart.
//
// # Replay files
//
// ExpandPaths turns a comma-separated list of paths and globs into files. OpenFile opens
// one and guesses its format from its first bytes:
//
//   - "BZh1" to "BZh9": bzip2; the decompressed stream is then sniffed again.
//   - a known network magic (mainnet, testnet3, testnet4, regtest, signet): Bitcoin Core
//     blk*.dat records of magic, 4-byte little-endian length and block. Every record must
//     carry the first record's magic. Zero bytes where a record should start are the
//     padding Core preallocates: they must run to the end of the file.
//   - no control bytes other than tab, CR and LF in the first 512 bytes: text, one hex
//     item per line. Blank lines and lines starting with '#' are skipped, surrounding
//     blanks are trimmed. A line is a block if it decodes as exactly one block whose first
//     transaction is a coinbase, and a transaction otherwise.
//   - anything else: raw blocks back to back (what `getblock <hash> 0` returns,
//     hex-decoded), optionally followed by zero padding.
//
// Reader.Next returns one Item, a block with its hash or a standalone transaction, and
// io.EOF after the last. Damage ends the replay with a *FileError that names the file and
// the offset in the decompressed stream (and the line, for text) of the item at fault; it
// wraps a sentinel such as ErrTruncated, ErrBadMagic or ErrTooLarge. No length or count
// read from a file is trusted before it is checked against MaxRecordSize (8 MiB), so a
// corrupt file cannot make the reader allocate more than that; the reader streams and
// holds only its 64 KiB read-ahead and one item.
//
// # Simulator
//
// NewSim returns a deterministic stream of well-formed transactions whose shapes follow
// mainnet (counts, values, script types, segwit, RBF, versions, lock times) except for a
// whale tail raised on purpose to about 4% of transactions, so that at the engine's
// default 7 tx/s a transaction of at least 100 BTC appears about every 3.6 seconds. The
// figures and their origins are in docs/simulator.md. NewSimBlock wraps transactions in a
// block of the simulated chain: a coinbase stating its height (HeightScript, the inverse of
// CoinbaseHeight) and a correct MerkleRoot, without proof of work.
//
// # Concurrency
//
// The functions are safe for concurrent use. A Reader or a Sim belongs to one goroutine
// at a time. Decoded transactions and blocks share no memory with the Reader, so they may
// be handed to other goroutines while it reads on.
package bitcoin
