package actors_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/whalecast/whalecast/actors"
	"github.com/whalecast/whalecast/internal/alert"
	"github.com/whalecast/whalecast/internal/auth"
)

func TestDeliveryDenseAndInOrder(t *testing.T) {
	t.Parallel()
	const n = 40
	e := newEngine(t, engineConfig{})
	peers := []*fakePeer{newFakePeer(0), newFakePeer(0), newFakePeer(0)}
	for _, p := range peers {
		e.connect(t, p, auth.PermRead)
	}
	sent := whales(1, n)
	e.publish(sent...)

	for i, p := range peers {
		got := p.next(t, n)
		if ok, diff := equalSeqs(seqsOf(t, got), seqRange(1, n)); !ok {
			t.Errorf("session %d: %s", i, diff)
			continue
		}
		for j, f := range got {
			a := alertData(t, f)
			if a.TxID != sent[j].TxID || a.ValueSat != sent[j].ValueSat {
				t.Errorf("session %d seq %d: txid %s value %d, want %s %d", i, f.Seq,
					a.TxID, a.ValueSat, sent[j].TxID, sent[j].ValueSat)
			}
			if want := alert.BTC(sent[j].ValueSat); a.ValueBTC != want {
				t.Errorf("session %d seq %d: value_btc %v, want %v", i, f.Seq, a.ValueBTC, want)
			}
		}
	}
	if got := e.stats.Deliveries.Load(); got != 3*n {
		t.Errorf("Deliveries %d, want %d", got, 3*n)
	}
	if got := e.stats.AlertsStored.Load(); got != n {
		t.Errorf("AlertsStored %d, want %d", got, n)
	}
}

// drive reads a client's frames until it holds want whale alerts, resuming a paused replay
// by advancing the clock past the session's retry pause. Other frames fail the test.
func (e *engine) drive(tb testing.TB, peer *fakePeer, want int) []uint64 {
	tb.Helper()
	var seqs []uint64
	deadline := time.Now().Add(waitLimit)
	for len(seqs) < want {
		for _, b := range peer.takeAll() {
			seqs = append(seqs, seqsOf(tb, []serverFrame{decodeFrame(tb, b)})...)
		}
		if len(seqs) >= want {
			break
		}
		if peer.isClosed() {
			code, reason := peer.waitClosed(tb)
			tb.Fatalf("closed with %d %q after seqs %v", code, reason, seqs)
		}
		if time.Now().After(deadline) {
			tb.Fatalf("gave up after %v with seqs %v, want %d alerts", waitLimit, seqs, want)
		}
		e.clock.Advance(replayRetry)
		select {
		case <-peer.changed:
		case <-time.After(time.Millisecond):
		}
	}
	return seqs
}

func TestResumeWithoutGapOrDuplicate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		stored  int   // alerts stored before the client connects
		since   int64 // the client's since
		live    int   // alerts published while the replay runs
		page    int   // ReplayPage
		paused  bool  // hold the replay on its high-water mark while live alerts arrive
		wantLow uint64
	}{
		{"from the start, paused", 10, 0, 5, 3, true, 1},
		{"from the middle, paused", 10, 4, 5, 3, true, 5},
		{"page of one, paused", 6, 1, 4, 1, true, 2},
		{"page larger than the gap, paused", 10, 7, 3, 256, true, 8},
		{"nothing to replay", 10, 10, 3, 3, true, 11},
		{"empty store", 0, 0, 3, 3, true, 1},
		{"from the start, racing live alerts", 60, 0, 40, 7, false, 1},
		{"from the middle, racing live alerts", 60, 33, 40, 2, false, 34},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			highWater := 1 << 20
			if tt.paused {
				highWater = 1 // auth_success and welcome already exceed it
			}
			e := newEngine(t, engineConfig{Preload: tt.stored, Session: actors.SessionConfig{
				ReplayPage: tt.page, ReplayHighWater: highWater,
			}})
			peer := newFakePeer(0)
			pid := e.startSession(t, peer)
			live := whales(tt.stored+1, tt.stored+tt.live)

			if tt.paused {
				e.send(pid, authMessage(e.token(t, auth.PermRead), tt.since))
				waitFor(t, "the replay to pause", func() bool { return e.clock.Pending() == 2 })
				e.publish(live...)
				waitFor(t, "the live deliveries", func() bool {
					return e.stats.Deliveries.Load() == int64(tt.live)
				})
			} else {
				go e.publish(live...)
				e.send(pid, authMessage(e.token(t, auth.PermRead), tt.since))
			}

			got := peer.next(t, 2)
			if got[0].Type != "auth_success" || got[1].Type != "welcome" {
				t.Fatalf("got %q, %q; want auth_success, welcome", got[0].Type, got[1].Type)
			}
			if tt.paused && got[1].Seq != uint64(tt.stored) {
				t.Errorf("welcome seq %d, want %d", got[1].Seq, tt.stored)
			}
			last := uint64(tt.stored + tt.live)
			seqs := e.drive(t, peer, int(last-tt.wantLow+1))
			if ok, diff := equalSeqs(seqs, seqRange(tt.wantLow, last)); !ok {
				t.Fatalf("%s: got %v", diff, seqs)
			}

			e.send(pid, `{"type":"ping"}`)
			if a := answers(peer.next(t, 1)); a[0] != "pong" {
				t.Errorf("after the last alert got %q, want pong and nothing else", a[0])
			}
		})
	}
}

func TestReplayPausesAboveHighWater(t *testing.T) {
	t.Parallel()
	e := newEngine(t, engineConfig{Preload: 10, Session: actors.SessionConfig{
		ReplayPage: 2, ReplayHighWater: 3,
	}})
	peer := newFakePeer(0)
	pid := e.startSession(t, peer)
	e.send(pid, authMessage(e.token(t, auth.PermRead), 0))

	// auth_success and welcome (2 queued, not above 3), one page (4 queued), then a pause.
	waitFor(t, "the replay to pause", func() bool { return e.clock.Pending() == 2 })
	if got := peer.Queued(); got != 4 {
		t.Fatalf("queued while paused: %d frames, want 4 (one page above the mark)", got)
	}
	peer.next(t, 2)
	if seqs := seqsOf(t, peer.next(t, 2)); seqs[0] != 1 || seqs[1] != 2 {
		t.Fatalf("first page %v, want [1 2]", seqs)
	}
	if got := peer.Queued(); got != 0 {
		t.Fatalf("read a page while paused: %d frames queued", got)
	}
	seqs := e.drive(t, peer, 8)
	if ok, diff := equalSeqs(seqs, seqRange(3, 10)); !ok {
		t.Errorf("after the pause: %s (%v)", diff, seqs)
	}
}

func TestResumeOverflowIsSlowConsumer(t *testing.T) {
	t.Parallel()
	e := newEngine(t, engineConfig{Preload: 5, Session: actors.SessionConfig{
		ReplayPage: 2, ReplayHighWater: 1, MaxPending: 2,
	}})
	peer := newFakePeer(0)
	pid := e.startSession(t, peer)
	e.send(pid, authMessage(e.token(t, auth.PermRead), 0))
	waitFor(t, "the replay to pause", func() bool { return e.clock.Pending() == 2 })

	e.publish(whales(6, 8)...)
	code, reason := peer.waitClosed(t)
	if code != actors.CloseSlowConsumer {
		t.Errorf("close code %d %q, want %d", code, reason, actors.CloseSlowConsumer)
	}
	frames := peer.nextUntil(t, "error")
	if last := answers(frames[len(frames)-1:]); last[0] != "error:slow_consumer" {
		t.Errorf("last frame before the close: %q, want error:slow_consumer", last)
	}
	if got := e.stats.SlowConsumerCloses.Load(); got != 1 {
		t.Errorf("SlowConsumerCloses %d, want 1", got)
	}
}

func TestSlowConsumerClosed(t *testing.T) {
	t.Parallel()
	e := newEngine(t, engineConfig{})
	healthy := newFakePeer(0)
	e.connect(t, healthy, auth.PermRead)
	slow := newFakePeer(2)
	pid := e.startSession(t, slow)
	e.send(pid, authMessage(e.token(t, auth.PermRead), -1))
	waitFor(t, "auth_success and welcome", func() bool { return slow.Queued() == 2 })

	e.publish(whales(1, 3)...)
	code, reason := slow.waitClosed(t)
	if code != actors.CloseSlowConsumer {
		t.Errorf("close code %d %q, want %d", code, reason, actors.CloseSlowConsumer)
	}
	if got := answers(slow.next(t, 3)); got[0] != "auth_success" || got[1] != "welcome" ||
		got[2] != "error:slow_consumer" {
		t.Errorf("slow client got %q, want auth_success, welcome, the slow_consumer error "+
			"and the close", got)
	}
	if got := e.stats.SlowConsumerCloses.Load(); got != 1 {
		t.Errorf("SlowConsumerCloses %d, want 1", got)
	}
	if seqs := seqsOf(t, healthy.next(t, 3)); seqs[0] != 1 || seqs[2] != 3 {
		t.Errorf("healthy client got %v, want [1 2 3]", seqs)
	}
	slow.mu.Lock()
	refused, late := slow.refused, slow.late
	slow.mu.Unlock()
	if refused != 1 || late != 0 {
		t.Errorf("%d frames refused by the full queue and %d sent after the close, want 1 "+
			"and 0", refused, late)
	}
}

// expiredReader hides stored alerts up to and including below, as a store with retention
// does once they expire: Range skips them and goes on with the first one kept.
type expiredReader struct {
	actors.AlertReader
	below uint64
}

func (r expiredReader) Range(after uint64, limit int) ([]alert.Stored, error) {
	return r.AlertReader.Range(max(after, r.below), limit)
}

// TestResumeOverRetentionGap resumes from before the oldest kept alert while live alerts
// are already stored: the replay must stop at the seq the broadcaster acknowledged, or the
// live alerts are sent twice.
func TestResumeOverRetentionGap(t *testing.T) {
	t.Parallel()
	e := newEngine(t, engineConfig{
		Preload: 10,
		Reader:  func(r actors.AlertReader) actors.AlertReader { return expiredReader{r, 8} },
		Session: actors.SessionConfig{ReplayHighWater: 1},
	})
	peer := newFakePeer(0)
	pid := e.startSession(t, peer)
	e.send(pid, authMessage(e.token(t, auth.PermRead), 0))
	waitFor(t, "the replay to pause", func() bool { return e.clock.Pending() == 2 })
	e.publish(whales(11, 13)...)
	waitFor(t, "the live deliveries", func() bool { return e.stats.Deliveries.Load() == 3 })

	peer.next(t, 2)
	seqs := e.drive(t, peer, 5)
	e.send(pid, `{"type":"ping"}`)
	for _, b := range peer.nextRaw(t, 1) {
		if f := decodeFrame(t, b); f.Type != "pong" {
			seqs = append(seqs, f.Seq)
			t.Errorf("an extra %s frame seq %d after the last alert", f.Type, f.Seq)
		}
	}
	if ok, diff := equalSeqs(seqs, seqRange(9, 13)); !ok {
		t.Errorf("%s: got %v", diff, seqs)
	}
}

// TestResumeFromStoredNotYetPublished resumes from a seq the store holds but the
// broadcaster has not handed out yet (a client that read it through REST): the resume is
// accepted, and the client gets the live alerts above since, none twice.
func TestResumeFromStoredNotYetPublished(t *testing.T) {
	t.Parallel()
	e := newEngine(t, engineConfig{})
	var records []alert.Record
	for _, a := range whales(1, 4) {
		records = append(records, alert.Record{Alert: &a})
	}
	stored, err := e.mem.Append(records)
	if err != nil {
		t.Fatal(err)
	}
	peer := newFakePeer(0)
	pid := e.startSession(t, peer)
	e.send(pid, authMessage(e.token(t, auth.PermRead), 2))
	if got := answers(peer.next(t, 2)); got[0] != "auth_success" || got[1] != "welcome" {
		t.Fatalf("got %q, want auth_success and welcome", got)
	}

	for _, st := range stored {
		e.sys.Root.Send(e.broadcaster, &actors.Published{
			Entries: []actors.Entry{{Stored: st, Meta: actors.MetaOf(st)}}})
	}
	if seqs := seqsOf(t, peer.next(t, 2)); seqs[0] != 3 || seqs[1] != 4 {
		t.Errorf("after since 2: got seqs %v, want [3 4]", seqs)
	}
	e.send(pid, `{"type":"ping"}`)
	if got := answers(peer.next(t, 1)); got[0] != "pong" {
		t.Errorf("got %q after the alerts, want only pong", got)
	}
}

// TestStalledClientCountedSlow ends a session whose connection reports that its client
// stopped reading: it is a slow consumer, counted and closed with 4009, not a client that
// left.
func TestStalledClientCountedSlow(t *testing.T) {
	t.Parallel()
	e := newEngine(t, engineConfig{})
	peer := newFakePeer(0)
	pid, _ := e.connect(t, peer, auth.PermRead)
	e.sys.Root.Send(pid, &actors.PeerGone{Err: fmt.Errorf("%w (write timeout)",
		actors.ErrClientStalled)})
	if code, reason := peer.waitClosed(t); code != actors.CloseSlowConsumer {
		t.Errorf("close code %d %q, want %d", code, reason, actors.CloseSlowConsumer)
	}
	if got := e.stats.SlowConsumerCloses.Load(); got != 1 {
		t.Errorf("SlowConsumerCloses %d, want 1", got)
	}
}

// TestFilterWidenedDuringResume narrows the filter while a resume replays, lets live alerts
// arrive, then widens it before the replay ends: the client gets those live alerts, since
// they were held back unfiltered and are filtered when released.
func TestFilterWidenedDuringResume(t *testing.T) {
	t.Parallel()
	e := newEngine(t, engineConfig{Preload: 6, Session: actors.SessionConfig{
		ReplayPage: 2, ReplayHighWater: 1,
	}})
	peer := newFakePeer(0)
	pid := e.startSession(t, peer)
	e.send(pid, authMessage(e.token(t, auth.PermRead, auth.PermWrite), 0))
	waitFor(t, "the replay to pause", func() bool { return e.clock.Pending() == 2 })

	e.send(pid, `{"type":"subscribe","min_btc":1000000}`)
	e.publish(whales(7, 9)...)
	waitFor(t, "the live alerts held", func() bool { return e.stats.Deliveries.Load() == 3 })
	e.send(pid, `{"type":"subscribe","min_btc":0}`)

	var seqs []uint64
	deadline := time.Now().Add(waitLimit)
	for len(seqs) < 3 || seqs[len(seqs)-1] != 9 {
		for _, b := range peer.takeAll() {
			if f := decodeFrame(t, b); f.Type == "whale_alert" {
				seqs = append(seqs, f.Seq)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("gave up with seqs %v, want the live 7 to 9 at the end", seqs)
		}
		e.clock.Advance(replayRetry)
		time.Sleep(time.Millisecond)
	}
	if got := seqs[len(seqs)-3:]; got[0] != 7 || got[1] != 8 {
		t.Errorf("seqs %v: want the live alerts 7, 8, 9 after the widening", seqs)
	}
}
