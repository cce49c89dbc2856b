package actors

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/whalecast/whalecast/internal/accuracy"
	"github.com/whalecast/whalecast/internal/notify"
)

// Notifier delivers operator notifications outside the engine (a signed webhook, an
// email); notify.Dispatcher implements it. Notify never blocks.
type Notifier interface {
	Notify(n notify.Notification) bool
}

// monitor keeps the rolling accuracy of settled alerts and alerts the operator once per
// episode when it falls below the threshold, and once when it recovers: an operator_alert
// to admin sessions, a notification (webhook, email) and a log line.
type monitor struct {
	sessions *actor.PID
	notifier Notifier
	stats    *Stats
	log      *slog.Logger
	acc      *accuracy.Monitor
}

// NewMonitorProps returns the accuracy monitor's props. sessions receives the operator
// notices; notifier may be nil. The monitor's window outlives restarts of the actor but not
// of the engine: it fills again from the alerts settled after a start.
func NewMonitorProps(cfg accuracy.Config, sessions *actor.PID, notifier Notifier,
	stats *Stats, log *slog.Logger) (*actor.Props, error) {
	acc, err := accuracy.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("actors: accuracy monitor: %w", err)
	}
	snap := acc.Snapshot()
	stats.Accuracy.Store(&snap)
	return actor.PropsFromProducer(func() actor.Actor {
		return &monitor{sessions: sessions, notifier: notifier, stats: stats, log: log,
			acc: acc}
	}), nil
}

// Receive implements actor.Actor.
func (m *monitor) Receive(ctx actor.Context) {
	if s, ok := ctx.Message().(*Settled); ok {
		m.settled(ctx, s)
	}
}

func (m *monitor) settled(ctx actor.Context, s *Settled) {
	o, err := accuracy.ParseOutcome(string(s.Outcome))
	if err != nil {
		// A settled reorg or mempool status is not an outcome: the lifecycle never sends
		// one, but a bad value must not count.
		m.log.Warn("settled alert has no outcome", "txid", s.TxID, "status", s.Outcome)
		return
	}
	tr := m.acc.Record(o, s.At)
	snap := m.acc.Snapshot()
	m.stats.Accuracy.Store(&snap)
	switch tr {
	case accuracy.Degraded:
		m.log.Error("alert accuracy below threshold", "accuracy", *snap.Accuracy,
			"threshold", snap.Threshold, "samples", snap.Samples)
		m.announce(ctx, "accuracy_degraded", snap, s.At)
	case accuracy.Recovered:
		m.log.Warn("alert accuracy recovered", "accuracy", *snap.Accuracy,
			"threshold", snap.Threshold, "samples", snap.Samples)
		m.announce(ctx, "accuracy_recovered", snap, s.At)
	}
}

// announce tells admin sessions and the notifier about an episode's start or end.
func (m *monitor) announce(ctx actor.Context, kind string, snap accuracy.Snapshot,
	at time.Time) {
	text := fmt.Sprintf("Whalecast alert accuracy is %.1f%% over the last %d settled "+
		"alerts (threshold %.0f%%): %d confirmed, %d replaced, %d conflicted, %d dropped.",
		100**snap.Accuracy, snap.Samples, 100*snap.Threshold, snap.Confirmed, snap.Replaced,
		snap.Conflicted, snap.Dropped)
	body, _ := json.Marshal(operatorAlert{Type: "operator_alert", Kind: kind, Message: text,
		Accuracy: snap, At: at.UTC()})
	if m.sessions != nil {
		ctx.Send(m.sessions, &OperatorNotice{Frame: body})
	}
	if m.notifier == nil {
		return
	}
	subject := "Whalecast: alert accuracy recovered"
	if kind == "accuracy_degraded" {
		subject = "Whalecast: alert accuracy below threshold"
	}
	// Episodes count from one at each start: the start time keeps keys unique across runs,
	// so a receiver that remembers keys does not drop the next run's first episode.
	key := kind + "-" + strconv.FormatInt(m.stats.Started.Unix(), 10) + "-" +
		strconv.Itoa(snap.Episodes)
	n := notify.Notification{Kind: kind, Subject: subject, Text: text, Body: body, Key: key,
		At: at}
	if !m.notifier.Notify(n) {
		m.log.Error("operator notification dropped", "kind", kind)
	}
}

// operatorAlert is the operator_alert message: the frame admin sessions receive and the body
// the operator webhook posts.
type operatorAlert struct {
	Type     string            `json:"type"`
	Kind     string            `json:"kind"`
	Message  string            `json:"message"`
	Accuracy accuracy.Snapshot `json:"accuracy"`
	At       time.Time         `json:"at"`
}
