// Package load is the load tool behind `engine bench`: it opens many authenticated
// WebSocket clients against an engine (or bench/floor), publishes marked alerts through the
// admin publish route, and measures, per alert and per client, the time from the alert's
// first_seen to its receipt, and what was lost or received twice.
//
// # Tour
//
//   - config.go: [Config], its defaults and bounds, and [Config.Check]. A URL that is not
//     on this machine is refused unless AllowRemote is set.
//   - credentials.go: [Credentials] and the [Minter], which signs a token per client with
//     the engine's HS256 secret or key ring, as `engine token` does.
//   - run.go: [Run] and its phases: the ramp of clients, publishing until Duration, the
//     drain, the stop. client.go is one connection: dial, auth, welcome, subscribe
//     (min_btc 0), read; frame.go reads server messages, whale_alerts without a JSON
//     decoder. publish.go calls the publish route at a steady rate.
//   - histogram.go: the latency [Histogram], log-linear buckets of fixed memory.
//     receipts.go: each client's bitmap of seqs received, and the loss and duplicate
//     accounting against the published seqs.
//   - sample.go: the one-second timeline and the progress line; rss.go reads the
//     server's resident memory; result.go: [Result] and its table; report.go and
//     report_plots.go write the JSON and the HTML report with its plots (gonum/plot SVG,
//     inside the page).
//
// # Accounting
//
// A client owes every published alert whose seq is above its welcome's seq: the server
// delivers those live. Lost counts, over the clients that completed their handshake, the
// owed alerts never received, whether the connection stayed or the server dropped it;
// duplicates count a seq received twice by one client. Latency is measured on first
// receipt only, on the machine's wall clock, which the server shares with the tool.
//
// # Concurrency
//
// Each client runs on one goroutine that owns its receipts until it returns; the run
// reads only atomics until then. Counters shared by clients are atomics and the histogram
// takes no lock; the map of failure causes is behind a mutex. The publisher runs on its
// own goroutine with one call in flight. Run's own goroutine samples, drains and stops.
// Everything is bounded: clients (MaxClients), handshakes in flight (MaxDialsInFlight),
// published alerts (MaxPublished), seqs tracked per client (MaxTrackedSeqs), message size,
// timeline length, and every wait has a deadline.
package load
