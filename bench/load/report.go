package load

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"os"
	"path/filepath"
)

// Names of the report's files in the output directory.
const (
	ReportJSON = "bench.json"
	ReportHTML = "report.html"
)

// WriteReport writes the result to dir (created if missing): ReportJSON, the result as
// JSON, and ReportHTML, a page with the summary table and the plots, which fetches
// nothing: the plots are SVG drawings inside the page.
func WriteReport(dir string, res *Result) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("load: report directory: %w", err)
	}
	data, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return fmt.Errorf("load: encode result: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, ReportJSON), append(data, '\n'),
		0o644); err != nil {
		return fmt.Errorf("load: write %s: %w", ReportJSON, err)
	}
	page, err := renderHTML(res)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, ReportHTML), page, 0o644); err != nil {
		return fmt.Errorf("load: write %s: %w", ReportHTML, err)
	}
	return nil
}

// reportPage is what the HTML template shows.
type reportPage struct {
	Result *Result
	Table  string
	Plots  []reportPlot
}

// reportPlot is one plot: its SVG element, made by gonum/plot.
type reportPlot struct {
	Title string
	SVG   template.HTML
}

// renderHTML builds the report page.
func renderHTML(res *Result) ([]byte, error) {
	var table bytes.Buffer
	if err := res.WriteTable(&table); err != nil {
		return nil, err
	}
	page := reportPage{Result: res, Table: table.String()}
	plots, err := plotsOf(res)
	if err != nil {
		return nil, err
	}
	for _, p := range plots {
		// The page holds the svg element itself, without the XML declaration before it.
		i := bytes.Index(p.svg, []byte("<svg"))
		if i < 0 {
			return nil, fmt.Errorf("load: plot %s is not SVG", p.title)
		}
		page.Plots = append(page.Plots, reportPlot{Title: p.title,
			SVG: template.HTML(p.svg[i:])})
	}
	var out bytes.Buffer
	if err := reportTemplate.Execute(&out, page); err != nil {
		return nil, fmt.Errorf("load: render report: %w", err)
	}
	return out.Bytes(), nil
}

var reportTemplate = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Whalecast load test: {{.Result.Setup.Clients}} clients</title>
<style>
body { font-family: sans-serif; margin: 2em; color: #222; }
pre { background: #f6f6f6; padding: 1em; }
figure { margin: 1.5em 0; }
svg { max-width: 100%; height: auto; }
</style>
</head>
<body>
<h1>Whalecast load test</h1>
<p>{{.Result.URL}}, started {{.Result.Started.Format "2006-01-02 15:04:05 MST"}}.
Latency is the time from an alert's <code>first_seen</code> to its receipt by a client,
on the same machine's clock.</p>
<pre>{{.Table}}</pre>
{{range .Plots}}<figure>
<figcaption>{{.Title}}</figcaption>
{{.SVG}}
</figure>
{{end}}</body>
</html>
`))
