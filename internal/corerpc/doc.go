// Package corerpc is a small JSON-RPC client for Bitcoin Core, used by the engine to
// rebuild its mempool view after a gap in the ZMQ feed and to read fees and blocks.
//
// New validates a [Config] and returns a [Client]; it sends nothing. The methods map one to
// one onto Bitcoin Core calls: [Client.RawMempool] (getrawmempool false true),
// [Client.RawTransactions] (getrawtransaction in batches), [Client.MempoolEntries]
// (getmempoolentry in batches), [Client.BestBlockHash], [Client.BlockHash], [Client.Block]
// (getblock <hash> 0) and [Client.BlockHeader]. Requests are JSON-RPC 1.0, as bitcoin-cli
// sends them, with ids from a per-client counter.
//
// # Trust
//
// The node is trusted to be Bitcoin Core but not to be well-formed. Every body is read
// through a limit (Config.MaxResponse, 32 MiB by default), every batch answer is matched
// to its calls by id, and every txid, hash and hex string is checked. Fees are converted
// from the decimal text of fees.base, never through floating point. Redirects are not
// followed and proxies from the environment are ignored.
//
// # Errors
//
// An error object from the node is an [*Error] with its code (see [CodeNotFound] and the
// other constants); Core sends these with HTTP status 500, or 404 for an unknown method.
// 401 and 403 are [ErrUnauthorized]; any other status is a [*StatusError] quoting at most
// 200 bytes of the body. Within a batch, a transaction the node no longer knows (code -5)
// is a nil entry or Found false; any other item error fails the whole call. No error,
// String or LogValue shows the password or the cookie.
//
// # Cookie
//
// With Config.CookieFile, the cookie is read by New and read again when the node answers
// 401, since Bitcoin Core writes a new one each time it starts. If it changed, the call is
// retried once with it.
//
// # Concurrency
//
// A Client is safe for concurrent use and holds no goroutine of its own. Every method
// blocks until the node answers, ctx ends, or Config.Timeout (10 s by default) passes for
// one HTTP exchange. A method may make more than one exchange: two when the cookie is
// renewed, and one per MaxBatch txids for the batch methods.
package corerpc
