package persistence_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/whalecast/whalecast/internal/alert"
	"github.com/whalecast/whalecast/persistence"
	"github.com/whalecast/whalecast/persistence/storetest"
)

// TestBadgerUnwritableDir makes the data directory refuse new files while the store runs.
// Badger writes into files it already holds open (its WAL is preallocated and mapped), so
// the failure shows when it must create its next memtable file; small memtables make that
// come after a few hundred kilobytes. The failed Append must store nothing, and the store
// must fail closed.
func TestBadgerUnwritableDir(t *testing.T) {
	dir := t.TempDir() + "/badger"
	s, err := persistence.OpenBadgerSmallTables(persistence.BadgerOptions{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	mustAppend(t, s, storetest.Alerts("before", 10))

	restore := makeUnwritable(t, dir)
	acked := fillUntilFailure(t, s)
	checkFailedClosed(t, s, acked, nil)

	restore()
	closeRepaired(t, s)
	s2 := openBadger(t, persistence.BadgerOptions{Dir: dir})
	checkSeqs(t, s2, acked, acked)
	if page := mustRange(t, s2, acked, 10); len(page) != 0 {
		t.Errorf("the failed batch left %d alerts after seq %d", len(page), acked)
	}
	if got := mustAppend(t, s2, storetest.Alerts("after", 1)); got[0].Seq != acked+1 {
		t.Errorf("first alert after the failure has seq %d, want %d", got[0].Seq, acked+1)
	}
}

// makeUnwritable stops new files from being created in dir and returns the function that
// undoes it; the undo also runs at cleanup, before the store's Close, if the test ended
// first. chmod 0500 does that for an ordinary user, but not for root, who bypasses
// permission bits; as root the directory is moved aside (Badger keeps its open files) and a
// regular file takes its path.
func makeUnwritable(t *testing.T, dir string) (restore func()) {
	t.Helper()
	var undo func()
	if os.Geteuid() != 0 {
		if err := os.Chmod(dir, 0o500); err != nil {
			t.Fatal(err)
		}
		undo = func() {
			if err := os.Chmod(dir, 0o700); err != nil {
				t.Error(err)
			}
		}
	} else {
		aside := dir + ".aside"
		if err := os.Rename(dir, aside); err != nil {
			t.Fatal(err)
		}
		overwrite(t, dir, []byte("not a directory"))
		undo = func() {
			if err := os.Remove(dir); err != nil {
				t.Error(err)
			}
			if err := os.Rename(aside, dir); err != nil {
				t.Error(err)
			}
		}
	}

	var once sync.Once
	restore = func() { once.Do(undo) }
	t.Cleanup(restore)
	return restore
}

// closeRepaired closes a failed store whose directory was repaired, and fails the test
// unless Close succeeds. Badger may have tried to flush its memtable into the broken
// directory; it then tries again a second later and Close waits for that, so Close takes
// up to about a second. The store's own bound, FailedCloseTimeout, ends a longer wait with
// an error; the guard here only catches a Close that ignores it.
func closeRepaired(t *testing.T, s persistence.Store) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- s.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Close(): %v", err)
		}
	case <-time.After(persistence.FailedCloseTimeout + 10*time.Second):
		t.Fatalf("Close() still running after %v", persistence.FailedCloseTimeout+10*time.Second)
	}
}

// TestBadgerDamagedTable damages a table file. Badger v4.9.6 opens tables in goroutines of
// its own and panics there on a garbage index, which kills the process and cannot be turned
// into an error; the open therefore runs in a child. The test accepts that crash or an
// error wrapping ErrCorrupt, and fails if the damaged store opens.
func TestBadgerDamagedTable(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a child process")
	}
	dir := t.TempDir()
	s := openBadger(t, persistence.BadgerOptions{Dir: dir})
	mustAppend(t, s, storetest.Alerts("t", 20))
	closeStore(t, s)

	tables, _ := filepath.Glob(filepath.Join(dir, "*.sst"))
	if len(tables) == 0 {
		t.Fatal("no table file to damage")
	}
	overwrite(t, tables[0], bytes.Repeat([]byte("garbage!"), 512))

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := childCommand(ctx, "open", dir)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()

	switch out := stdout.String(); {
	case strings.Contains(out, "corrupt"):
		t.Logf("Badger reported the damage: %s", out)
	case err != nil && strings.Contains(stderr.String(), "panic"):
		t.Logf("Badger crashed the process, as v4.9.6 does: %v", err)
	default:
		t.Fatalf("child: %v\nstdout: %s\nstderr: %.2000s", err, out, stderr.String())
	}
}

// TestBadgerCloseAfterFailureIsBounded closes a failed store whose directory stays broken.
// Badger then retries its memtable flush forever; Close must return anyway, and the
// directory must become free once Badger finishes after the repair. The bound is shortened
// to a second: with the directory broken, Close can only time out.
func TestBadgerCloseAfterFailureIsBounded(t *testing.T) {
	dir := t.TempDir() + "/badger"
	s, err := persistence.OpenBadgerSmallTablesCloseTimeout(
		persistence.BadgerOptions{Dir: dir}, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	restore := makeUnwritable(t, dir)
	acked := fillUntilFailure(t, s)

	start := time.Now()
	err = s.Close()
	if !errors.Is(err, persistence.ErrFailed) {
		t.Errorf("Close of a failed store = %v, want ErrFailed", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("Close took %v", took)
	}
	if err2 := s.Close(); err2 != err {
		t.Errorf("second Close = %v, want the first result %v", err2, err)
	}

	restore()
	var s2 *persistence.Badger
	waitFor(t, 10*time.Second, "the directory to be released", func() bool {
		s2, err = persistence.OpenBadger(persistence.BadgerOptions{Dir: dir})
		return err == nil
	})
	t.Cleanup(func() { _ = s2.Close() })
	checkSeqs(t, s2, acked, acked)
}

// fillUntilFailure appends batches of 50 until an Append fails, checks that the failure
// wraps ErrFailed and returns the last seq acknowledged before it.
func fillUntilFailure(t *testing.T, s persistence.Store) uint64 {
	t.Helper()
	var acked uint64
	for i := range 2000 {
		got, err := s.Append(alert.AlertRecords(storetest.Alerts(fmt.Sprintf("fill%d", i), 50)))
		if err != nil {
			if !errors.Is(err, persistence.ErrFailed) {
				t.Fatalf("Append = %v, want ErrFailed", err)
			}
			t.Logf("acked %d alerts, then: %v", acked, err)
			return acked
		}
		acked = got[len(got)-1].Seq
	}
	t.Fatal("2000 batches went into an unwritable directory without an error")
	return 0
}
