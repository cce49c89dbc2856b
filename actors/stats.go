package actors

import (
	"sync/atomic"
	"time"

	"github.com/whalecast/whalecast/internal/accuracy"
)

// Stats holds the engine's counters. Actors only add to them; readers (the REST API, tests,
// the bench) take a Snapshot. All fields are safe for concurrent use.
type Stats struct {
	Started time.Time

	ConnsUnauthenticated atomic.Int64
	ConnsAuthenticated   atomic.Int64
	AuthFailures         atomic.Int64
	AuthTimeouts         atomic.Int64
	RateLimited          atomic.Int64
	SlowConsumerCloses   atomic.Int64

	TxsReceived    atomic.Int64
	TxDecodeErrors atomic.Int64
	DuplicateTxs   atomic.Int64
	AlertsDetected atomic.Int64
	AlertsStored   atomic.Int64
	UpdatesStored  atomic.Int64
	AlertsSettled  atomic.Int64
	Tracked        atomic.Int64
	ChainTip       atomic.Int64

	BlocksConnected    atomic.Int64
	BlocksDisconnected atomic.Int64
	// Accuracy is the accuracy monitor's latest snapshot; nil before the monitor starts.
	Accuracy        atomic.Pointer[accuracy.Snapshot]
	AlertsPublished atomic.Int64
	AlertsLost      atomic.Int64
	Deliveries      atomic.Int64
	StoreErrors     atomic.Int64
	SourceErrors    atomic.Int64
	ActorFailures   atomic.Int64
	ActorRestarts   atomic.Int64

	TokensRefreshed atomic.Int64
	SessionsRevoked atomic.Int64
	IPBans          atomic.Int64
	AuditWritten    atomic.Int64
	AuditDropped    atomic.Int64

	// StorePending is the records waiting for the store's next group commit, and
	// BroadcastLag the records stored but not yet handed to the sessions (the store's
	// published seq minus the broadcaster's offered one); the store actor sets both.
	StorePending atomic.Int64
	BroadcastLag atomic.Int64
	// WebhooksPending is the deliveries in the webhook outboxes, queued or in flight; the
	// webhook actor sets it.
	WebhooksPending atomic.Int64
	// LastTxSeen is when the source saw the newest transaction the detector handled, in
	// Unix nanoseconds on the engine's clock; 0 before the first one.
	LastTxSeen atomic.Int64

	// DeliveryLatency is the time from a record being durable to the socket write that
	// carries it to a client (DurableAt, ObserveDelivered); StoreWrite the duration of the
	// store's writes (one per group commit). Both are nil in a Stats not made by NewStats.
	DeliveryLatency *Histogram
	StoreWrite      *Histogram

	// epoch starts the monotonic clock of the durable times.
	epoch   time.Time
	durable *[durableSlots]durableSlot

	authFailures    counterSet // by reason
	restarts        counterSet // by actor
	framesDropped   counterSet // by reason
	webhookOutcomes counterSet // by outcome
	alerts          alertTable // stored records by detector and status
	storeSize       atomic.Pointer[StoreSizer]
}

// StoreSizer reports a store's size on disk; *persistence.Badger implements it.
type StoreSizer interface {
	// Size returns the bytes of the LSM tree and of the value log.
	Size() (lsm, vlog int64)
}

// NewStats returns counters whose uptime starts at now.
func NewStats(now time.Time) *Stats {
	s := &Stats{
		Started:         now,
		DeliveryLatency: NewHistogram(DeliveryLatencyBuckets),
		StoreWrite:      NewHistogram(StoreWriteBuckets),
		epoch:           time.Now(),
		durable:         new([durableSlots]durableSlot),
		authFailures:    newCounterSet(authReasons),
		restarts:        newCounterSet(actorNames),
		framesDropped:   newCounterSet(frameDrops),
		webhookOutcomes: newCounterSet(webhookOutcomes),
	}
	s.alerts.seed(append(BuiltinRegistry().Names(), "test", "bench"))
	return s
}

// AuthFailed counts a refused credential with its reason, one of AuthFailureReasons (any
// other counts as other).
func (s *Stats) AuthFailed(reason string) {
	s.AuthFailures.Add(1)
	s.authFailures.add(reason, 1)
}

// ActorRestarted counts a restart of the actor whose PID id is id.
func (s *Stats) ActorRestarted(id string) {
	s.ActorRestarts.Add(1)
	s.restarts.add(actorLabel(id), 1)
}

// FramesDropped counts n frames dropped for reason, DropQueueFull or DropDiscarded.
func (s *Stats) FramesDropped(reason string, n int) {
	if s == nil || n <= 0 {
		return
	}
	s.framesDropped.add(reason, int64(n))
}

// countRecords counts stored records by detector and status.
func (s *Stats) countRecords(entries []Entry) {
	for _, e := range entries {
		s.alerts.add(e.Meta.Detector, e.Meta.Status)
	}
}

// countWebhookOutcome counts one webhook attempt by outcome (WebhookOutcomes).
func (s *Stats) countWebhookOutcome(outcome string) {
	if s != nil {
		s.webhookOutcomes.add(outcome, 1)
	}
}

// txSeen records the seen time of a transaction the detector handles.
func (s *Stats) txSeen(at time.Time) {
	if !at.IsZero() {
		s.LastTxSeen.Store(at.UnixNano())
	}
}

// watchStore makes the stats read the store's size when they are read, if it reports one.
func (s *Stats) watchStore(store any) {
	if sz, ok := store.(StoreSizer); ok {
		s.storeSize.Store(&sz)
	}
}

// storeSizes returns the store's size and true, or false when the store reports none.
func (s *Stats) storeSizes() (lsm, vlog int64, ok bool) {
	sz := s.storeSize.Load()
	if sz == nil {
		return 0, 0, false
	}
	lsm, vlog = (*sz).Size()
	return lsm, vlog, true
}

// sourceLag returns the seconds from the newest transaction's seen time to now, or false
// before the first transaction.
func (s *Stats) sourceLag(now time.Time) (float64, bool) {
	seen := s.LastTxSeen.Load()
	if seen == 0 {
		return 0, false
	}
	return max(now.Sub(time.Unix(0, seen)).Seconds(), 0), true
}

// Snapshot is a consistent-enough copy of Stats for JSON (each counter is read atomically).
type Snapshot struct {
	UptimeSeconds float64 `json:"uptime_seconds"`
	Connections   struct {
		Authenticated   int64 `json:"authenticated"`
		Unauthenticated int64 `json:"unauthenticated"`
	} `json:"connections"`
	AuthFailures       int64 `json:"auth_failures"`
	AuthTimeouts       int64 `json:"auth_timeouts"`
	RateLimited        int64 `json:"rate_limited"`
	SlowConsumerCloses int64 `json:"slow_consumer_closes"`
	TxsReceived        int64 `json:"txs_received"`
	TxDecodeErrors     int64 `json:"tx_decode_errors"`
	DuplicateTxs       int64 `json:"duplicate_txs"`
	AlertsDetected     int64 `json:"alerts_detected"`
	AlertsStored       int64 `json:"alerts_stored"`
	UpdatesStored      int64 `json:"updates_stored"`
	Lifecycle          struct {
		Tracked            int64 `json:"tracked"`
		Settled            int64 `json:"settled"`
		ChainTip           int64 `json:"chain_tip"`
		BlocksConnected    int64 `json:"blocks_connected"`
		BlocksDisconnected int64 `json:"blocks_disconnected"`
		// Accuracy is the rolling accuracy of settled alerts (docs/mempool.md).
		Accuracy *accuracy.Snapshot `json:"accuracy,omitempty"`
	} `json:"lifecycle"`
	AlertsSent      int64 `json:"alerts_sent"`
	AlertsLost      int64 `json:"alerts_lost"`
	Deliveries      int64 `json:"deliveries"`
	StoreErrors     int64 `json:"store_errors"`
	SourceErrors    int64 `json:"source_errors"`
	ActorFailures   int64 `json:"actor_failures"`
	ActorRestarts   int64 `json:"actor_restarts"`
	TokensRefreshed int64 `json:"tokens_refreshed"`
	SessionsRevoked int64 `json:"sessions_revoked"`
	IPBans          int64 `json:"ip_bans"`
	AuditWritten    int64 `json:"audit_written"`
	AuditDropped    int64 `json:"audit_dropped"`

	// AuthFailuresByReason splits AuthFailures by reason (AuthFailureReasons).
	AuthFailuresByReason map[string]int64 `json:"auth_failures_by_reason"`
	// AlertsByDetector counts stored records by detector, then status: a whale_alert under
	// its status when raised (mempool), an alert_update under its new status.
	AlertsByDetector map[string]map[string]int64 `json:"alerts_by_detector"`
	// ActorRestartsByActor splits ActorRestarts by actor (ActorLabels).
	ActorRestartsByActor map[string]int64 `json:"actor_restarts_by_actor"`
	// FramesDropped counts the frames a connection dropped, by reason (FrameDropReasons).
	FramesDropped map[string]int64 `json:"frames_dropped"`
	// Queues are the depths of the queues between the store and the clients.
	Queues QueueDepths `json:"queues"`
	// DeliveryLatency is the time from a record being durable to its socket write.
	DeliveryLatency HistogramSnapshot `json:"delivery_latency"`
	// Store is the store's size and write times.
	Store StoreStats `json:"store"`
	// SourceLagSeconds is the time since the source saw the newest transaction the
	// detector handled; nil before the first one.
	SourceLagSeconds *float64 `json:"source_lag_seconds"`
	// Webhooks is the customer webhooks' outboxes and attempts.
	Webhooks WebhookStats `json:"webhooks"`
}

// QueueDepths are the queues between the store and the clients, in records or frames.
type QueueDepths struct {
	// StorePending is the records waiting for the store's next write.
	StorePending int64 `json:"store_pending"`
	// BroadcastLag is the records stored but not yet handed to the sessions.
	BroadcastLag int64 `json:"broadcast_lag"`
	// OutboundFrames and OutboundBytes are the frames queued on every WebSocket connection
	// together, not yet written to the socket. Stats does not know them: the HTTP layer,
	// which holds the connections, fills them in.
	OutboundFrames int64 `json:"outbound_frames"`
	OutboundBytes  int64 `json:"outbound_bytes"`
}

// StoreStats is the store's size on disk (as Badger last measured it: at open, then once a
// minute; zero for a store that reports none) and the duration of its writes.
type StoreStats struct {
	LSMBytes      int64             `json:"lsm_bytes"`
	VlogBytes     int64             `json:"vlog_bytes"`
	WriteDuration HistogramSnapshot `json:"write_duration"`
}

// WebhookStats is the customer webhooks' pending deliveries and attempts by outcome
// (WebhookOutcomes).
type WebhookStats struct {
	Pending    int64            `json:"pending"`
	Deliveries map[string]int64 `json:"deliveries"`
}

// Snapshot copies the counters; now gives the uptime.
func (s *Stats) Snapshot(now time.Time) Snapshot {
	var out Snapshot
	out.UptimeSeconds = now.Sub(s.Started).Seconds()
	out.Connections.Authenticated = s.ConnsAuthenticated.Load()
	out.Connections.Unauthenticated = s.ConnsUnauthenticated.Load()
	out.AuthFailures = s.AuthFailures.Load()
	out.AuthTimeouts = s.AuthTimeouts.Load()
	out.RateLimited = s.RateLimited.Load()
	out.SlowConsumerCloses = s.SlowConsumerCloses.Load()
	out.TxsReceived = s.TxsReceived.Load()
	out.TxDecodeErrors = s.TxDecodeErrors.Load()
	out.DuplicateTxs = s.DuplicateTxs.Load()
	out.AlertsDetected = s.AlertsDetected.Load()
	out.AlertsStored = s.AlertsStored.Load()
	out.UpdatesStored = s.UpdatesStored.Load()
	out.Lifecycle.Tracked = s.Tracked.Load()
	out.Lifecycle.Settled = s.AlertsSettled.Load()
	out.Lifecycle.ChainTip = s.ChainTip.Load()
	out.Lifecycle.BlocksConnected = s.BlocksConnected.Load()
	out.Lifecycle.BlocksDisconnected = s.BlocksDisconnected.Load()
	out.Lifecycle.Accuracy = s.Accuracy.Load()
	out.AlertsSent = s.AlertsPublished.Load()
	out.AlertsLost = s.AlertsLost.Load()
	out.Deliveries = s.Deliveries.Load()
	out.StoreErrors = s.StoreErrors.Load()
	out.SourceErrors = s.SourceErrors.Load()
	out.ActorFailures = s.ActorFailures.Load()
	out.ActorRestarts = s.ActorRestarts.Load()
	out.TokensRefreshed = s.TokensRefreshed.Load()
	out.SessionsRevoked = s.SessionsRevoked.Load()
	out.IPBans = s.IPBans.Load()
	out.AuditWritten = s.AuditWritten.Load()
	out.AuditDropped = s.AuditDropped.Load()
	s.snapshotDetail(&out, now)
	return out
}

// snapshotDetail fills the labelled counts, the queues, the histograms, the store and the
// webhooks.
func (s *Stats) snapshotDetail(out *Snapshot, now time.Time) {
	out.AuthFailuresByReason = s.authFailures.snapshot()
	out.AlertsByDetector = s.alerts.snapshot()
	out.ActorRestartsByActor = s.restarts.snapshot()
	out.FramesDropped = s.framesDropped.snapshot()
	out.Queues.StorePending = s.StorePending.Load()
	out.Queues.BroadcastLag = s.BroadcastLag.Load()
	out.DeliveryLatency = s.DeliveryLatency.Snapshot()
	out.Store.LSMBytes, out.Store.VlogBytes, _ = s.storeSizes()
	out.Store.WriteDuration = s.StoreWrite.Snapshot()
	if lag, ok := s.sourceLag(now); ok {
		out.SourceLagSeconds = &lag
	}
	out.Webhooks.Pending = s.WebhooksPending.Load()
	out.Webhooks.Deliveries = s.webhookOutcomes.snapshot()
}

// Failure records why the engine is unhealthy; Healthy reports nil until then.
type Failure struct {
	reason atomic.Pointer[string]
}

// Set records a reason; the first one is kept.
func (f *Failure) Set(reason string) {
	f.reason.CompareAndSwap(nil, &reason)
}

// Reason returns the recorded reason, or "" while healthy.
func (f *Failure) Reason() string {
	if r := f.reason.Load(); r != nil {
		return *r
	}
	return ""
}
