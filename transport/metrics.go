package transport

import (
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Gatherer is what GET /metrics serves (Config.Metrics): the engine's *prometheus.Registry.
type Gatherer = prometheus.Gatherer

// metricsHandler returns the handler of GET /metrics: Config.Metrics and the server's own
// metrics (its connections' outbound queues) in the Prometheus text format (or the
// protobuf format a scraper may ask for). The route is an API route like /api/v1/stats: it
// takes the read permission, by Bearer token or X-API-Key, and spends the credential's
// rate limit. Without Config.Metrics it answers 404.
func (s *Server) metricsHandler() apiHandler {
	if s.cfg.Metrics == nil {
		return func(w http.ResponseWriter, _ *http.Request, _ principal) {
			writeError(w, http.StatusNotFound, "not_found", "metrics are not served")
		}
	}
	own := prometheus.NewRegistry()
	own.MustRegister(&queueCollector{server: s})
	h := promhttp.HandlerFor(prometheus.Gatherers{s.cfg.Metrics, own}, promhttp.HandlerOpts{
		ErrorLog: &metricsErrorLog{log: s.cfg.Logger, t: newThrottle(errorLogEvery,
			s.cfg.Clock)},
	})
	return func(w http.ResponseWriter, r *http.Request, _ principal) {
		if !noParams(w, r) {
			return
		}
		h.ServeHTTP(w, r)
	}
}

// metricsErrorLog receives promhttp's error lines (a collector that failed, a scraper that
// went away) and logs at most one per errorLogEvery.
type metricsErrorLog struct {
	log *slog.Logger
	t   *throttle
}

// Println implements promhttp.Logger.
func (l *metricsErrorLog) Println(v ...any) {
	l.t.log(l.log, slog.LevelWarn, "metrics scrape failed",
		"err", strings.TrimSpace(fmt.Sprintln(v...)))
}

// Descriptions of the server's own metrics.
var (
	outboundFramesDesc = prometheus.NewDesc("whalecast_outbound_queued_frames",
		"Frames queued on every WebSocket connection together, not yet written to the "+
			"socket.", nil, nil)
	outboundBytesDesc = prometheus.NewDesc("whalecast_outbound_queued_bytes",
		"Bytes of the frames queued on every WebSocket connection together.", nil, nil)
)

// queueCollector exposes the connections' outbound queues, summed when scraped.
type queueCollector struct {
	server *Server
}

// Describe implements prometheus.Collector.
func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- outboundFramesDesc
	ch <- outboundBytesDesc
}

// Collect implements prometheus.Collector.
func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	frames, bytes := c.server.outboundQueued()
	ch <- prometheus.MustNewConstMetric(outboundFramesDesc, prometheus.GaugeValue,
		float64(frames))
	ch <- prometheus.MustNewConstMetric(outboundBytesDesc, prometheus.GaugeValue,
		float64(bytes))
}

// outboundQueued sums the outbound queues of the open connections. It runs when metrics or
// stats are read, never on the delivery path, and holds each connection's lock only to read
// its two counts.
func (s *Server) outboundQueued() (frames, bytes int64) {
	for _, p := range s.live.open() {
		f, b := p.queuedTotals()
		frames += int64(f)
		bytes += int64(b)
	}
	return frames, bytes
}

// queuedTotals returns the frames and bytes in the connection's outbound queue.
func (p *wsPeer) queuedTotals() (frames, bytes int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.queue), p.queuedBytes
}
