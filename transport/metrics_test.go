package transport

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/whalecast/whalecast/actors"
	"github.com/whalecast/whalecast/internal/auth"
)

// TestMetricsRoute checks that GET /metrics is guarded like /api/v1/stats (read permission,
// by token or API key, audited refusals) and serves the injected registry in the Prometheus
// text format.
func TestMetricsRoute(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	f := newFixture(t, func(c *Config) {
		c.Stats.ConnsAuthenticated.Store(2)
		reg.MustRegister(actors.NewCollector(c.Stats, nil))
		c.Metrics = reg
	})
	read := f.token(t, "scraper", auth.PermRead)
	adminOnly := f.token(t, "admin", auth.PermAdmin)
	readKey, _ := f.apiKey(t, "prometheus", "read")
	writeKey, _ := f.apiKey(t, "writer", "write")

	tests := []struct {
		name       string
		path       string
		headers    map[string]string
		want       int
		wantCode   string
		wantReason string
	}{
		{"api key with read", "/metrics", map[string]string{"X-API-Key": readKey}, 200,
			"", ""},
		{"bearer token with read", "/metrics", bearer(read), 200, "", ""},
		{"a scraper preferring OpenMetrics gets text", "/metrics", map[string]string{
			"X-API-Key": readKey, "Accept": "application/openmetrics-text;version=1.0.0," +
				"text/plain;version=0.0.4;q=0.5,*/*;q=0.1"}, 200, "", ""},
		{"no credential", "/metrics", nil, 401, "unauthorized", "missing_credentials"},
		{"api key as a bearer token", "/metrics", bearer(readKey), 401, "unauthorized",
			"malformed"},
		{"write-only api key", "/metrics", map[string]string{"X-API-Key": writeKey}, 403,
			"forbidden", ""},
		{"admin without read", "/metrics", bearer(adminOnly), 403, "forbidden", ""},
		{"api key in the URL", "/metrics?api_key=" + readKey, nil, 400, "bad_request", ""},
		{"a query parameter", "/metrics?name[]=whalecast_connections",
			bearer(read), 400, "bad_request", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := call(t, http.MethodGet, f.url+tt.path, tt.headers)
			if got.status != tt.want {
				t.Fatalf("status: got %d (%s), want %d", got.status, got.body, tt.want)
			}
			if got.err.Error != tt.wantCode || got.err.Reason != tt.wantReason {
				t.Errorf("error: got %q reason %q, want %q reason %q", got.err.Error,
					got.err.Reason, tt.wantCode, tt.wantReason)
			}
			if cc := got.header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control: got %q, want no-store", cc)
			}
			if got.status != http.StatusOK {
				if ct := got.header.Get("Content-Type"); ct != "application/json" {
					t.Errorf("Content-Type: got %q, want application/json", ct)
				}
				return
			}
			checkMetricsBody(t, got)
		})
	}
}

// checkMetricsBody checks that a 200 answer of /metrics is the text format and holds the
// fixture's counters.
func checkMetricsBody(tb testing.TB, got response) {
	tb.Helper()
	const wantType = "text/plain; version=0.0.4; charset=utf-8"
	if ct := got.header.Get("Content-Type"); !strings.HasPrefix(ct, wantType) {
		tb.Errorf("Content-Type: got %q, want %q", ct, wantType)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(got.body))
	if err != nil {
		tb.Fatalf("parse %q: %v", got.body, err)
	}
	conns := families["whalecast_connections"]
	if conns == nil {
		tb.Fatalf("no whalecast_connections in %q", got.body)
	}
	states := map[string]float64{}
	for _, m := range conns.GetMetric() {
		states[m.GetLabel()[0].GetValue()] = m.GetGauge().GetValue()
	}
	if len(states) != 2 || states["authenticated"] != 2 || states["unauthenticated"] != 0 {
		tb.Errorf("whalecast_connections: got %v, want authenticated 2, unauthenticated 0",
			states)
	}
}

// TestMetricsNotConfigured checks that a server without a registry answers 404 to a
// reader, and still 401 to a stranger.
func TestMetricsNotConfigured(t *testing.T) {
	f := newFixture(t, nil)
	tests := []struct {
		name     string
		headers  map[string]string
		want     int
		wantCode string
	}{
		{"reader", bearer(f.token(t, "scraper", auth.PermRead)), 404, "not_found"},
		{"no credential", nil, 401, "unauthorized"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := call(t, http.MethodGet, f.url+"/metrics", tt.headers)
			if got.status != tt.want || got.err.Error != tt.wantCode {
				t.Errorf("got %d %q, want %d %q", got.status, got.err.Error, tt.want,
					tt.wantCode)
			}
		})
	}
}
