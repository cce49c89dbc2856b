package system

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/whalecast/whalecast/actors"
)

// newMetrics returns the registry GET /metrics serves: the engine's counters, gauges and
// histograms with their fixed labels, its accuracy, the ZMQ feed's counters when the source
// is zmq, and the Go runtime's and the process's metrics (the HTTP server adds its
// connections' queues). It is the engine's own registry, never the global default one, and
// it opens no listener: the metrics are served by the engine's HTTP server, behind the read
// permission.
func newMetrics(stats *actors.Stats, feed actors.Feed) (*prometheus.Registry, error) {
	zmq, _ := feed.(*actors.ZMQFeed)
	reg := prometheus.NewRegistry()
	for _, c := range []prometheus.Collector{
		actors.NewCollector(stats, zmq),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("system: register metrics: %w", err)
		}
	}
	return reg, nil
}
