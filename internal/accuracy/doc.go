// Package accuracy watches how often whale alerts turn out right, and says when that rate
// falls too low and when it is good again.
//
// # Tour
//
// Every alert settles, some blocks after it was raised, with an [Outcome]: its transaction
// was [Confirmed], or it never was because it was [Replaced] (RBF), [Conflicted] (another
// transaction spent the same inputs) or [Dropped] (evicted or expired from the mempool). Only
// Confirmed counts as correct, so accuracy is confirmed / samples over the last
// [Config.Window] settled outcomes.
//
// A [Monitor] keeps those outcomes in a ring of fixed size, so [Monitor.Record] costs O(1)
// whatever the window. It gives no verdict until it holds [Config.MinSamples] outcomes.
// From then on it turns degraded when accuracy falls strictly below [Config.Threshold] (at
// the threshold exactly is still healthy) and recovers only once accuracy reaches
// Threshold + [Config.Hysteresis], so a rate hovering around the threshold does not flap.
// Record returns a [Transition] once per episode: [Degraded] when the monitor turns
// degraded, [Recovered] when it recovers, and [None] for every outcome in between.
//
// Accuracy is compared with the threshold and the recovery level with a tolerance of 1e-9,
// so a rate that is the threshold mathematically (14 of 20 against 0.7) is treated as equal
// to it whatever the float rounding.
//
// [Monitor.Snapshot] returns the state as a plain value with JSON tags, for a status
// endpoint or a log line.
//
// # Concurrency
//
// A Monitor is not safe for concurrent use: it is meant to be owned by one actor, which
// records outcomes and takes snapshots from its own goroutine. It starts no goroutine, reads
// no clock (the caller passes the time of each outcome) and never blocks.
package accuracy
