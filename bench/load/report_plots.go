package load

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// Size of the report's plots.
const (
	plotWidth  = 8 * vg.Inch
	plotHeight = 3 * vg.Inch
)

// Colours of the plots' lines.
var (
	blue   = color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}
	orange = color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff}
	red    = color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}
)

// renderedPlot is one plot as SVG.
type renderedPlot struct {
	title string
	svg   []byte
}

// series is one line of a plot.
type series struct {
	name  string
	color color.Color
	y     func(Sample) float64
}

// plotsOf draws the report's plots: latency over time, the latency histogram, deliveries
// per second, clients connected, and the server's memory when it was read.
func plotsOf(res *Result) ([]renderedPlot, error) {
	type spec struct {
		title, ylabel string
		lines         []series
	}
	specs := []spec{
		{"Latency per second (ms)", "ms", []series{
			{"p50", blue, func(s Sample) float64 { return s.P50Ms }},
			{"p99", orange, func(s Sample) float64 { return s.P99Ms }},
			{"max", red, func(s Sample) float64 { return s.MaxMs }},
		}},
		{"Deliveries per second", "deliveries/s", []series{
			{"deliveries/s", blue, func(s Sample) float64 { return s.Rate }},
		}},
		{"Clients connected", "clients", []series{
			{"connected", blue, func(s Sample) float64 { return float64(s.Connected) }},
		}},
	}
	if res.Server != nil && res.Server.PID != 0 {
		specs = append(specs, spec{"Server resident memory (MiB)", "MiB", []series{
			{"RSS", blue, func(s Sample) float64 { return mib(s.RSSBytes) }},
		}})
	}

	var out []renderedPlot
	for i, sp := range specs {
		svg, err := timePlot(sp.title, sp.ylabel, res.Timeline, sp.lines)
		if err != nil {
			return nil, err
		}
		out = append(out, renderedPlot{title: sp.title, svg: svg})
		if i == 0 {
			hist, err := histogramPlot(res.Histogram)
			if err != nil {
				return nil, err
			}
			out = append(out, renderedPlot{title: "Latency histogram", svg: hist})
		}
	}
	return out, nil
}

// timePlot draws lines of the timeline against seconds. A plot of several lines gets
// headroom above them for its legend.
func timePlot(title, ylabel string, timeline []Sample, lines []series) ([]byte, error) {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "seconds"
	p.Y.Label.Text = ylabel
	p.Y.Min = 0
	p.Add(plotter.NewGrid())
	top := 0.0
	for _, s := range lines {
		pts := make(plotter.XYs, len(timeline))
		for i, smp := range timeline {
			pts[i] = plotter.XY{X: smp.T, Y: s.y(smp)}
			top = max(top, pts[i].Y)
		}
		if len(pts) == 0 {
			continue
		}
		l, err := plotter.NewLine(pts)
		if err != nil {
			return nil, fmt.Errorf("load: plot %s: %w", title, err)
		}
		l.Color = s.color
		p.Add(l)
		if len(lines) > 1 {
			p.Legend.Add(s.name, l)
		}
	}
	if len(lines) > 1 && top > 0 {
		p.Y.Max = top * 1.6
	}
	p.Legend.Top = true
	return svgOf(p)
}

// binsPerOctave is how many bars of the histogram plot share a power of two: bars of equal
// width on the log axis.
const binsPerOctave = 8

// histogramPlot draws the latency histogram: the deliveries of each latency band, bands
// of equal width on a logarithmic axis of ms.
func histogramPlot(buckets []Bucket) ([]byte, error) {
	p := plot.New()
	p.Title.Text = "Latency histogram"
	p.X.Label.Text = "latency (ms, log scale)"
	p.Y.Label.Text = "deliveries"
	p.Add(plotter.NewGrid())
	if bins := displayBins(buckets); len(bins) > 0 {
		h := &plotter.Histogram{Bins: bins, FillColor: blue}
		h.LineStyle.Width = 0
		p.Add(h)
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = logTicks{}
		p.Y.Min = 0
	}
	return svgOf(p)
}

// displayBins regroups the histogram's buckets into bands of binsPerOctave per power of
// two, in ms. A bucket goes to the band of its middle; values under 1 µs count as 1 µs.
func displayBins(buckets []Bucket) []plotter.HistogramBin {
	counts := map[int]float64{}
	lowest, highest := math.MaxInt, math.MinInt
	for _, b := range buckets {
		mid := max((float64(b.LowUS)+float64(b.HighUS))/2, 1)
		k := int(math.Floor(math.Log2(mid) * binsPerOctave))
		counts[k] += float64(b.Count)
		lowest, highest = min(lowest, k), max(highest, k)
	}
	var bins []plotter.HistogramBin
	for k := lowest; k <= highest; k++ {
		bins = append(bins, plotter.HistogramBin{
			Min:    math.Exp2(float64(k)/binsPerOctave) / 1000,
			Max:    math.Exp2(float64(k+1)/binsPerOctave) / 1000,
			Weight: counts[k],
		})
	}
	return bins
}

// logTicks marks a log axis at 1, 2 and 5 times the powers of ten, and at every digit
// when fewer than two of those fall in the range.
type logTicks struct{}

// Ticks implements plot.Ticker.
func (logTicks) Ticks(lo, hi float64) []plot.Tick {
	var all, major []plot.Tick
	for e := math.Floor(math.Log10(lo)); e <= math.Ceil(math.Log10(hi)); e++ {
		for m := 1.0; m <= 9; m++ {
			v := m * math.Pow(10, e)
			if v < lo || v > hi {
				continue
			}
			label := strconv.FormatFloat(v, 'g', -1, 64)
			all = append(all, plot.Tick{Value: v, Label: label})
			if m == 1 || m == 2 || m == 5 {
				major = append(major, plot.Tick{Value: v, Label: label})
			} else {
				major = append(major, plot.Tick{Value: v})
			}
		}
	}
	labelled := 0
	for _, t := range major {
		if t.Label != "" {
			labelled++
		}
	}
	if labelled < 2 {
		return all
	}
	return major
}

// svgOf renders p as SVG.
func svgOf(p *plot.Plot) ([]byte, error) {
	w, err := p.WriterTo(plotWidth, plotHeight, "svg")
	if err != nil {
		return nil, fmt.Errorf("load: render plot %s: %w", p.Title.Text, err)
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("load: render plot %s: %w", p.Title.Text, err)
	}
	return buf.Bytes(), nil
}
