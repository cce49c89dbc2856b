// Package persistence stores whale alerts and their status updates: numbered densely in one
// seq space, alerts deduplicated by txid, on disk before Append returns, and read back in
// pages for replays. With each record it keeps the lifecycle tracker's state for the txid,
// which States reads back when the tracker starts. In the same database it keeps the access
// layer's security records: the audit log, token revocations and API keys.
//
// # Tour
//
//   - Store (store.go) is the contract. store_batch.go validates a batch and plans it
//     (numbering, dedupe, the AlertSeq of updates) for both implementations.
//     persistence/storetest.RunContract checks the contract against every implementation.
//   - Badger (badger*.go) is the engine's store, kept in DATA/badger.
//   - Memory (memory.go) has the same numbering, dedupe and failure semantics in memory, for
//     tests and benchmarks; Memory.FailWrites injects a disk failure.
//   - SecurityStore (security.go) is the contract for the security records, checked by
//     persistence/storetest.RunSecurityContract; Badger and Memory implement it too
//     (badger_security*.go, memory_security.go). security_audit.go and security_guard.go
//     validate audit events and refuse tokens and API keys in them; security_apikey.go
//     makes API keys and hashes them.
//   - Sentinel errors live in errors.go.
//
// # Durability: synchronous writes, not Sync after commit
//
// Badger is opened with SyncWrites, so a commit fsyncs the write-ahead log before Commit
// returns. An explicit DB.Sync after each commit would be wrong here for two reasons.
// First, a commit is visible to readers as soon as it is applied, before a later Sync runs:
// a replay (Range) could hand a client an alert that a power loss then takes back. With
// SyncWrites, readers wait for the commit to finish, and it finishes after the fsync.
// Second, a Sync that fails after a successful commit would leave the batch numbered and
// readable while Append reports an error. SyncWrites also syncs Badger's own file writes.
// The price is one fsync per Append, so the store actor should pass whatever queued while
// the previous Append ran as one batch (see BenchmarkAppend).
//
// If an fsync itself fails, the kernel may still write the batch later, and it can show up
// after a restart, always whole and with its counter: the store never shows a hole or part
// of a batch, but it cannot take back what the kernel wrote.
//
// # Numbering and key layout
//
// The single writer numbers records from the counter kept in memory and writes the new
// counter in the same transaction as the records, so seqs stay dense across crashes.
// badger.Sequence is not used: it leases ranges and skips the unused rest after a crash.
//
//	a/<seq, 8 bytes big-endian>  kind byte + record JSON         TTL = Retention
//	t/<txid>                     alert's seq: dedupe, AlertSeq   TTL = Retention
//	s/<txid>                     tracker state (opaque bytes)    TTL = Retention
//	m/last_seq                   highest seq ever assigned       no TTL
//	l/<seq, 8 bytes big-endian>  audit event JSON                TTL = Retention
//	m/audit_last_seq             highest audit seq ever assigned no TTL
//	r/<kind>/<value>             revocation JSON (at, until)     expires at its Until
//	k/<SHA-256 of the key>       API key JSON, never the key     no TTL
//	i/<API key id>               SHA-256 of that id's key        no TTL
//
// Every family is one letter that no other family uses, and a slash. Audit events are
// numbered like records, from their own counter written in their transaction, so audit
// seqs are dense too. An API key is found by the hash of what the client presents, never by
// comparing plaintexts (see HashAPIKey for why a plain SHA-256 is enough).
//
// A record's value is one byte of alert.Kind (0 a whale alert, alert.EncodeData; 1 an
// alert update, alert.EncodeUpdate) followed by its JSON; a value that starts with '{' was
// written before updates existed and is an alert. Alerts and updates share the a/ family,
// so Range, Count and retention treat them alike.
//
// Test alerts get an a/ key but no t/ key: they are never deduplicated and never cause a
// real alert to be skipped. Updates get no t/ key either; an update's AlertSeq is read from
// the t/ key of its txid when it is written, and is 0 once that key has expired.
//
// An s/ key holds the state of the last record of its txid that carried one, and expires
// with that record; ForgetState deletes it. A duplicate alert, which is skipped, writes no
// state.
//
// # Retention and Count
//
// Expiry is set per batch in whole seconds, rounded up, and never earlier than the previous
// batch's in the same process, so records expire in seq order even if the clock steps
// back. Badger hides expired keys at once and drops them in compaction; a goroutine runs
// the value-log GC every GCInterval until Close. Once a txid's index entry has expired, the
// same txid is stored again under a new seq. Because expiry follows seq order, the stored
// records (alerts and updates) are always oldest..LastSeq: Count keeps oldest in memory and
// seeks to the next stored record only after oldest expired, instead of scanning on each
// call. A tracker state lives as long as the last record written with it, so a txid that
// nothing is written for any more loses its state with its last record.
//
// # Failure
//
// The store fails closed. The first storage error in Append fails the store: that Append
// and every later one return errors wrapping ErrFailed, Range refuses to read, the GC
// stops, and Health reports the cause until the engine reopens the store. This is needed,
// not only prudent: when Badger v4.9.6 cannot create its next memtable file (a full disk or
// an unwritable directory), it is left without a mutable memtable, the next write aborts
// the process and every read dereferences nil. Close on a failed store waits at most
// FailedCloseTimeout, since Badger then retries its memtable flush until the directory
// works again; the directory lock is released only once Badger has finished.
//
// A batch that Append refuses before writing (ErrInvalidBatch: too many records, a missing
// txid, an unknown status, an oversized state, an unencodable record) stores nothing and
// leaves the store healthy. Badger looks up the txid index in the write transaction, after
// the batch was checked; a failed lookup fails the store like a failed write.
//
// The security records share that state: a storage error in any SecurityStore write fails
// the whole store, alerts included, and a failed store refuses security reads and writes
// too, so an API key cannot be checked against a store that lost a write. Refusals (an
// invalid record, a field that looks secret, an unknown id, a duplicate key, a record that
// cannot be decoded) leave the store healthy.
//
// # One engine per directory
//
// OpenBadger takes an exclusive flock on DIR/whalecast.lock before it opens Badger, which
// takes its own lock on DIR/LOCK. Both are released by the kernel when the process dies. A
// second opener, in this process or another, gets an error wrapping ErrLocked.
//
// # Concurrency contract
//
//   - Append is meant for one goroutine, the store actor. Concurrent calls are serialised,
//     not refused. It blocks for one fsync, and waits while a value-log GC pass runs.
//   - Range, States, LastSeq, Count and Health may be called from any goroutine,
//     concurrently with Append. LastSeq and Health never touch the disk. Count seeks once
//     after the oldest record expired, and returns the last figure while Close runs. Range
//     reads one page, and never returns a seq above the LastSeq published when it started,
//     so no reader sees a batch before its Append returned. States reads a page of states
//     at a time and calls its function between pages, holding no lock.
//   - The SecurityStore writes may be called from any goroutine. They take the same writer
//     lock as Append, so one fsynced commit of alerts or security records runs at a time
//     and nothing reaches Badger after a failed write; an access layer that audits a flood
//     of events should batch them, as the store actor batches alerts. The SecurityStore
//     reads behave like Range.
//   - Close may be called from any goroutine, more than once. It stops the GC, then waits
//     for an Append, a Range or a page of States in progress.
//   - Memory's methods are all safe for concurrent use.
//
// # Known shortcomings
//
// A damaged table file (*.sst) crashes the process inside OpenBadger: Badger v4.9.6 opens
// tables in goroutines of its own and panics there, where no recover can reach (a damaged
// MANIFEST returns ErrCorrupt). While the directory stays broken after a failure, Badger
// logs its flush retry once a second; the store does not rate-limit Badger's lines. Count
// relies on records expiring in seq order, which a change of Retention between runs breaks
// for a while: after a shorter retention, or after 0 (forever) became a finite retention,
// Count also counts newer records that expired before older ones, until the older ones
// expire (never, for those stored with retention 0).
//
// The audit guard knows the shape of a JWT and of an API key, not of a raw secret: random
// bytes in hex or base64 look like any identifier, so callers never hand secret material
// to the audit log. Text that a client controls (a claimed client id, an Origin) can be
// made to look like a token, and AppendAudit then refuses the whole batch; a caller that
// audits such text passes the event through RedactAuditEvent first, so the event is kept.
// Revocations and APIKeys load every live record: there are as many as operators made.
package persistence
