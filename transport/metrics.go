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

// metricsHandler returns the handler of GET /metrics: Config.Metrics in the Prometheus
// text format (or the protobuf format a scraper may ask for). The route is an API route
// like /api/v1/stats: it takes the read permission, by Bearer token or X-API-Key, and
// spends the credential's rate limit. Without Config.Metrics it answers 404.
func (s *Server) metricsHandler() apiHandler {
	if s.cfg.Metrics == nil {
		return func(w http.ResponseWriter, _ *http.Request, _ principal) {
			writeError(w, http.StatusNotFound, "not_found", "metrics are not served")
		}
	}
	h := promhttp.HandlerFor(s.cfg.Metrics, promhttp.HandlerOpts{
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
