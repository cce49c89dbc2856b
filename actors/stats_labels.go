package actors

import (
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/whalecast/whalecast/internal/alert"
	"github.com/whalecast/whalecast/internal/auth"
)

// labelOther is the label value that counts whatever a fixed list does not name, so that no
// label takes a value a client, a record or a configuration chose.
const labelOther = "other"

// Label values of the labelled metrics. Each list is fixed at build time; a value outside it
// counts under "other" where the list has it.
var (
	authReasons = newLabelSet(true,
		// The verifier's reasons (auth.Reason)...
		string(auth.ReasonMalformed), string(auth.ReasonBadAlgorithm),
		string(auth.ReasonUnknownKey), string(auth.ReasonBadSignature),
		string(auth.ReasonExpired), string(auth.ReasonNotYetValid),
		string(auth.ReasonMissingClaim), string(auth.ReasonBadClaim),
		string(auth.ReasonLifetimeTooLong), string(auth.ReasonRevoked), "invalid_token",
		// ...and the HTTP layer's (transport/request.go).
		"token_in_url", "missing_credentials", "unknown_api_key")
	// actorNames are the children of the engine's root actor, and "session" for every
	// child of the sessions supervisor.
	actorNames = newLabelSet(true, "audit", "broadcaster", "webhooks", "store", "sessions",
		"session", "monitor", "tracker", "detector", "source", "test-alerts")
	alertStatuses = newLabelSet(true, string(alert.StatusMempool),
		string(alert.StatusConfirmed), string(alert.StatusReplaced),
		string(alert.StatusConflicted), string(alert.StatusDropped),
		string(alert.StatusReorged))
	frameDrops      = newLabelSet(false, DropQueueFull, DropDiscarded)
	webhookOutcomes = newLabelSet(false, WebhookDelivered, WebhookRetry, WebhookDeadLetter,
		WebhookRefused)
)

// Reasons of FramesDropped.
const (
	// DropQueueFull is a frame refused because the connection's outbound queue was full; the
	// session then closes the connection as a slow consumer.
	DropQueueFull = "queue_full"
	// DropDiscarded is a frame still queued when its connection was cut: a stuck queue at
	// close, or a broken connection.
	DropDiscarded = "discarded"
)

// Outcomes of WebhookAttempted: those of persistence (delivered, retry, dead_letter), with
// the attempts the address guard refused (dead letters at once) apart.
const (
	WebhookDelivered  = "delivered"
	WebhookRetry      = "retry"
	WebhookDeadLetter = "dead_letter"
	WebhookRefused    = "refused"
)

// MaxDetectorLabels bounds the detector label values of whalecast_alerts_total besides
// "other": the built-in detectors, the test and bench publishers, and the first others
// seen (a registry may add detectors) up to the bound.
const MaxDetectorLabels = 32

// AuthFailureReasons returns the reason label values of whalecast_auth_failures_total.
func AuthFailureReasons() []string { return slices.Clone(authReasons.values) }

// ActorLabels returns the actor label values of whalecast_actor_restarts_total.
func ActorLabels() []string { return slices.Clone(actorNames.values) }

// AlertStatusLabels returns the status label values of whalecast_alerts_total.
func AlertStatusLabels() []string { return slices.Clone(alertStatuses.values) }

// FrameDropReasons returns the reason label values of whalecast_frames_dropped_total.
func FrameDropReasons() []string { return slices.Clone(frameDrops.values) }

// WebhookOutcomes returns the outcome label values of whalecast_webhook_deliveries_total.
func WebhookOutcomes() []string { return slices.Clone(webhookOutcomes.values) }

// labelSet is a fixed list of label values.
type labelSet struct {
	values []string
	index  map[string]int
	other  bool // the last value is labelOther
}

func newLabelSet(other bool, values ...string) *labelSet {
	l := &labelSet{values: slices.Clone(values), index: map[string]int{}, other: other}
	if other {
		l.values = append(l.values, labelOther)
	}
	for i, v := range l.values {
		l.index[v] = i
	}
	return l
}

// of returns the index v counts under: its own, "other", or -1 when the list has neither.
func (l *labelSet) of(v string) int {
	if i, ok := l.index[v]; ok {
		return i
	}
	if l.other {
		return len(l.values) - 1
	}
	return -1
}

// counterSet is one counter per value of a labelSet. The zero value counts nothing.
type counterSet struct {
	labels *labelSet
	counts []atomic.Int64
}

func newCounterSet(l *labelSet) counterSet {
	return counterSet{labels: l, counts: make([]atomic.Int64, len(l.values))}
}

func (c *counterSet) add(v string, n int64) {
	if c.labels == nil {
		return
	}
	if i := c.labels.of(v); i >= 0 {
		c.counts[i].Add(n)
	}
}

// each calls fn with every label value and its count, in the list's order.
func (c *counterSet) each(fn func(label string, n int64)) {
	if c.labels == nil {
		return
	}
	for i, v := range c.labels.values {
		fn(v, c.counts[i].Load())
	}
}

// snapshot returns the counts by label value.
func (c *counterSet) snapshot() map[string]int64 {
	out := map[string]int64{}
	c.each(func(v string, n int64) { out[v] = n })
	return out
}

// actorLabel names the actor of a PID id: "whalecast/store" is store, any child of the
// sessions supervisor is session, and an id outside the engine's tree is other.
func actorLabel(id string) string {
	parent, name := "", id
	if i := strings.LastIndexByte(id, '/'); i >= 0 {
		parent, name = id[:i], id[i+1:]
	}
	if strings.HasSuffix(parent, "/sessions") {
		name = "session"
	}
	return actorNames.values[actorNames.of(name)]
}

// alertTable counts stored records by detector and status. Rows are added by the store
// actor only, copy on write, so that scrapes read them without a lock.
type alertTable struct {
	mu   sync.Mutex // held while a row is added
	rows atomic.Pointer[[]*alertRow]
}

// alertRow is one detector's counts, one per value of alertStatuses.
type alertRow struct {
	detector string
	counts   []atomic.Int64
}

func newAlertRow(detector string) *alertRow {
	return &alertRow{detector: detector, counts: make([]atomic.Int64, len(alertStatuses.values))}
}

// seed adds rows for detectors, then other, so that their series exist from the start.
func (t *alertTable) seed(detectors []string) {
	rows := make([]*alertRow, 0, len(detectors)+1)
	for _, d := range detectors {
		rows = append(rows, newAlertRow(d))
	}
	rows = append(rows, newAlertRow(labelOther))
	t.rows.Store(&rows)
}

// add counts one record of detector with status.
func (t *alertTable) add(detector string, status alert.Status) {
	row := t.row(detector)
	if row == nil {
		return
	}
	row.counts[alertStatuses.of(string(status))].Add(1)
}

// row returns detector's row, adding it while there is room for a well-formed name; else
// the other row. It is nil for an unseeded table.
func (t *alertTable) row(detector string) *alertRow {
	p := t.rows.Load()
	if p == nil {
		return nil
	}
	if r := findRow(*p, detector); r != nil {
		return r
	}
	other := (*p)[len(*p)-1]
	if !ValidDetectorName(detector) || len(*p) > MaxDetectorLabels {
		return other
	}

	t.mu.Lock()
	defer t.mu.Unlock()
	p = t.rows.Load()
	if r := findRow(*p, detector); r != nil {
		return r
	}
	if len(*p) > MaxDetectorLabels {
		return other
	}
	rows := slices.Insert(slices.Clone(*p), len(*p)-1, newAlertRow(detector))
	t.rows.Store(&rows)
	return rows[len(rows)-2]
}

func findRow(rows []*alertRow, detector string) *alertRow {
	for _, r := range rows {
		if r.detector == detector {
			return r
		}
	}
	return nil
}

// each calls fn with every detector, status and count.
func (t *alertTable) each(fn func(detector, status string, n int64)) {
	p := t.rows.Load()
	if p == nil {
		return
	}
	for _, r := range *p {
		for i, s := range alertStatuses.values {
			fn(r.detector, s, r.counts[i].Load())
		}
	}
}

// snapshot returns the counts by detector, then status.
func (t *alertTable) snapshot() map[string]map[string]int64 {
	out := map[string]map[string]int64{}
	t.each(func(d, s string, n int64) {
		if out[d] == nil {
			out[d] = map[string]int64{}
		}
		out[d][s] = n
	})
	return out
}
