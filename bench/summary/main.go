// Command summary prints, as Markdown, the table of issue 5's load targets from the
// results bench/targets.sh wrote: each run's figures, then each target with the engine's
// figure, the floor's, their ratio and whether the target is met.
//
//	go run ./bench/summary ./bench-out/20261204T230000Z
//
// A run that is missing (left out with SKIP, or failed) is shown as such; the command fails
// only when it can read nothing at all.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/whalecast/whalecast/bench/load"
)

// Targets of issue 5.
const (
	steadyRateRatio = 0.95 // engine deliveries/s at least this times the floor's
	steadyP99Ratio  = 1.10 // engine p99 at most this times the floor's
	burstRateRatio  = 1.00 // engine deliveries/s while publishing at least the floor's
	memoryKiBGoal   = 16.0 // engine RSS per idle connection at 10,000 clients
)

// runs are the load runs of targets.sh, in the order shown.
var runs = []string{
	"engine-steady", "floor-steady", "engine-burst", "floor-burst", "engine-stalled",
}

func main() {
	if len(os.Args) != 2 || strings.HasPrefix(os.Args[1], "-") {
		fmt.Fprintln(os.Stderr, "usage: summary DIR (the results of bench/targets.sh)")
		os.Exit(2)
	}
	if err := summarize(os.Stdout, os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "summary:", err)
		os.Exit(1)
	}
}

// summarize writes dir's tables to w.
func summarize(w io.Writer, dir string) error {
	results := map[string]*load.Result{}
	for _, name := range runs {
		res, err := readResult(filepath.Join(dir, name, "bench.json"))
		switch {
		case errors.Is(err, fs.ErrNotExist):
			continue
		case err != nil:
			return err
		}
		results[name] = res
	}
	memKiB, memErr := readMemory(filepath.Join(dir, "memory.txt"))
	if len(results) == 0 && memErr != nil {
		return fmt.Errorf("no results in %s", dir)
	}

	writeRuns(w, results)
	fmt.Fprintln(w)
	writeTargets(w, results, memKiB, memErr)
	return nil
}

func readResult(path string) (*load.Result, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var res load.Result
	if err := json.Unmarshal(data, &res); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return &res, nil
}

// memoryLine is memprobe's result line.
var memoryLine = regexp.MustCompile(`rss per connection: ([0-9.]+) KiB`)

// readMemory returns the KiB per connection memprobe printed last.
func readMemory(path string) (float64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	m := memoryLine.FindAllSubmatch(data, -1)
	if len(m) == 0 {
		return 0, fmt.Errorf("%s: no result line", path)
	}
	return strconv.ParseFloat(string(m[len(m)-1][1]), 64)
}

func writeRuns(w io.Writer, results map[string]*load.Result) {
	fmt.Fprintln(w, "| run | clients | delivered / owed | lost | dup | deliveries/s "+
		"(publishing) | p50 | p90 | p99 | p99.9 | max | RSS per conn |")
	fmt.Fprintln(w, "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
	for _, name := range runs {
		r, ok := results[name]
		if !ok {
			fmt.Fprintf(w, "| %s | not run | | | | | | | | | | |\n", name)
			continue
		}
		c, d, l := r.Clients, r.Delivery, r.Latency
		clients := strconv.FormatUint(c.Connected, 10)
		if c.Stalled > 0 {
			clients += fmt.Sprintf(" (%d stalled, %d closed)", c.Stalled, c.StalledClosed)
		}
		fmt.Fprintf(w, "| %s | %s | %d / %d | %d | %d | %.0f | %s | %s | %s | %s | %s | %s |\n",
			name, clients, d.Delivered, d.Owed, d.Lost, d.Duplicates, d.PublishingPerSecond,
			ms(l.P50Ms), ms(l.P90Ms), ms(l.P99Ms), ms(l.P999Ms), ms(l.MaxMs), rss(r.Server))
	}
}

func writeTargets(w io.Writer, results map[string]*load.Result, memKiB float64,
	memErr error) {
	fmt.Fprintln(w, "| target | engine | floor | engine / floor | goal | met |")
	fmt.Fprintln(w, "| --- | --- | --- | --- | --- | --- |")
	es, fs := results["engine-steady"], results["floor-steady"]
	eb, fb := results["engine-burst"], results["floor-burst"]
	st := results["engine-stalled"]

	noLoss := func(r *load.Result) bool {
		return r.Delivery.Lost == 0 && r.Delivery.Duplicates == 0 && r.Clients.Dropped == 0
	}
	row(w, "10k steady: no loss", es, fs, func(r *load.Result) float64 {
		return float64(r.Delivery.Lost + r.Delivery.Duplicates + r.Clients.Dropped)
	}, "%.0f lost+dup+dropped", "", func(e, _ *load.Result) bool { return noLoss(e) })
	row(w, "10k steady: deliveries/s", es, fs, func(r *load.Result) float64 {
		return r.Delivery.PublishingPerSecond
	}, "%.0f", fmt.Sprintf(">= %.2fx", steadyRateRatio), func(e, f *load.Result) bool {
		return e.Delivery.PublishingPerSecond >= steadyRateRatio*f.Delivery.PublishingPerSecond
	})
	row(w, "10k steady: p99", es, fs, func(r *load.Result) float64 { return r.Latency.P99Ms },
		"%.1f ms", fmt.Sprintf("<= %.2fx", steadyP99Ratio), func(e, f *load.Result) bool {
			return e.Latency.P99Ms <= steadyP99Ratio*f.Latency.P99Ms
		})
	row(w, "5k burst: deliveries/s", eb, fb, func(r *load.Result) float64 {
		return r.Delivery.PublishingPerSecond
	}, "%.0f", fmt.Sprintf(">= %.2fx", burstRateRatio), func(e, f *load.Result) bool {
		return e.Delivery.PublishingPerSecond >= burstRateRatio*f.Delivery.PublishingPerSecond
	})
	row(w, "5k burst: p99", eb, fb, func(r *load.Result) float64 { return r.Latency.P99Ms },
		"%.1f ms", "(shown)", nil)
	row(w, "5k burst, 10 stalled: others' p99 (vs burst)", st, eb,
		func(r *load.Result) float64 { return r.Latency.P99Ms }, "%.1f ms", "(shown)", nil)

	switch {
	case memErr != nil:
		fmt.Fprintf(w, "| 10k idle: RSS per connection | not run | | | <= %.0f KiB | |\n",
			memoryKiBGoal)
	default:
		fmt.Fprintf(w, "| 10k idle: RSS per connection | %.1f KiB | | | <= %.0f KiB | %s |\n",
			memKiB, memoryKiBGoal, yes(memKiB <= memoryKiBGoal))
	}
}

// row writes one target: value of the engine's run and the reference run, their ratio,
// and met(engine, reference) when met is not nil.
func row(w io.Writer, target string, engine, ref *load.Result,
	value func(*load.Result) float64, format, goal string,
	met func(e, f *load.Result) bool) {
	if engine == nil {
		fmt.Fprintf(w, "| %s | not run | | | %s | |\n", target, goal)
		return
	}
	ev, fv, ratio, verdict := fmt.Sprintf(format, value(engine)), "", "", ""
	if ref != nil {
		fv = fmt.Sprintf(format, value(ref))
		if v := value(ref); v != 0 {
			ratio = fmt.Sprintf("%.2fx", value(engine)/v)
		}
	}
	if met != nil && (ref != nil || goal == "") {
		verdict = yes(met(engine, ref))
	}
	fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", target, ev, fv, ratio, goal, verdict)
}

func yes(ok bool) string {
	if ok {
		return "yes"
	}
	return "**no**"
}

func ms(v float64) string {
	if v >= 100 {
		return fmt.Sprintf("%.0f ms", v)
	}
	return fmt.Sprintf("%.1f ms", v)
}

func rss(s *load.ServerStats) string {
	if s == nil || s.RSSPerConnBytes == 0 {
		return ""
	}
	return fmt.Sprintf("%.1f KiB", s.RSSPerConnBytes/1024)
}
