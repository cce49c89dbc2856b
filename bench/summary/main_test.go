package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/whalecast/whalecast/bench/load"
)

// writeResult stores a bench.json for run name under dir.
func writeResult(t *testing.T, dir, name string, rate, p99 float64) {
	t.Helper()
	res := load.Result{
		Clients:  load.ClientStats{Connected: 10},
		Delivery: load.DeliveryStats{Delivered: 100, Owed: 100, PublishingPerSecond: rate},
		Latency:  load.LatencyStats{P50Ms: p99 / 2, P99Ms: p99, MaxMs: p99},
	}
	data, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name, "bench.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestSummarize(t *testing.T) {
	tests := []struct {
		name       string
		engineRate float64
		engineP99  float64
		memory     string
		want       []string
	}{
		{"met", 1000, 20, "rss per connection: 14.3 KiB (x)\n", []string{
			"| 10k steady: deliveries/s | 1000 | 1000 | 1.00x | >= 0.95x | yes |",
			"| 10k steady: p99 | 20.0 ms | 20.0 ms | 1.00x | <= 1.10x | yes |",
			"| 10k idle: RSS per connection | 14.3 KiB | | | <= 16 KiB | yes |",
		}},
		{"missed", 900, 30, "rss per connection: 17.7 KiB (x)\n", []string{
			"| 10k steady: deliveries/s | 900 | 1000 | 0.90x | >= 0.95x | **no** |",
			"| 10k steady: p99 | 30.0 ms | 20.0 ms | 1.50x | <= 1.10x | **no** |",
			"| 5k burst: deliveries/s | 900 | 1000 | 0.90x | >= 1.00x | **no** |",
			"| 10k idle: RSS per connection | 17.7 KiB | | | <= 16 KiB | **no** |",
		}},
		{"memory not run", 1000, 20, "", []string{
			"| 10k idle: RSS per connection | not run |",
			"| engine-stalled | not run |",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeResult(t, dir, "engine-steady", tt.engineRate, tt.engineP99)
			writeResult(t, dir, "floor-steady", 1000, 20)
			writeResult(t, dir, "engine-burst", tt.engineRate, tt.engineP99)
			writeResult(t, dir, "floor-burst", 1000, 20)
			if tt.memory != "" {
				err := os.WriteFile(filepath.Join(dir, "memory.txt"), []byte(tt.memory), 0o644)
				if err != nil {
					t.Fatal(err)
				}
			}
			var out strings.Builder
			if err := summarize(&out, dir); err != nil {
				t.Fatalf("summarize: %v", err)
			}
			for _, line := range tt.want {
				if !strings.Contains(out.String(), line) {
					t.Errorf("no line %q in:\n%s", line, out.String())
				}
			}
		})
	}
}

func TestSummarizeEmpty(t *testing.T) {
	if err := summarize(&strings.Builder{}, t.TempDir()); err == nil {
		t.Error("summarize of an empty directory: got nil, want an error")
	}
}
