package system_test

import (
	"bytes"
	"encoding/json"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/wire/v2"
	dto "github.com/prometheus/client_model/go"

	"github.com/whalecast/whalecast/internal/chaintest"
)

// dashboardPath is the Grafana dashboard shipped in docs/; protocolPath documents the
// metrics.
const (
	dashboardPath = "../docs/grafana-dashboard.json"
	protocolPath  = "../docs/protocol.md"
)

// grafanaDashboard is the part of a Grafana dashboard the test reads.
type grafanaDashboard struct {
	Title         string `json:"title"`
	UID           string `json:"uid"`
	SchemaVersion int    `json:"schemaVersion"`
	Templating    struct {
		List []grafanaVariable `json:"list"`
	} `json:"templating"`
	Panels []grafanaPanel `json:"panels"`
}

type grafanaVariable struct {
	Name  string          `json:"name"`
	Type  string          `json:"type"`
	Query json.RawMessage `json:"query"`
	// Definition is a query variable's PromQL.
	Definition string `json:"definition"`
}

type grafanaPanel struct {
	ID         int             `json:"id"`
	Type       string          `json:"type"`
	Title      string          `json:"title"`
	Datasource *grafanaDatasrc `json:"datasource"`
	GridPos    struct {
		H, W, X, Y int
	} `json:"gridPos"`
	Targets []struct {
		RefID      string          `json:"refId"`
		Expr       string          `json:"expr"`
		Datasource *grafanaDatasrc `json:"datasource"`
	} `json:"targets"`
}

type grafanaDatasrc struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

// Patterns of the PromQL the dashboard uses: metric names (every one it queries has one of
// these prefixes), grouping clauses and label matchers.
var (
	metricName   = regexp.MustCompile(`\b(?:whalecast|go|process)_[a-z0-9_]+\b`)
	groupingList = regexp.MustCompile(`\b(?:by|without)\s*\(([^)]*)\)`)
	matcherList  = regexp.MustCompile(`\{([^}]*)\}`)
	matcherName  = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)`)
)

// targetLabels are labels Prometheus adds to every scraped series.
var targetLabels = []string{"job", "instance"}

// TestGrafanaDashboard checks docs/grafana-dashboard.json: valid JSON of a recent schema,
// a Prometheus datasource variable every panel uses, and queries that name only metric
// families a running engine serves (a replay engine whose alerts settled, and a ZMQ one),
// with their labels, while every whalecast family is on some panel and in the metrics
// table of docs/protocol.md.
func TestGrafanaDashboard(t *testing.T) {
	data, err := os.ReadFile(dashboardPath)
	if err != nil {
		t.Fatal(err)
	}
	var dash grafanaDashboard
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatalf("%s is not JSON: %v", dashboardPath, err)
	}
	checkDashboardShape(t, dash)
	families := servedFamilies(t)

	var exprs []string
	for _, v := range dash.Templating.List {
		if v.Type == "query" {
			exprs = append(exprs, v.Definition)
		}
	}
	for _, p := range dash.Panels {
		for _, tgt := range p.Targets {
			exprs = append(exprs, tgt.Expr)
		}
	}
	used := map[string]bool{}
	for _, expr := range exprs {
		for _, f := range checkExpr(t, expr, families) {
			used[f] = true
		}
	}
	protocol, err := os.ReadFile(protocolPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range slices.Sorted(maps.Keys(families)) {
		if !strings.HasPrefix(name, "whalecast_") {
			continue
		}
		if !used[name] {
			t.Errorf("%s: on no panel of the dashboard", name)
		}
		// The table names the ZMQ counters after the first: `_dropped_total`.
		short := "`_" + strings.TrimPrefix(name, "whalecast_zmq_") + "`"
		if !bytes.Contains(protocol, []byte("`"+name)) && !(strings.HasPrefix(name,
			"whalecast_zmq_") && bytes.Contains(protocol, []byte(short))) {
			t.Errorf("%s: not in the metrics table of %s", name, protocolPath)
		}
	}
}

// checkDashboardShape checks the dashboard's schema, variables, panels and targets.
func checkDashboardShape(tb testing.TB, dash grafanaDashboard) {
	tb.Helper()
	if dash.Title == "" || dash.UID == "" {
		tb.Errorf("title %q, uid %q: want both", dash.Title, dash.UID)
	}
	if dash.SchemaVersion < 36 || dash.SchemaVersion > 41 {
		tb.Errorf("schemaVersion %d, want 36 to 41 (Grafana 9 to 11)", dash.SchemaVersion)
	}
	hasDatasource := slices.ContainsFunc(dash.Templating.List, func(v grafanaVariable) bool {
		return v.Name == "datasource" && v.Type == "datasource" &&
			string(v.Query) == `"prometheus"`
	})
	if !hasDatasource {
		tb.Errorf("no datasource variable named datasource of type prometheus")
	}
	ids := map[int]bool{}
	for _, p := range dash.Panels {
		if ids[p.ID] {
			tb.Errorf("panel %q: id %d used twice", p.Title, p.ID)
		}
		ids[p.ID] = true
		if p.GridPos.W < 1 || p.GridPos.X+p.GridPos.W > 24 || p.GridPos.H < 1 {
			tb.Errorf("panel %q: grid position %+v outside the 24 columns", p.Title,
				p.GridPos)
		}
		if p.Type == "row" {
			continue
		}
		if p.Title == "" || len(p.Targets) == 0 {
			tb.Errorf("panel %d %q: want a title and a query", p.ID, p.Title)
		}
		if p.Datasource == nil || p.Datasource.UID != "${datasource}" {
			tb.Errorf("panel %q: datasource %+v, want the ${datasource} variable", p.Title,
				p.Datasource)
		}
		for _, tgt := range p.Targets {
			if tgt.Expr == "" || tgt.RefID == "" || tgt.Datasource == nil ||
				tgt.Datasource.UID != "${datasource}" {
				tb.Errorf("panel %q: target %+v, want an expr, a refId and ${datasource}",
					p.Title, tgt)
			}
		}
	}
}

// checkExpr checks that expr names at least one metric, each served by families (a
// histogram through its _bucket, _sum or _count series), and that every label it groups by
// or matches on is one of those metrics' labels or a target label. It returns the families
// expr uses.
func checkExpr(tb testing.TB, expr string, families map[string]*dto.MetricFamily) []string {
	tb.Helper()
	names := metricName.FindAllString(expr, -1)
	if len(names) == 0 {
		tb.Errorf("%q: names no metric", expr)
	}
	labels := slices.Clone(targetLabels)
	var used []string
	for _, n := range names {
		family, ok := families[n], true
		if family == nil {
			base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(n, "_bucket"),
				"_sum"), "_count")
			family = families[base]
			ok = family != nil && family.GetType() == dto.MetricType_HISTOGRAM
			n = base
			labels = append(labels, "le")
		}
		if !ok {
			tb.Errorf("%q: %s is not served by the engine", expr, n)
			continue
		}
		used = append(used, n)
		for _, m := range family.GetMetric() {
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName())
			}
		}
	}
	var named []string
	for _, g := range groupingList.FindAllStringSubmatch(expr, -1) {
		for l := range strings.SplitSeq(g[1], ",") {
			named = append(named, strings.TrimSpace(l))
		}
	}
	for _, m := range matcherList.FindAllStringSubmatch(expr, -1) {
		for _, l := range matcherName.FindAllStringSubmatch(m[1], -1) {
			named = append(named, l[1])
		}
	}
	for _, l := range named {
		if l != "" && !slices.Contains(labels, l) {
			tb.Errorf("%q: label %s is on none of its metrics %v", expr, l, names)
		}
	}
	return used
}

// servedFamilies returns the metric families of a replay engine whose three alerts settled
// confirmed (so that the accuracy ratio is served) and of a ZMQ engine (its feed's
// counters).
func servedFamilies(tb testing.TB) map[string]*dto.MetricFamily {
	tb.Helper()
	block, hash, h := chaintest.Block277647(tb)
	blocks := []*wire.MsgBlock{block}
	for i := range int64(5) {
		var b *wire.MsgBlock
		b, hash = chaintest.BlockOn(hash, h+1+i, 0)
		blocks = append(blocks, b)
	}
	cfg := replayConfig(tb)
	cfg.Source = "replay:" + writeReplay(tb, blocks...)
	cfg.Operator.AccuracyMinSamples = 3
	replay := startEngine(tb, cfg)
	waitFor(tb, "three alerts settled", func() bool {
		return replay.Stats().AlertsSettled.Load() == 3
	})
	out := scrape(tb, replay, readAPIKey(tb, replay))

	cfg = replayConfig(tb)
	cfg.Source = freeZMQSource(tb)
	zmq := startEngine(tb, cfg)
	for name, f := range scrape(tb, zmq, readAPIKey(tb, zmq)) {
		if out[name] == nil {
			out[name] = f
		}
	}
	return out
}
