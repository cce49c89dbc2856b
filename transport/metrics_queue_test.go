package transport

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/whalecast/whalecast/actors"
	"github.com/whalecast/whalecast/internal/alert"
	"github.com/whalecast/whalecast/internal/auth"
)

// TestOutboundQueueMetrics stalls a client that reads nothing behind frames of durable
// records: /metrics and /api/v1/stats show the same queued frames and bytes, and the frame
// its full queue refused; once the client reads, the queue drains and every socket write
// adds a delivery latency sample.
func TestOutboundQueueMetrics(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	ls := startLive(t, func(c *Config) {
		reg.MustRegister(actors.NewCollector(c.Stats, nil))
		c.Metrics = reg
	}, nil)
	stats := ls.srv.cfg.Stats
	c := dialWS(t, ls, nil)
	p := ls.nextPeer(t)
	read := bearer(ls.token(t, "scraper", auth.PermRead))

	// Frames of 16 KiB records, durable now, until the queue refuses one a while after it
	// last did: the socket's buffers are full and the writer is blocked.
	data := []byte(`{"pad":"` + strings.Repeat("w", 16<<10) + `"}`)
	sent, refused := 0, 0
	deadline := time.Now().Add(waitTimeout)
	send := func() bool {
		st := alert.Stored{Seq: uint64(sent + 1), Kind: alert.KindAlert, Data: data}
		stats.MarkDurable([]alert.Stored{st})
		if !p.Send(alert.Frame(st)) {
			refused++
			return false
		}
		sent++
		return true
	}
	for {
		for send() {
		}
		time.Sleep(100 * time.Millisecond)
		if !send() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the writer never blocked within %v", waitTimeout)
		}
	}
	frames, size := p.queuedTotals()
	if frames == 0 {
		t.Fatalf("nothing queued after %d frames to a client that reads nothing", sent)
	}

	got := scrapeSeries(t, ls, read)
	if got["whalecast_outbound_queued_frames"] != float64(frames) ||
		got["whalecast_outbound_queued_bytes"] != float64(size) {
		t.Errorf("metrics: got %v frames, %v bytes; want the queue's %d and %d",
			got["whalecast_outbound_queued_frames"], got["whalecast_outbound_queued_bytes"],
			frames, size)
	}
	if n := got[`whalecast_frames_dropped_total{reason="queue_full"}`]; n != float64(refused) {
		t.Errorf("frames dropped for a full queue: got %v, want the %d refused", n, refused)
	}
	var body struct {
		Queues actors.QueueDepths `json:"queues"`
	}
	if r := call(t, http.MethodGet, ls.url+"/api/v1/stats", read); r.status != 200 ||
		json.Unmarshal(r.body, &body) != nil {
		t.Fatalf("stats: got %d %.200s", r.status, r.body)
	}
	if body.Queues.OutboundFrames != int64(frames) || body.Queues.OutboundBytes != int64(size) {
		t.Errorf("stats: got %+v, want %d frames and %d bytes", body.Queues, frames, size)
	}

	// The client reads everything: the queue drains, each write is timed.
	_ = c.SetReadDeadline(time.Now().Add(waitTimeout))
	for i := range sent {
		if _, _, err := c.ReadMessage(); err != nil {
			t.Fatalf("read frame %d of %d: %v", i+1, sent, err)
		}
	}
	got = scrapeSeries(t, ls, read)
	if n := got["whalecast_outbound_queued_frames"]; n != 0 {
		t.Errorf("queued frames once read: got %v, want 0", n)
	}
	n := got["whalecast_delivery_latency_seconds_count"]
	if n < 1 || n > float64(sent) {
		t.Errorf("delivery latency samples: got %v, want 1 to %d (one per write)", n, sent)
	}
}

// scrapeSeries gets /metrics and returns its gauges and counters as `name{label="value"}`,
// and each histogram's sample count as name_count.
func scrapeSeries(tb testing.TB, ls *liveServer, headers map[string]string) map[string]float64 {
	tb.Helper()
	r := call(tb, http.MethodGet, ls.url+"/metrics", headers)
	if r.status != http.StatusOK {
		tb.Fatalf("GET /metrics: got %d %.200s", r.status, r.body)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(r.body))
	if err != nil {
		tb.Fatalf("parse /metrics: %v", err)
	}
	out := map[string]float64{}
	for name, mf := range families {
		for _, m := range mf.GetMetric() {
			series := name
			for _, l := range m.GetLabel() {
				series += "{" + l.GetName() + "=\"" + l.GetValue() + "\"}"
			}
			switch mf.GetType() {
			case dto.MetricType_COUNTER:
				out[series] = m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				out[series] = m.GetGauge().GetValue()
			case dto.MetricType_HISTOGRAM:
				out[series+"_count"] = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return out
}

// TestQueueCollectorNoConnections checks the server's own metrics with no connection.
func TestQueueCollectorNoConnections(t *testing.T) {
	ls := startLive(t, func(c *Config) { c.Metrics = prometheus.NewRegistry() }, nil)
	got := scrapeSeries(t, ls, bearer(ls.token(t, "scraper", auth.PermRead)))
	for _, name := range []string{"whalecast_outbound_queued_frames",
		"whalecast_outbound_queued_bytes"} {
		if v, ok := got[name]; !ok || v != 0 {
			t.Errorf("%s: got %v (present %v), want 0", name, v, ok)
		}
	}
}
