package actors_test

import (
	"testing"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/whalecast/whalecast/actors"
	"github.com/whalecast/whalecast/internal/alert"
	"github.com/whalecast/whalecast/internal/auth"
)

// TestEndedSessionsLeaveBroadcaster ends a session each way a session ends, then publishes
// one alert: only the session still open gets it, so the ended one left the broadcaster.
func TestEndedSessionsLeaveBroadcaster(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		end  func(e *engine, pid *actor.PID)
	}{
		{"client gone", func(e *engine, pid *actor.PID) {
			e.sys.Root.Send(pid, &actors.PeerGone{})
		}},
		{"bad re-auth", func(e *engine, pid *actor.PID) {
			e.send(pid, authMessage("not.a.token", -1))
		}},
		{"panic", func(e *engine, pid *actor.PID) {
			e.send(pid, authMessage(panicToken, -1))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEngine(t, engineConfig{Verifier: func(v *auth.Verifier) actors.TokenVerifier {
				return panickyVerifier{v}
			}})
			stay, leave := newFakePeer(0), newFakePeer(0)
			e.connect(t, stay, auth.PermRead)
			pid, _ := e.connect(t, leave, auth.PermRead)

			tt.end(e, pid)
			leave.waitClosed(t)
			waitFor(t, "the session to stop", func() bool { return e.sessionCount(t) == 1 })
			e.publish(whales(1, 1)...)
			e.waitPublished(t, 1)

			if got := e.stats.Deliveries.Load(); got != 1 {
				t.Errorf("deliveries: got %d, want 1 (to the open session only)", got)
			}
			if got := stay.next(t, 1)[0].Type; got != "whale_alert" {
				t.Errorf("open session: got %q, want whale_alert", got)
			}
		})
	}
}

// TestBroadcasterFlush checks the barrier the engine's shutdown uses between the store's last
// write and closing the sessions: Flush is answered only once every alert handed to the
// broadcaster before it has gone to the sessions.
func TestBroadcasterFlush(t *testing.T) {
	t.Parallel()
	e := newEngine(t, engineConfig{})
	peer := newFakePeer(0)
	e.connect(t, peer, auth.PermRead)
	var records []alert.Record
	for _, a := range whales(1, 50) {
		records = append(records, alert.Record{Alert: &a})
	}
	stored, err := e.mem.Append(records)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range stored {
		e.sys.Root.Send(e.broadcaster, &actors.Published{
			Entries: []actors.Entry{{Stored: st, Meta: actors.MetaOf(st)}}})
	}

	res, err := e.sys.Root.RequestFuture(e.broadcaster, &actors.Flush{}, waitLimit).Result()
	if _, ok := res.(*actors.Flushed); err != nil || !ok {
		t.Fatalf("flush: got %T, %v; want *actors.Flushed", res, err)
	}
	if got := e.stats.AlertsPublished.Load(); got != int64(len(stored)) {
		t.Errorf("published when flushed: got %d, want %d", got, len(stored))
	}
	if got := seqsOf(t, peer.next(t, len(stored))); len(got) != len(stored) ||
		got[len(got)-1] != stored[len(stored)-1].Seq {
		t.Errorf("session got seqs %v, want 1 to %d", got, len(stored))
	}
}
