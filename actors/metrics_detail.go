package actors

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// detailDescs are the Collector's labelled metrics, histograms and gauges read through a
// method of Stats rather than one counter. Every label takes its values from a fixed list
// (stats_labels.go), or from the detectors up to MaxDetectorLabels.
type detailDescs struct {
	authFailures    *prometheus.Desc
	actorRestarts   *prometheus.Desc
	alerts          *prometheus.Desc
	framesDropped   *prometheus.Desc
	webhookOutcomes *prometheus.Desc
	deliveryLatency *prometheus.Desc
	storeWrite      *prometheus.Desc
	storeSize       *prometheus.Desc
	sourceLag       *prometheus.Desc
	zmqQueued       *prometheus.Desc
}

func newDetailDescs() detailDescs {
	return detailDescs{
		authFailures: prometheus.NewDesc("whalecast_auth_failures_total",
			"Credentials refused, on WebSocket sessions and REST calls, by reason "+
				"(docs/protocol.md lists them; anything else is other).",
			[]string{"reason"}, nil),
		actorRestarts: prometheus.NewDesc("whalecast_actor_restarts_total",
			"Actors restarted by a supervisor, by actor (session for any session).",
			[]string{"actor"}, nil),
		alerts: prometheus.NewDesc("whalecast_alerts_total",
			"Records stored, by the detector of their alert and their status: a "+
				"whale_alert under its status when raised, an alert_update under its new "+
				"status.", []string{"detector", "status"}, nil),
		framesDropped: prometheus.NewDesc("whalecast_frames_dropped_total",
			"WebSocket frames dropped: refused by a full outbound queue (queue_full, the "+
				"connection is then closed as a slow consumer) or still queued when a stuck "+
				"or broken connection was cut (discarded).", []string{"reason"}, nil),
		webhookOutcomes: prometheus.NewDesc("whalecast_webhook_deliveries_total",
			"Customer webhook delivery attempts by outcome: delivered, retry, dead_letter, "+
				"or refused (the address guard refused it: a dead letter at once).",
			[]string{"outcome"}, nil),
		deliveryLatency: prometheus.NewDesc("whalecast_delivery_latency_seconds",
			"Time from a record being durable in the store to the socket write that carries "+
				"its frame to a client: one sample per write, for the oldest record it "+
				"carries.", nil, nil),
		storeWrite: prometheus.NewDesc("whalecast_store_write_duration_seconds",
			"Duration of the store's writes, one per group commit, fsync included.", nil, nil),
		storeSize: prometheus.NewDesc("whalecast_store_size_bytes",
			"Size of the store on disk by part: the LSM tree (lsm) and the value log "+
				"(vlog), as Badger measures them at open and then once a minute.",
			[]string{"part"}, nil),
		sourceLag: prometheus.NewDesc("whalecast_source_lag_seconds",
			"Seconds since the source saw the newest transaction the detector handled; it "+
				"grows while the feed is stalled. Absent before the first transaction.",
			nil, nil),
		zmqQueued: prometheus.NewDesc("whalecast_zmq_queued_messages",
			"ZMQ messages and resync results received from the node and not yet taken by "+
				"the source.", nil, nil),
	}
}

func (d detailDescs) describe(ch chan<- *prometheus.Desc, zmq bool) {
	for _, desc := range []*prometheus.Desc{d.authFailures, d.actorRestarts, d.alerts,
		d.framesDropped, d.webhookOutcomes, d.deliveryLatency, d.storeWrite, d.storeSize,
		d.sourceLag} {
		ch <- desc
	}
	if zmq {
		ch <- d.zmqQueued
	}
}

// collect sends the detail metrics of s; now gives the source lag.
func (d detailDescs) collect(ch chan<- prometheus.Metric, s *Stats, now time.Time) {
	counters := func(desc *prometheus.Desc, set *counterSet) {
		set.each(func(label string, n int64) {
			ch <- prometheus.MustNewConstMetric(desc, prometheus.CounterValue, float64(n),
				label)
		})
	}
	counters(d.authFailures, &s.authFailures)
	counters(d.actorRestarts, &s.restarts)
	counters(d.framesDropped, &s.framesDropped)
	counters(d.webhookOutcomes, &s.webhookOutcomes)
	s.alerts.each(func(detector, status string, n int64) {
		ch <- prometheus.MustNewConstMetric(d.alerts, prometheus.CounterValue, float64(n),
			detector, status)
	})

	ch <- constHistogram(d.deliveryLatency, s.DeliveryLatency.Snapshot())
	ch <- constHistogram(d.storeWrite, s.StoreWrite.Snapshot())
	if lsm, vlog, ok := s.storeSizes(); ok {
		ch <- prometheus.MustNewConstMetric(d.storeSize, prometheus.GaugeValue, float64(lsm),
			"lsm")
		ch <- prometheus.MustNewConstMetric(d.storeSize, prometheus.GaugeValue, float64(vlog),
			"vlog")
	}
	if lag, ok := s.sourceLag(now); ok {
		ch <- prometheus.MustNewConstMetric(d.sourceLag, prometheus.GaugeValue, lag)
	}
}

// constHistogram turns a snapshot into a Prometheus histogram.
func constHistogram(desc *prometheus.Desc, h HistogramSnapshot) prometheus.Metric {
	buckets := make(map[float64]uint64, len(h.Buckets))
	for _, b := range h.Buckets {
		buckets[b.LE] = b.Count
	}
	return prometheus.MustNewConstHistogram(desc, h.Count, h.SumSeconds, buckets)
}

// queued returns the items the feed holds for the source: those the reader handed the
// worker, and those the worker has ready for Next.
func (f *ZMQFeed) queued() int {
	return len(f.handoff) + len(f.out)
}
