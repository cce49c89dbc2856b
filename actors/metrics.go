package actors

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/whalecast/whalecast/internal/accuracy"
)

// metricSpec is one unlabelled metric read from a counter struct (Stats or ZMQStats) at
// scrape time.
type metricSpec[T any] struct {
	name string
	help string
	kind prometheus.ValueType
	read func(T) int64
}

func counterSpec[T any](name, help string, read func(T) int64) metricSpec[T] {
	return metricSpec[T]{name: name, help: help, kind: prometheus.CounterValue, read: read}
}

func gaugeSpec[T any](name, help string, read func(T) int64) metricSpec[T] {
	return metricSpec[T]{name: name, help: help, kind: prometheus.GaugeValue, read: read}
}

// statsMetrics are the unlabelled metrics of Stats, in the order of its fields.
var statsMetrics = []metricSpec[*Stats]{
	counterSpec("whalecast_auth_timeouts_total",
		"WebSocket connections closed for not authenticating in time.",
		func(s *Stats) int64 { return s.AuthTimeouts.Load() }),
	counterSpec("whalecast_rate_limited_total",
		"Client messages, pings and REST calls refused by a rate limit.",
		func(s *Stats) int64 { return s.RateLimited.Load() }),
	counterSpec("whalecast_slow_consumer_closes_total",
		"WebSocket sessions closed because their outbound queue was full.",
		func(s *Stats) int64 { return s.SlowConsumerCloses.Load() }),
	counterSpec("whalecast_txs_received_total",
		"Transactions the detector received from the source.",
		func(s *Stats) int64 { return s.TxsReceived.Load() }),
	counterSpec("whalecast_tx_decode_errors_total",
		"Transactions the detector could not decode.",
		func(s *Stats) int64 { return s.TxDecodeErrors.Load() }),
	counterSpec("whalecast_duplicate_txs_total",
		"Transactions and records skipped because they were already seen or stored.",
		func(s *Stats) int64 { return s.DuplicateTxs.Load() }),
	counterSpec("whalecast_alerts_detected_total",
		"Whale alerts raised by the detectors.",
		func(s *Stats) int64 { return s.AlertsDetected.Load() }),
	counterSpec("whalecast_alerts_stored_total",
		"Whale alerts persisted by the store.",
		func(s *Stats) int64 { return s.AlertsStored.Load() }),
	counterSpec("whalecast_updates_stored_total",
		"Alert updates (lifecycle changes) persisted by the store.",
		func(s *Stats) int64 { return s.UpdatesStored.Load() }),
	counterSpec("whalecast_lifecycle_settled_total",
		"Alerts whose lifecycle settled with a final outcome.",
		func(s *Stats) int64 { return s.AlertsSettled.Load() }),
	gaugeSpec("whalecast_lifecycle_tracked",
		"Alerts whose lifecycle is being tracked now.",
		func(s *Stats) int64 { return s.Tracked.Load() }),
	gaugeSpec("whalecast_chain_tip_height",
		"Height of the chain tip the lifecycle tracker follows; 0 before the first block.",
		func(s *Stats) int64 { return s.ChainTip.Load() }),
	counterSpec("whalecast_blocks_connected_total",
		"Blocks connected to the chain the lifecycle tracker follows.",
		func(s *Stats) int64 { return s.BlocksConnected.Load() }),
	counterSpec("whalecast_blocks_disconnected_total",
		"Blocks disconnected (reorged out) of the chain the lifecycle tracker follows.",
		func(s *Stats) int64 { return s.BlocksDisconnected.Load() }),
	counterSpec("whalecast_alerts_sent_total",
		"Stored records (alerts and updates) the broadcaster published to the sessions.",
		func(s *Stats) int64 { return s.AlertsPublished.Load() }),
	counterSpec("whalecast_alerts_lost_total",
		"Alerts and updates lost because the store could not take or persist them.",
		func(s *Stats) int64 { return s.AlertsLost.Load() }),
	counterSpec("whalecast_deliveries_total",
		"Records handed to sessions: one per session per published record.",
		func(s *Stats) int64 { return s.Deliveries.Load() }),
	counterSpec("whalecast_store_errors_total",
		"Failed store writes.",
		func(s *Stats) int64 { return s.StoreErrors.Load() }),
	counterSpec("whalecast_source_errors_total",
		"Failed reads of the transaction source, and source stops.",
		func(s *Stats) int64 { return s.SourceErrors.Load() }),
	counterSpec("whalecast_actor_failures_total",
		"Actor failures (panics) handled by a supervisor.",
		func(s *Stats) int64 { return s.ActorFailures.Load() }),
	counterSpec("whalecast_tokens_refreshed_total",
		"Session tokens replaced in place by a refresh message.",
		func(s *Stats) int64 { return s.TokensRefreshed.Load() }),
	counterSpec("whalecast_sessions_revoked_total",
		"WebSocket sessions closed because their token or client was revoked.",
		func(s *Stats) int64 { return s.SessionsRevoked.Load() }),
	counterSpec("whalecast_ip_bans_total",
		"Client IPs banned after repeated authentication failures.",
		func(s *Stats) int64 { return s.IPBans.Load() }),
	counterSpec("whalecast_audit_written_total",
		"Security audit events written to the store.",
		func(s *Stats) int64 { return s.AuditWritten.Load() }),
	counterSpec("whalecast_audit_dropped_total",
		"Security audit events dropped (queue full or store failure).",
		func(s *Stats) int64 { return s.AuditDropped.Load() }),
	gaugeSpec("whalecast_store_pending_records",
		"Records waiting for the store's next group commit.",
		func(s *Stats) int64 { return s.StorePending.Load() }),
	gaugeSpec("whalecast_broadcast_lag_records",
		"Records stored but not yet handed to the sessions by the broadcaster.",
		func(s *Stats) int64 { return s.BroadcastLag.Load() }),
	gaugeSpec("whalecast_webhook_pending_deliveries",
		"Deliveries in the customer webhooks' outboxes, queued or in flight.",
		func(s *Stats) int64 { return s.WebhooksPending.Load() }),
}

// zmqMetrics are the counters of a ZMQ feed, in the order of ZMQStats' fields.
var zmqMetrics = []metricSpec[ZMQStats]{
	counterSpec("whalecast_zmq_received_total",
		"ZMQ rawtx messages whose transaction decoded (coinbases excepted).",
		func(z ZMQStats) int64 { return int64(z.Received) }),
	counterSpec("whalecast_zmq_dropped_total",
		"ZMQ messages lost because the feed's buffer was full.",
		func(z ZMQStats) int64 { return int64(z.Dropped) }),
	counterSpec("whalecast_zmq_corrupt_total",
		"ZMQ messages skipped for bad framing or an undecodable body.",
		func(z ZMQStats) int64 { return int64(z.Corrupt) }),
	counterSpec("whalecast_zmq_lost_total",
		"ZMQ messages missing according to the per-topic sequence counters.",
		func(z ZMQStats) int64 { return int64(z.Lost) }),
	counterSpec("whalecast_zmq_reconnects_total",
		"ZMQ connection attempts after the first one, failed or not.",
		func(z ZMQStats) int64 { return int64(z.Reconnects) }),
	counterSpec("whalecast_zmq_blocks_connected_total",
		"Blocks the ZMQ feed connected: rawblock messages and blocks a resync connected.",
		func(z ZMQStats) int64 { return int64(z.Blocks) }),
	counterSpec("whalecast_zmq_blocks_disconnected_total",
		"Blocks the ZMQ feed disconnected: sequence D messages and stale blocks a resync found.",
		func(z ZMQStats) int64 { return int64(z.Disconnected) }),
	counterSpec("whalecast_zmq_removed_total",
		"ZMQ sequence R messages: transactions that left the mempool other than by a block.",
		func(z ZMQStats) int64 { return int64(z.Removed) }),
	counterSpec("whalecast_zmq_resyncs_total",
		"Resyncs with the node completed.",
		func(z ZMQStats) int64 { return int64(z.Resyncs) }),
	counterSpec("whalecast_zmq_resync_errors_total",
		"Resync attempts that failed (each is retried after a backoff).",
		func(z ZMQStats) int64 { return int64(z.ResyncErrors) }),
	counterSpec("whalecast_zmq_resync_txs_total",
		"Transactions resyncs fetched from the node and passed on.",
		func(z ZMQStats) int64 { return int64(z.ResyncTxs) }),
	counterSpec("whalecast_zmq_fee_errors_total",
		"Fee lookups that failed; their transactions went on without a fee.",
		func(z ZMQStats) int64 { return int64(z.FeeErrors) }),
}

// Collector exposes Stats, the accuracy monitor's snapshot and, with a ZMQ source, the
// feed's counters as Prometheus metrics. It reads the atomic counters when scraped and
// keeps no copy, so the hot path pays nothing for it. Create it with NewCollector; it is
// safe for concurrent use.
type Collector struct {
	stats *Stats
	zmq   *ZMQFeed // nil without a ZMQ source

	statsDescs []*prometheus.Desc // one per statsMetrics entry
	zmqDescs   []*prometheus.Desc // one per zmqMetrics entry; nil without zmq

	connections      *prometheus.Desc
	accuracyRatio    *prometheus.Desc
	accuracySamples  *prometheus.Desc
	outcomes         *prometheus.Desc
	degraded         *prometheus.Desc
	degradedEpisodes *prometheus.Desc
	detail           detailDescs
}

// NewCollector returns a collector of stats and, when zmq is not nil, of the ZMQ feed's
// counters. Register it on the registry that GET /metrics serves.
func NewCollector(stats *Stats, zmq *ZMQFeed) *Collector {
	c := &Collector{
		stats: stats,
		zmq:   zmq,
		connections: prometheus.NewDesc("whalecast_connections",
			"Open WebSocket connections by state: authenticated or unauthenticated (the "+
				"auth message is still awaited).", []string{"state"}, nil),
		accuracyRatio: prometheus.NewDesc("whalecast_alert_accuracy_ratio",
			"Confirmed share of the latest settled alerts (the rolling window); absent "+
				"while the window holds fewer than the minimum samples.", nil, nil),
		accuracySamples: prometheus.NewDesc("whalecast_alert_accuracy_samples",
			"Settled alerts in the rolling accuracy window.", nil, nil),
		outcomes: prometheus.NewDesc("whalecast_alert_outcomes",
			"Settled alerts in the rolling accuracy window by outcome: confirmed, "+
				"replaced, conflicted or dropped.", []string{"outcome"}, nil),
		degraded: prometheus.NewDesc("whalecast_alert_accuracy_degraded",
			"1 while the rolling accuracy is degraded (below the threshold, not yet "+
				"recovered), 0 otherwise.", nil, nil),
		degradedEpisodes: prometheus.NewDesc("whalecast_alert_accuracy_episodes_total",
			"Accuracy degradation episodes begun since the engine started.", nil, nil),
		detail: newDetailDescs(),
	}
	c.statsDescs = descsOf(statsMetrics)
	if zmq != nil {
		c.zmqDescs = descsOf(zmqMetrics)
	}
	return c
}

func descsOf[T any](specs []metricSpec[T]) []*prometheus.Desc {
	descs := make([]*prometheus.Desc, len(specs))
	for i, m := range specs {
		descs[i] = prometheus.NewDesc(m.name, m.help, nil, nil)
	}
	return descs
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.statsDescs {
		ch <- d
	}
	for _, d := range c.zmqDescs {
		ch <- d
	}
	ch <- c.connections
	ch <- c.accuracyRatio
	ch <- c.accuracySamples
	ch <- c.outcomes
	ch <- c.degraded
	ch <- c.degradedEpisodes
	c.detail.describe(ch, c.zmq != nil)
}

// Collect implements prometheus.Collector: it reads every counter once. Labels take fixed
// values only (a connection state, an outcome), never a client, a txid or anything else a
// caller chooses.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(c.connections, prometheus.GaugeValue,
		float64(c.stats.ConnsAuthenticated.Load()), "authenticated")
	ch <- prometheus.MustNewConstMetric(c.connections, prometheus.GaugeValue,
		float64(c.stats.ConnsUnauthenticated.Load()), "unauthenticated")
	collectSpecs(ch, statsMetrics, c.statsDescs, c.stats)
	c.detail.collect(ch, c.stats, time.Now())

	if c.zmq != nil {
		collectSpecs(ch, zmqMetrics, c.zmqDescs, c.zmq.Stats())
		ch <- prometheus.MustNewConstMetric(c.detail.zmqQueued, prometheus.GaugeValue,
			float64(c.zmq.queued()))
	}
	if snap := c.stats.Accuracy.Load(); snap != nil {
		c.collectAccuracy(ch, snap)
	}
}

func collectSpecs[T any](ch chan<- prometheus.Metric, specs []metricSpec[T],
	descs []*prometheus.Desc, src T) {
	for i, m := range specs {
		ch <- prometheus.MustNewConstMetric(descs[i], m.kind, float64(m.read(src)))
	}
}

// collectAccuracy sends the accuracy monitor's metrics. The ratio is left out until the
// window holds the minimum samples, as /api/v1/stats shows it null.
func (c *Collector) collectAccuracy(ch chan<- prometheus.Metric, snap *accuracy.Snapshot) {
	if snap.Accuracy != nil {
		ch <- prometheus.MustNewConstMetric(c.accuracyRatio, prometheus.GaugeValue,
			*snap.Accuracy)
	}
	ch <- prometheus.MustNewConstMetric(c.accuracySamples, prometheus.GaugeValue,
		float64(snap.Samples))
	for _, o := range []struct {
		outcome accuracy.Outcome
		n       int
	}{
		{accuracy.Confirmed, snap.Confirmed},
		{accuracy.Replaced, snap.Replaced},
		{accuracy.Conflicted, snap.Conflicted},
		{accuracy.Dropped, snap.Dropped},
	} {
		ch <- prometheus.MustNewConstMetric(c.outcomes, prometheus.GaugeValue, float64(o.n),
			o.outcome.String())
	}
	degraded := 0.0
	if snap.Degraded {
		degraded = 1
	}
	ch <- prometheus.MustNewConstMetric(c.degraded, prometheus.GaugeValue, degraded)
	ch <- prometheus.MustNewConstMetric(c.degradedEpisodes, prometheus.CounterValue,
		float64(snap.Episodes))
}
