package load

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Result is what a run measured. Its JSON form is the report's bench.json.
type Result struct {
	URL     string    `json:"url"`
	Started time.Time `json:"started"`
	// ElapsedS is the run's length in seconds, drain included.
	ElapsedS float64 `json:"elapsed_s"`
	// Interrupted marks a run stopped before its end (Ctrl-C).
	Interrupted bool          `json:"interrupted"`
	Setup       Setup         `json:"setup"`
	Clients     ClientStats   `json:"clients"`
	Publish     PublishStats  `json:"publish"`
	Delivery    DeliveryStats `json:"delivery"`
	Latency     LatencyStats  `json:"latency"`
	// Server holds what the run read of the server; nil when it read nothing.
	Server *ServerStats `json:"server,omitempty"`
	// Histogram lists the latency histogram's non-empty buckets.
	Histogram []Bucket `json:"histogram"`
	// Timeline has one sample per second.
	Timeline []Sample `json:"timeline"`
}

// Setup is the run's configuration and the machine it ran on.
type Setup struct {
	Clients       int     `json:"clients"`
	DurationS     float64 `json:"duration_s"`
	Ramp          float64 `json:"ramp_per_s"`
	PublishRate   float64 `json:"publish_rate_per_s"`
	PublishEveryS float64 `json:"publish_every_s"`
	PublishDelayS float64 `json:"publish_delay_s,omitempty"`
	Stalled       int     `json:"stalled,omitempty"`
	Auth          string  `json:"auth"`
	GoVersion     string  `json:"go_version"`
	OS            string  `json:"os"`
	CPUs          int     `json:"cpus"`
}

// ClientStats counts the connections.
type ClientStats struct {
	// Connected counts the clients that completed their handshake.
	Connected uint64 `json:"connected"`
	// Peak is the most connected at once.
	Peak int64 `json:"peak"`
	// ConnectErrors counts the clients that could not connect, Causes names why.
	ConnectErrors uint64            `json:"connect_errors"`
	ConnectCauses map[string]uint64 `json:"connect_causes,omitempty"`
	// Dropped counts connections the server ended before the run did, DropCauses how.
	Dropped    uint64            `json:"dropped"`
	DropCauses map[string]uint64 `json:"drop_causes,omitempty"`
	// Stalled counts the clients that read nothing after their welcome (Config.Stalled);
	// StalledClosed those the server ended, StalledCauses how.
	Stalled       uint64            `json:"stalled,omitempty"`
	StalledClosed uint64            `json:"stalled_closed,omitempty"`
	StalledCauses map[string]uint64 `json:"stalled_causes,omitempty"`
	// Unfinished counts clients whose goroutine did not end in time; they are left out.
	Unfinished uint64 `json:"unfinished,omitempty"`
}

// PublishStats counts the publish calls.
type PublishStats struct {
	Calls uint64 `json:"calls"`
	// Alerts counts the alerts the server reported stored and broadcast.
	Alerts uint64 `json:"alerts"`
	// Refused counts calls answered 429; Failed other failures, LastError the last one.
	Refused   uint64 `json:"refused"`
	Failed    uint64 `json:"failed"`
	LastError string `json:"last_error,omitempty"`
	// StoreLost counts alerts the server said it could not store.
	StoreLost uint64 `json:"store_lost"`
}

// DeliveryStats compares what the clients received with what was published.
type DeliveryStats struct {
	// Delivered counts distinct (client, alert) receipts of the run's alerts.
	Delivered uint64 `json:"delivered"`
	// Owed counts the published alerts each client should have received (those after its
	// welcome), summed over the clients; Lost those it never received.
	Owed uint64 `json:"owed"`
	Lost uint64 `json:"lost"`
	// Duplicates counts receipts of an alert a client had already received.
	Duplicates uint64 `json:"duplicates"`
	// Reordered counts receipts of a seq lower than one received before.
	Reordered uint64 `json:"reordered"`
	// Early counts receipts of a seq at or before the client's welcome, which no live
	// session should get; Untracked receipts past MaxTrackedSeqs.
	Early     uint64 `json:"early"`
	Untracked uint64 `json:"untracked"`
	// Unpublished counts receipts of alerts that no publish answer reported.
	Unpublished uint64 `json:"unpublished"`
	// PerSecond is Delivered over the run's length; PeakPerSecond the best second.
	PerSecond     float64 `json:"per_second"`
	PeakPerSecond float64 `json:"peak_per_second"`
	// PublishingPerSecond is Delivered over the time from the first publish call to the
	// last receipt: the rate a burst was delivered at, ramp and idle drain left out.
	PublishingPerSecond float64 `json:"publishing_per_second"`
	// ErrorFrames, OtherFrames and BadFrames count the other messages: errors, everything
	// else readable, and unreadable ones.
	ErrorFrames uint64 `json:"error_frames"`
	OtherFrames uint64 `json:"other_frames"`
	BadFrames   uint64 `json:"bad_frames"`
}

// LatencyStats are the latencies from an alert's first_seen to its receipt, in ms.
type LatencyStats struct {
	Count  uint64  `json:"count"`
	P50Ms  float64 `json:"p50_ms"`
	P90Ms  float64 `json:"p90_ms"`
	P99Ms  float64 `json:"p99_ms"`
	P999Ms float64 `json:"p999_ms"`
	MaxMs  float64 `json:"max_ms"`
	MeanMs float64 `json:"mean_ms"`
}

// ServerStats is what the run read of the server.
type ServerStats struct {
	// PID is the process whose memory was read; 0 for none.
	PID int `json:"pid,omitempty"`
	// RSSBaselineBytes is its resident memory before the first connection, RSSPeakBytes
	// the most seen, RSSPerConnBytes their difference over the peak of connections.
	RSSBaselineBytes uint64  `json:"rss_baseline_bytes,omitempty"`
	RSSPeakBytes     uint64  `json:"rss_peak_bytes,omitempty"`
	RSSPerConnBytes  float64 `json:"rss_per_conn_bytes,omitempty"`
	RSSError         string  `json:"rss_error,omitempty"`
	// Stats is the engine's GET /api/v1/stats at the end of the drain, when readable.
	Stats json.RawMessage `json:"stats,omitempty"`
}

// serverStatsTimeout bounds the read of the server's stats.
const serverStatsTimeout = 2 * time.Second

// serverStats reads the engine's stats route with the admin token; nil when it cannot
// (bench/floor has none, and an admin token without read is refused).
func (r *run) serverStats() json.RawMessage {
	ctx, cancel := context.WithTimeout(context.Background(), serverStatsTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.cfg.statsURL(), nil)
	if err != nil {
		return nil
	}
	if tok := r.cfg.Credentials.AdminToken; tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := r.pub.client.Do(req)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil || resp.StatusCode != http.StatusOK || !json.Valid(data) {
		return nil
	}
	return data
}

// result adds up the run once its clients are stopped.
func (r *run) result(interrupted bool, stats json.RawMessage) *Result {
	r.sampler.endProgress()
	elapsed := time.Since(r.started)
	res := &Result{
		URL: r.cfg.URL, Started: r.started.UTC(), ElapsedS: elapsed.Seconds(),
		Interrupted: interrupted,
		Setup: Setup{Clients: r.cfg.Clients, DurationS: r.cfg.Duration.Seconds(),
			Ramp: r.cfg.Ramp, PublishRate: r.cfg.PublishRate,
			PublishEveryS: r.cfg.PublishEvery.Seconds(), Auth: r.authName(),
			PublishDelayS: r.cfg.PublishDelay.Seconds(), Stalled: r.cfg.Stalled,
			GoVersion: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH,
			CPUs: runtime.NumCPU()},
		Publish: PublishStats{Calls: r.pub.calls.Load(), Alerts: r.pub.alerts.Load(),
			Refused: r.pub.refused.Load(), Failed: r.pub.failed.Load(),
			LastError: r.pub.lastError(), StoreLost: r.pub.lost.Load()},
		Timeline: r.sampler.timeline,
	}

	var recs []*receipts
	drops, stalls := map[string]uint64{}, map[string]uint64{}
	for _, c := range r.clients[:r.launched.Load()] {
		select {
		case <-c.done:
		default:
			res.Clients.Unfinished++
			continue
		}
		if !c.ready {
			continue
		}
		if c.stalled {
			res.Clients.Stalled++
			if c.dropped {
				res.Clients.StalledClosed++
				r.count(stalls, c.dropCause)
			}
			continue
		}
		recs = append(recs, &c.rec)
		if c.dropped {
			res.Clients.Dropped++
			r.count(drops, c.dropCause)
		}
	}
	r.mu.Lock()
	res.Clients.ConnectCauses = maps.Clone(r.connectErrors)
	r.mu.Unlock()
	for _, n := range res.Clients.ConnectCauses {
		res.Clients.ConnectErrors += n
	}
	res.Clients.Connected, res.Clients.Peak = r.welcomed.Load(), r.peak.Load()
	if len(drops) > 0 {
		res.Clients.DropCauses = drops
	}
	if len(stalls) > 0 {
		res.Clients.StalledCauses = stalls
	}

	t := account(r.pub.published(), recs)
	res.Delivery = DeliveryStats{Delivered: t.Unique, Owed: t.Owed, Lost: t.Lost,
		Duplicates: t.Duplicates, Reordered: t.Reordered, Early: t.Early,
		Untracked: t.Untracked, Unpublished: t.Unpublished,
		PerSecond:   float64(t.Unique) / elapsed.Seconds(),
		ErrorFrames: r.errorFrames.Load(), OtherFrames: r.otherFrames.Load(),
		BadFrames: r.badFrames.Load()}
	for _, s := range res.Timeline {
		res.Delivery.PeakPerSecond = max(res.Delivery.PeakPerSecond, s.Rate)
	}
	if first, last := r.pub.firstCall.Load(), r.lastReceipt.Load(); first > 0 && last > first {
		res.Delivery.PublishingPerSecond = float64(t.Unique) /
			time.Duration(last-first).Seconds()
	}

	snap := r.hist.Snapshot()
	res.Latency = latencyOf(snap)
	res.Histogram = snap.Buckets()
	res.Server = r.serverResult(res.Clients.Peak, stats)
	return res
}

// authName says how the run authenticated, for the report.
func (r *run) authName() string {
	if r.cfg.Credentials.ClientToken == nil {
		return "none"
	}
	return string(r.cfg.Auth)
}

// serverResult gathers the server's memory and stats; nil when there is neither.
func (r *run) serverResult(peakConns int64, stats json.RawMessage) *ServerStats {
	s := r.sampler
	if r.cfg.PID == 0 && stats == nil {
		return nil
	}
	out := &ServerStats{PID: r.cfg.PID, Stats: stats}
	if r.cfg.PID == 0 {
		return out
	}
	if s.rssErr != nil {
		out.RSSError = s.rssErr.Error()
	}
	out.RSSBaselineBytes, out.RSSPeakBytes = s.rssBase, s.rssPeak
	if peakConns > 0 && s.rssPeak > s.rssBase {
		out.RSSPerConnBytes = float64(s.rssPeak-s.rssBase) / float64(peakConns)
	}
	return out
}

// latencyOf summarises a histogram.
func latencyOf(s Snapshot) LatencyStats {
	return LatencyStats{Count: s.Total, P50Ms: ms(s.Quantile(0.5)), P90Ms: ms(s.Quantile(0.9)),
		P99Ms: ms(s.Quantile(0.99)), P999Ms: ms(s.Quantile(0.999)),
		MaxMs: ms(time.Duration(s.Max) * time.Microsecond), MeanMs: ms(s.Mean())}
}

// WriteTable writes the result as a table for a person.
func (res *Result) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(name, format string, args ...any) {
		fmt.Fprintf(tw, "%s\t"+format+"\n", append([]any{name}, args...)...)
	}
	st, c, p, d, l := res.Setup, res.Clients, res.Publish, res.Delivery, res.Latency
	state := "complete"
	if res.Interrupted {
		state = "interrupted"
	}
	row("run", "%s, %d clients, %.0fs (%s, %.1fs with drain)", res.URL, st.Clients,
		st.DurationS, state, res.ElapsedS)
	row("machine", "%s, %d CPUs, %s", st.OS, st.CPUs, st.GoVersion)
	row("connected", "%d (peak %d)", c.Connected, c.Peak)
	row("connect errors", "%d%s", c.ConnectErrors, causes(c.ConnectCauses))
	row("dropped by server", "%d%s", c.Dropped, causes(c.DropCauses))
	if c.Stalled > 0 {
		row("stalled clients", "%d, closed by the server %d%s", c.Stalled, c.StalledClosed,
			causes(c.StalledCauses))
	}
	row("published", "%d alerts in %d calls (refused %d, failed %d, store lost %d)",
		p.Alerts, p.Calls, p.Refused, p.Failed, p.StoreLost)
	if p.LastError != "" {
		row("last publish error", "%s", p.LastError)
	}
	row("delivered", "%d of %d owed", d.Delivered, d.Owed)
	row("lost", "%d", d.Lost)
	row("duplicates", "%d", d.Duplicates)
	row("out of order", "%d", d.Reordered)
	if d.Early+d.Untracked+d.Unpublished > 0 {
		row("unexpected", "%d before welcome, %d untracked, %d unpublished", d.Early,
			d.Untracked, d.Unpublished)
	}
	row("deliveries/s", "%.1f (peak second %.0f, while publishing %.0f)", d.PerSecond,
		d.PeakPerSecond, d.PublishingPerSecond)
	row("latency p50", "%s", formatMs(l.P50Ms))
	row("latency p90", "%s", formatMs(l.P90Ms))
	row("latency p99", "%s", formatMs(l.P99Ms))
	row("latency p99.9", "%s", formatMs(l.P999Ms))
	row("latency max", "%s", formatMs(l.MaxMs))
	if s := res.Server; s != nil && s.PID != 0 {
		if s.RSSError != "" {
			row("server RSS", "unreadable: %s", s.RSSError)
		} else {
			row("server RSS", "%.1f MiB before, %.1f MiB peak, %.1f KiB per connection",
				mib(s.RSSBaselineBytes), mib(s.RSSPeakBytes), s.RSSPerConnBytes/1024)
		}
	}
	return tw.Flush()
}

// causes writes counts by cause, most frequent first: " (http 429: 3, timeout: 1)".
func causes(m map[string]uint64) string {
	if len(m) == 0 {
		return ""
	}
	keys := slices.Collect(maps.Keys(m))
	slices.SortFunc(keys, func(a, b string) int {
		if c := cmp.Compare(m[b], m[a]); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s: %d", k, m[k])
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }
