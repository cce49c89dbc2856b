package persistence_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"time"

	"github.com/whalecast/whalecast/internal/alert"
	"github.com/whalecast/whalecast/persistence"
	"github.com/whalecast/whalecast/persistence/storetest"
)

// childLifetime bounds a child process whose parent died without killing it.
const childLifetime = 60 * time.Second

// crashTxIDs is how many distinct txids the crash child draws from, so that batches keep
// hitting txids stored before, often before an earlier crash.
const crashTxIDs = 3000

// runChild is the body of the test binary when it runs as a child process. It returns the
// process exit code.
func runChild(mode, dir string) int {
	s, err := persistence.OpenBadger(persistence.BadgerOptions{Dir: dir})
	if mode == "open" {
		return reportOpen(s, err)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "child %s: %v\n", mode, err)
		return 2
	}
	defer s.Close()

	switch mode {
	case "hold":
		fmt.Println("ready")
		done := make(chan struct{})
		go func() {
			_, _ = io.Copy(io.Discard, os.Stdin)
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(childLifetime):
		}
		return 0
	case "crash":
		return appendUntilKilled(s)
	default:
		fmt.Fprintf(os.Stderr, "unknown child mode %q\n", mode)
		return 2
	}
}

// reportOpen prints how an open went: "opened", "corrupt: ERR" or "error: ERR".
func reportOpen(s *persistence.Badger, err error) int {
	switch {
	case err == nil:
		fmt.Println("opened")
		_ = s.Close()
	case errors.Is(err, persistence.ErrCorrupt):
		fmt.Printf("corrupt: %v\n", err)
	default:
		fmt.Printf("error: %v\n", err)
	}
	return 0
}

// appendUntilKilled appends random batches of alerts (some with txids already stored, some
// test alerts) and updates, some with tracker state and some forgetting it, and prints
// "ack SEQ" once each Append returned, until it is killed.
func appendUntilKilled(s persistence.Store) int {
	out := bufio.NewWriter(os.Stdout)
	deadline := time.Now().Add(childLifetime)
	for time.Now().Before(deadline) {
		batch := make([]alert.Record, 1+rand.IntN(20))
		for i := range batch {
			batch[i] = crashRecord(fmt.Sprintf("tx-%d", rand.IntN(crashTxIDs)))
		}

		if _, err := s.Append(batch); err != nil {
			fmt.Fprintf(os.Stderr, "child append: %v\n", err)
			return 3
		}
		fmt.Fprintf(out, "ack %d\n", s.LastSeq())
		if err := out.Flush(); err != nil {
			return 4
		}
	}
	return 0
}

// crashRecord returns a random record for txid: a test alert, an alert or an update, with
// the state crashState(txid), with none or forgetting it.
func crashRecord(txid string) alert.Record {
	var r alert.Record
	switch n := rand.IntN(10); {
	case n == 0:
		a := storetest.TestAlert(txid)
		return alert.Record{Alert: &a}
	case n < 4:
		u := storetest.Update(txid, alert.StatusConfirmed)
		r.Update = &u
	default:
		a := storetest.Alert(txid)
		r.Alert = &a
	}

	switch rand.IntN(4) {
	case 0:
		r.ForgetState = true
	case 1, 2:
		r.State = []byte(crashState(txid))
	}
	return r
}

// crashState is the tracker state the crash child writes for txid.
func crashState(txid string) string {
	return "state of " + txid
}
