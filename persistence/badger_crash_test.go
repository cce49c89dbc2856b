package persistence_test

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/whalecast/whalecast/internal/alert"
	"github.com/whalecast/whalecast/persistence"
)

// TestBadgerCrash kills a child process that appends in a loop with SIGKILL at a random
// moment, several times over the same directory, and checks after each kill that the
// numbering is dense, no txid is stored twice, updates and tracker states match the alerts
// and every acknowledged record survived.
func TestBadgerCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns child processes")
	}
	const rounds = 6
	dir := t.TempDir()

	var acked uint64
	for round := range rounds {
		// Round 0 kills the child early, often while it opens the store; later rounds
		// kill it while it appends.
		afterAck := round > 0
		delay := time.Duration(rand.IntN(300)) * time.Millisecond
		if !afterAck {
			delay = time.Duration(rand.IntN(100)) * time.Millisecond
		}
		got := crashChild(t, dir, afterAck, delay)
		acked = max(acked, got)

		last := checkAfterCrash(t, dir, acked)
		t.Logf("round %d: killed %v after the %s, acked %d, stored %d",
			round, delay, map[bool]string{true: "first ack", false: "start"}[afterAck], got, last)
	}
	if acked == 0 {
		t.Fatal("no child ever acknowledged an append")
	}
}

// crashChild starts an appending child, kills it with SIGKILL delay after its first
// acknowledged Append (or after its start when afterAck is false) and returns the highest
// seq it acknowledged.
func crashChild(t *testing.T, dir string, afterAck bool, delay time.Duration) uint64 {
	t.Helper()
	cmd := childCommand(t.Context(), "crash", dir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}

	firstAck := make(chan struct{})
	lastAck := make(chan uint64, 1)
	go func() {
		var last uint64
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			seq, ok := strings.CutPrefix(sc.Text(), "ack ")
			if n, err := strconv.ParseUint(seq, 10, 64); ok && err == nil {
				if last == 0 {
					close(firstAck)
				}
				last = n
			}
		}
		lastAck <- last
	}()

	if afterAck {
		select {
		case <-firstAck:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			t.Fatal("child acknowledged nothing within 20s")
		}
	}
	time.Sleep(delay)
	if err := cmd.Process.Kill(); err != nil {
		t.Fatalf("kill child: %v", err)
	}
	_ = cmd.Wait()
	return <-lastAck
}

// checkAfterCrash reopens the store and checks it: seqs 1..LastSeq without a hole, no
// duplicate txid among real alerts, every update pointing at the alert stored before it,
// every tracker state belonging to a stored record, and nothing acknowledged lost. It
// returns LastSeq.
func checkAfterCrash(t *testing.T, dir string, acked uint64) uint64 {
	t.Helper()
	s := openBadger(t, persistence.BadgerOptions{Dir: dir})
	defer closeStore(t, s)

	last := s.LastSeq()
	if last < acked {
		t.Fatalf("LastSeq %d after the crash, but the child acknowledged %d", last, acked)
	}
	if c := s.Count(); c != last {
		t.Errorf("Count %d, want LastSeq %d", c, last)
	}

	w := crashWalk{alerts: make(map[string]uint64), touched: make(map[string]bool)}
	var want uint64 = 1
	for after := uint64(0); ; {
		page := mustRange(t, s, after, 500)
		if len(page) == 0 {
			break
		}
		for _, st := range page {
			if st.Seq != want {
				t.Fatalf("seq %d follows %d: hole or disorder", st.Seq, want-1)
			}
			want++
			if err := w.check(st); err != nil {
				t.Fatal(err)
			}
		}
		after = page[len(page)-1].Seq
	}
	if want-1 != last {
		t.Fatalf("Range walked to seq %d, LastSeq is %d", want-1, last)
	}

	err := s.States(func(txid string, state []byte) error {
		if !w.touched[txid] || string(state) != crashState(txid) {
			return fmt.Errorf("state %q of %s: want %q, written with a stored record",
				state, txid, crashState(txid))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return last
}

// crashWalk follows the records of a store in seq order: the seq of each real alert's txid,
// and the txids that any record was stored for.
type crashWalk struct {
	alerts  map[string]uint64
	touched map[string]bool
}

// check checks one record against those before it.
func (w crashWalk) check(st alert.Stored) error {
	if st.Kind == alert.KindUpdate {
		u, err := alert.DecodeUpdate(st.Data)
		if err != nil {
			return fmt.Errorf("seq %d: %w", st.Seq, err)
		}
		if want := w.alerts[u.TxID]; u.AlertSeq != want {
			return fmt.Errorf("update %d of %s has AlertSeq %d, want %d",
				st.Seq, u.TxID, u.AlertSeq, want)
		}
		w.touched[u.TxID] = true
		return nil
	}

	a, err := alert.DecodeData(st.Data)
	if err != nil {
		return fmt.Errorf("seq %d: %w", st.Seq, err)
	}
	w.touched[a.TxID] = true
	if a.Test {
		return nil
	}
	if prev, dup := w.alerts[a.TxID]; dup {
		return fmt.Errorf("txid %s stored as seq %d and %d", a.TxID, prev, st.Seq)
	}
	w.alerts[a.TxID] = st.Seq
	return nil
}
