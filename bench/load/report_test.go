package load

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"gonum.org/v1/plot"
)

// sampleResult returns a result as a short run against a server with a PID would give.
func sampleResult() *Result {
	h := NewHistogram()
	for i := range 1000 {
		h.Record(time.Duration(200+i) * time.Microsecond)
	}
	snap := h.Snapshot()
	res := &Result{
		URL:     "ws://127.0.0.1:8765/ws",
		Started: time.Date(2026, 12, 4, 17, 0, 0, 0, time.UTC), ElapsedS: 6.2,
		Setup: Setup{Clients: 20, DurationS: 5, Ramp: 500, PublishRate: 5,
			PublishEveryS: 1, Auth: "message", GoVersion: "go1.26", OS: "linux/amd64", CPUs: 2},
		Clients: ClientStats{Connected: 20, Peak: 20, ConnectErrors: 2,
			ConnectCauses: map[string]uint64{"http 429": 2}},
		Publish:  PublishStats{Calls: 5, Alerts: 25},
		Delivery: DeliveryStats{Delivered: 1000, Owed: 1000, PerSecond: 161.3},
		Latency:  latencyOf(snap),
		Server: &ServerStats{PID: 4242, RSSBaselineBytes: 40 << 20, RSSPeakBytes: 41 << 20,
			RSSPerConnBytes: 52428.8, Stats: json.RawMessage(`{"deliveries":1000}`)},
		Histogram: snap.Buckets(),
	}
	for i := range 6 {
		res.Timeline = append(res.Timeline, Sample{T: float64(i + 1), Connected: 20,
			Deliveries: 100, Rate: 100, Published: uint64(5 * (i + 1)), P50Ms: 0.7,
			P99Ms: 1.1, MaxMs: 1.2, RSSBytes: 41 << 20})
	}
	return res
}

func TestWriteTable(t *testing.T) {
	var buf bytes.Buffer
	if err := sampleResult().WriteTable(&buf); err != nil {
		t.Fatal(err)
	}
	out := strings.Join(strings.Fields(buf.String()), " ")
	for _, want := range []string{
		"connected 20 (peak 20)",
		"connect errors 2 (http 429: 2)",
		"published 25 alerts in 5 calls",
		"delivered 1000 of 1000 owed",
		"lost 0",
		"duplicates 0",
		"deliveries/s 161.3",
		"latency p50 0.703 ms",
		"latency p99.9 1.20 ms",
		"latency max 1.20 ms",
		"server RSS 40.0 MiB before, 41.0 MiB peak, 51.2 KiB per connection",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, buf.String())
		}
	}
}

func TestWriteReport(t *testing.T) {
	tests := []struct {
		name      string
		res       *Result
		wantPlots int
	}{
		{"with server memory", sampleResult(), 5},
		{"without server", func() *Result { r := sampleResult(); r.Server = nil; return r }(), 4},
		{"empty run", &Result{URL: "ws://127.0.0.1:1/ws"}, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "out")
			if err := WriteReport(dir, tt.res); err != nil {
				t.Fatalf("WriteReport: %v", err)
			}

			data, err := os.ReadFile(filepath.Join(dir, ReportJSON))
			if err != nil {
				t.Fatal(err)
			}
			var back Result
			if err := json.Unmarshal(data, &back); err != nil {
				t.Fatalf("bench.json: %v", err)
			}
			if back.Delivery != tt.res.Delivery || back.Latency != tt.res.Latency ||
				len(back.Timeline) != len(tt.res.Timeline) {
				t.Errorf("bench.json: got %+v, want the result back", back)
			}

			page, err := os.ReadFile(filepath.Join(dir, ReportHTML))
			if err != nil {
				t.Fatal(err)
			}
			html := string(page)
			if n := strings.Count(html, "<svg "); n != tt.wantPlots {
				t.Errorf("report.html: got %d embedded plots, want %d", n, tt.wantPlots)
			}
			external := regexp.MustCompile(`(?i)(src|href)\s*=\s*"(https?:)?//|url\(|@import`)
			if m := external.FindString(html); m != "" {
				t.Errorf("report.html refers to an outside resource: %q", m)
			}
			if !strings.Contains(html, "latency p99") {
				t.Error("report.html lacks the summary table")
			}
		})
	}
}

func TestDisplayBins(t *testing.T) {
	h := NewHistogram()
	for i := range 5000 {
		h.Record(time.Duration(100+i*7) * time.Microsecond)
	}
	h.Record(0)
	bins := displayBins(h.Snapshot().Buckets())
	var total float64
	for i, b := range bins {
		total += b.Weight
		if b.Max <= b.Min || (i > 0 && b.Min != bins[i-1].Max) {
			t.Fatalf("bin %d [%v, %v] does not follow bin %d", i, b.Min, b.Max, i-1)
		}
	}
	if total != 5001 {
		t.Errorf("bins hold %v values, want 5001", total)
	}
}

func TestLogTicks(t *testing.T) {
	labels := func(ticks []plot.Tick) []string {
		var out []string
		for _, tk := range ticks {
			if tk.Label != "" {
				out = append(out, tk.Label)
			}
		}
		return out
	}
	tests := []struct {
		lo, hi float64
		want   []string
	}{
		{0.08, 30, []string{"0.1", "0.2", "0.5", "1", "2", "5", "10", "20"}},
		{22, 43, []string{"30", "40"}},
		{3, 4, []string{"3", "4"}},
	}
	for _, tt := range tests {
		if got := labels(logTicks{}.Ticks(tt.lo, tt.hi)); !slices.Equal(got, tt.want) {
			t.Errorf("ticks of [%v, %v]: got %v, want %v", tt.lo, tt.hi, got, tt.want)
		}
	}
}
