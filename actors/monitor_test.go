package actors_test

import (
	"encoding/json"
	"sync"
	"testing"

	"github.com/whalecast/whalecast/actors"
	"github.com/whalecast/whalecast/internal/accuracy"
	"github.com/whalecast/whalecast/internal/alert"
	"github.com/whalecast/whalecast/internal/auth"
	"github.com/whalecast/whalecast/internal/notify"
)

// notifications records what the monitor hands its notifier.
type notifications struct {
	mu  sync.Mutex
	got []notify.Notification
}

func (n *notifications) Notify(m notify.Notification) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.got = append(n.got, m)
	return true
}

func (n *notifications) kinds() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]string, len(n.got))
	for i, m := range n.got {
		out[i] = m.Kind
	}
	return out
}

func TestMonitorAlertsOncePerEpisode(t *testing.T) {
	t.Parallel()
	e := newEngine(t, engineConfig{})
	admin := newFakePeer(0)
	e.connect(t, admin, auth.PermRead, auth.PermAdmin)
	reader := newFakePeer(0)
	readerPID, _ := e.connect(t, reader, auth.PermRead)
	sent := &notifications{}
	props, err := actors.NewMonitorProps(accuracy.Config{Window: 10, MinSamples: 10,
		Threshold: 0.7}, e.sessions, sent, e.stats, e.log)
	if err != nil {
		t.Fatal(err)
	}
	mon := e.sys.Root.Spawn(props)
	t.Cleanup(func() { _ = e.sys.Root.StopFuture(mon).Wait() })

	// Ten settled: 6 confirmed (60%, below 70%), then 4 more confirmed (100%: recovered).
	outcomes := []alert.Status{"confirmed", "confirmed", "replaced", "dropped", "confirmed",
		"conflicted", "confirmed", "replaced", "confirmed", "confirmed",
		"confirmed", "confirmed", "confirmed", "confirmed", "confirmed"}
	for i, o := range outcomes {
		e.sys.Root.Send(mon, &actors.Settled{TxID: whale(i, 100).TxID, Outcome: o,
			At: testStart})
	}
	frames := admin.nextRaw(t, 2)
	var first struct {
		Type     string            `json:"type"`
		Kind     string            `json:"kind"`
		Message  string            `json:"message"`
		Accuracy accuracy.Snapshot `json:"accuracy"`
	}
	if err := json.Unmarshal(frames[0], &first); err != nil {
		t.Fatal(err)
	}
	if first.Type != "operator_alert" || first.Kind != "accuracy_degraded" ||
		first.Accuracy.Accuracy == nil || *first.Accuracy.Accuracy != 0.6 {
		t.Errorf("first operator frame %+v, want accuracy_degraded at 0.6", first)
	}
	if err := json.Unmarshal(frames[1], &first); err != nil || first.Kind !=
		"accuracy_recovered" {
		t.Errorf("second operator frame %s, want accuracy_recovered", frames[1])
	}
	waitFor(t, "two notifications", func() bool { return len(sent.kinds()) == 2 })
	if k := sent.kinds(); k[0] != "accuracy_degraded" || k[1] != "accuracy_recovered" {
		t.Errorf("notifications %v, want degraded then recovered", k)
	}
	if snap := e.stats.Accuracy.Load(); snap == nil || snap.Degraded || snap.Episodes != 1 {
		t.Errorf("stats accuracy %+v, want one episode, recovered", snap)
	}

	e.send(readerPID, `{"type":"ping"}`)
	if got := reader.next(t, 1)[0]; got.Type != "pong" {
		t.Errorf("a reader without admin got %q, want no operator alert", got.Type)
	}
}
