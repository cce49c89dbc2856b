package actors_test

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/whalecast/whalecast/actors"
	"github.com/whalecast/whalecast/internal/alert"
	"github.com/whalecast/whalecast/internal/auth"
)

// panicToken makes panickyVerifier panic.
const panicToken = "panic.panic.panic"

// panickyVerifier verifies like the real one, except that it panics on panicToken: a bug in
// a session's dependency.
type panickyVerifier struct{ actors.TokenVerifier }

func (v panickyVerifier) Verify(token string) (auth.Claims, error) {
	if token == panicToken {
		panic("test: verifier bug")
	}
	return v.TokenVerifier.Verify(token)
}

func TestSessionPanicClosesOnlyThatSession(t *testing.T) {
	t.Parallel()
	e := newEngine(t, engineConfig{
		Verifier: func(v *auth.Verifier) actors.TokenVerifier { return panickyVerifier{v} },
	})
	healthy := newFakePeer(0)
	e.connect(t, healthy, auth.PermRead)
	failing := newFakePeer(0)
	pid := e.startSession(t, failing)
	e.send(pid, authMessage(panicToken, -1))

	code, reason := failing.waitClosed(t)
	if code != actors.CloseInternalError {
		t.Errorf("close code %d %q, want %d", code, reason, actors.CloseInternalError)
	}
	if frames := failing.untaken(); len(frames) != 0 {
		t.Errorf("failed session sent %q, want nothing", frames)
	}
	waitFor(t, "the failed session to stop", func() bool { return e.sessionCount(t) == 1 })

	e.publish(whales(1, 2)...)
	if seqs := seqsOf(t, healthy.next(t, 2)); fmt.Sprint(seqs) != "[1 2]" {
		t.Errorf("the other session got %v, want [1 2]", seqs)
	}
	if healthy.isClosed() {
		t.Errorf("the other session was closed")
	}
	if logs := e.logs.String(); !strings.Contains(logs, "test: verifier bug") {
		t.Errorf("the panic value is not logged")
	}
}

// panicOnce panics the first time it sees txid, then matches nothing: a rule with a bug
// that one transaction triggers.
type panicOnce struct {
	txid     string
	panicked *atomic.Bool
}

func (panicOnce) Name() string { return "panic_once" }

func (r panicOnce) Match(tx actors.Transaction) bool {
	if tx.Summary.TxID == r.txid && r.panicked.CompareAndSwap(false, true) {
		panic("test: rule bug on " + tx.Summary.TxID)
	}
	return false
}

func TestDetectorPanicRestarts(t *testing.T) {
	t.Parallel()
	txs := block277647Txs(t)
	tests := []struct {
		name      string
		panicOn   string
		wantFirst []string // alerts of the first pass over the block
	}{
		{"on a small transaction", txs[0].TxHash().String(),
			[]string{block277647Whales[0].txid, block277647Whales[1].txid,
				block277647Whales[2].txid}},
		{"on a whale", block277647Whales[1].txid,
			[]string{block277647Whales[0].txid, block277647Whales[2].txid}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sys := newActorSystem(t, nil)
			stats := actors.NewStats(testStart)
			rec, recPID := spawnRecorder(t, sys)
			rules := []actors.Rule{
				panicOnce{txid: tt.panicOn, panicked: &atomic.Bool{}},
				actors.LargeValue{MinSat: 100 * alert.SatPerBTC},
			}
			det := spawnSupervised(t, sys, actors.NewRestartStrategy(stats, discardLogger()),
				actors.NewDetectorProps(rules, recPID, stats, discardLogger()))

			// The failing transaction is acknowledged too, so a source's window never leaks.
			last := feed(t, sys, det, recPID, txs, 1, false)
			rec.waitAcked(t, last)
			if got := rec.txids(); fmt.Sprint(got) != fmt.Sprint(tt.wantFirst) {
				t.Errorf("first pass alerts %v, want %v", got, tt.wantFirst)
			}
			if got := stats.ActorRestarts.Load(); got != 1 {
				t.Errorf("ActorRestarts %d, want 1", got)
			}

			// The restarted detector still knows what it alerted: only a whale lost to the
			// panic is alerted now.
			rec.waitAcked(t, feed(t, sys, det, recPID, txs, last+1, false))
			var want []string
			for _, w := range block277647Whales {
				want = append(want, w.txid)
			}
			got := rec.txids()
			if len(got) != 3 || !sameSet(got, want) {
				t.Errorf("after a second pass alerts %v, want each of %v once", got, want)
			}
		})
	}
}

// sameSet reports whether a and b hold the same strings, in any order.
func sameSet(a, b []string) bool {
	seen := map[string]int{}
	for _, s := range a {
		seen[s]++
	}
	for _, s := range b {
		seen[s]--
	}
	for _, n := range seen {
		if n != 0 {
			return false
		}
	}
	return true
}

// alwaysPanics panics on every transaction.
type alwaysPanics struct{}

func (alwaysPanics) Name() string                  { return "always_panics" }
func (alwaysPanics) Match(actors.Transaction) bool { panic("test: rule always fails") }

func TestDetectorStoppedAfterTooManyFailures(t *testing.T) {
	t.Parallel()
	txs := block277647Txs(t)
	sys := newActorSystem(t, nil)
	stats := actors.NewStats(testStart)
	rec, recPID := spawnRecorder(t, sys)
	det := spawnSupervised(t, sys, actors.NewRestartStrategy(stats, discardLogger()),
		actors.NewDetectorProps([]actors.Rule{alwaysPanics{}}, recPID, stats, discardLogger()))
	stopped := make(chan struct{})
	sys.Root.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
		switch ctx.Message().(type) {
		case *actor.Started:
			ctx.Watch(det)
		case *actor.Terminated:
			close(stopped)
		}
	}))

	rec.waitAcked(t, feed(t, sys, det, recPID, txs[:actors.MaxRestarts+1], 1, false))
	select {
	case <-stopped:
	case <-timeAfter(t):
		t.Fatalf("detector still alive after %d failures in a row", actors.MaxRestarts+1)
	}
	if got := stats.ActorRestarts.Load(); got < actors.MaxRestarts {
		t.Errorf("ActorRestarts %d, want at least %d", got, actors.MaxRestarts)
	}
}
