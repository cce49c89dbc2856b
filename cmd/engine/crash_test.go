package main

import (
	"bytes"
	"math/rand/v2"
	"testing"
	"time"
)

// Bounds of TestCrashRestartLosesNothing.
const (
	// crashRounds is how many engine processes are killed with SIGKILL.
	crashRounds = 5
	// maxKillDelay bounds the time from a client's welcome to the kill.
	maxKillDelay = 800 * time.Millisecond
	// maxResumeBack bounds how far before the last seen seq a run's client resumes, so that
	// each run compares some records with what an earlier run's client saw.
	maxResumeBack = 50
)

// TestCrashRestartLosesNothing runs the engine binary on the simulator as fast as it goes
// (--rate 0: thousands of records a second, alerts and updates in one seq space), kills it
// with SIGKILL at a random moment, and restarts it on the same data directory, several
// times. In each run a client resumes from a little before the last seq any client saw and
// records everything it receives until the kill: it must get seqs without a gap, a repeat or
// a reorder, each record byte for byte what earlier clients saw of that seq. At the end a
// client resuming from 0 must receive every record any client ever saw, densely numbered
// from 1, in order and unchanged: a record a client saw was durable, whatever the moment
// of the crash.
func TestCrashRestartLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and restarts engine processes for several seconds")
	}
	clearEnv(t)
	dir := t.TempDir()
	tok := mint(t, dir, "crash", "read")
	args := []string{"--addr", "127.0.0.1:0", "--data", dir, "--source", "sim",
		"--log-level", "info"}

	seen := map[uint64][]byte{} // every record a client saw, by seq
	var last uint64             // the highest seq a client saw
	for round := range crashRounds {
		p := startProcess(t, nil, append(args, "--rate", "0")...)
		since := last - rand.Uint64N(min(last, maxResumeBack)+1)
		rec := record(t, "ws://"+p.addr(t)+"/ws", tok, since, 0)
		delay := rand.N(maxKillDelay)
		time.Sleep(delay)
		p.kill(t)

		got := rec.wait(t, waitTimeout)
		compareSeen(t, seen, got)
		if n := len(got); n > 0 {
			last = max(last, got[n-1].seq)
		}
		t.Logf("round %d: resumed from %d, killed %v after welcome, saw %d records, last "+
			"seq %d", round, since, delay.Round(time.Millisecond), len(got), last)
	}
	if last == 0 {
		t.Fatal("no client saw any record")
	}

	// A quiet engine on the same data: every record seen before must be there, unchanged.
	p := startProcess(t, nil, append(args, "--rate", "1")...)
	rec := record(t, "ws://"+p.addr(t)+"/ws", tok, 0, last)
	got := rec.wait(t, waitTimeout)
	if n := uint64(len(got)); n < last {
		t.Fatalf("resume from 0: got %d records, want the %d seen before the crashes", n, last)
	}
	compareSeen(t, seen, got)
	for seq := uint64(1); seq <= last; seq++ {
		if _, ok := seen[seq]; !ok {
			t.Errorf("seq %d: no client saw it before the last run", seq)
			break
		}
	}
	if code, took := p.terminate(t, waitTimeout); code != 0 {
		t.Errorf("exit after SIGTERM: got code %d after %v, want 0\n%s", code, took,
			p.logTail())
	}
}

// compareSeen checks got against seen, the records clients saw before, and adds the new ones.
func compareSeen(tb testing.TB, seen map[uint64][]byte, got []seenRecord) {
	tb.Helper()
	for _, r := range got {
		before, ok := seen[r.seq]
		if !ok {
			seen[r.seq] = r.frame
			continue
		}
		if !bytes.Equal(before, r.frame) {
			tb.Fatalf("seq %d changed across a crash:\n got %s\nwant %s", r.seq, r.frame,
				before)
		}
	}
}
