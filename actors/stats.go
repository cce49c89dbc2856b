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
}

// NewStats returns counters whose uptime starts at now.
func NewStats(now time.Time) *Stats {
	return &Stats{Started: now}
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
	return out
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
