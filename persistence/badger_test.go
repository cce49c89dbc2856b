package persistence_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/whalecast/whalecast/internal/alert"
	"github.com/whalecast/whalecast/persistence"
	"github.com/whalecast/whalecast/persistence/storetest"
)

func TestBadgerContract(t *testing.T) {
	storetest.RunContract(t, func(t *testing.T) persistence.Store {
		return openBadger(t, persistence.BadgerOptions{})
	})
}

func TestBadgerOptionsRejected(t *testing.T) {
	cases := []struct {
		name string
		opts persistence.BadgerOptions
	}{
		{"no dir", persistence.BadgerOptions{}},
		{"negative retention", persistence.BadgerOptions{Retention: -time.Hour}},
		{"sub-second retention", persistence.BadgerOptions{Retention: 500 * time.Millisecond}},
		{"negative gc interval", persistence.BadgerOptions{GCInterval: -time.Second}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.name != "no dir" {
				c.opts.Dir = t.TempDir()
			}
			s, err := persistence.OpenBadger(c.opts)
			if err == nil {
				_ = s.Close()
				t.Fatal("OpenBadger succeeded, want an error")
			}
		})
	}
}

func TestBadgerReopen(t *testing.T) {
	dir := t.TempDir()
	s := openBadger(t, persistence.BadgerOptions{Dir: dir})
	mustAppend(t, s, []alert.Alert{
		storetest.Alert("a"), storetest.Alert("b"), storetest.TestAlert("a"), storetest.Alert("c"),
	})
	before := mustRange(t, s, 0, 100)
	closeStore(t, s)

	s = openBadger(t, persistence.BadgerOptions{Dir: dir})
	checkSeqs(t, s, 4, 4)
	after := mustRange(t, s, 0, 100)
	if fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("after reopen Range = %v, want %v", after, before)
	}

	got := mustAppend(t, s, []alert.Alert{
		storetest.Alert("c"), storetest.Alert("d"), storetest.TestAlert("a"),
	})
	if len(got) != 2 || got[0].Seq != 5 || got[1].Seq != 6 {
		t.Fatalf("append after reopen stored %v, want seqs 5 and 6", got)
	}
	closeStore(t, s)

	s = openBadger(t, persistence.BadgerOptions{Dir: dir})
	checkSeqs(t, s, 6, 6)
}

func TestBadgerRetention(t *testing.T) {
	dir := t.TempDir()
	s := openBadger(t, persistence.BadgerOptions{Dir: dir, Retention: time.Second})
	mustAppend(t, s, []alert.Alert{storetest.Alert("old1"), storetest.Alert("old2")})
	mustAppend(t, s, []alert.Alert{storetest.TestAlert("old3")})
	checkSeqs(t, s, 3, 3)

	// Expiry works in whole seconds, so alerts written now are gone within two seconds.
	waitFor(t, 2500*time.Millisecond, "alerts to expire", func() bool {
		page, err := s.Range(0, 10)
		return err == nil && len(page) == 0
	})
	checkSeqs(t, s, 3, 0)

	got := mustAppend(t, s, []alert.Alert{storetest.Alert("old1"), storetest.Alert("new")})
	if len(got) != 2 || got[0].Seq != 4 {
		t.Fatalf("after expiry stored %v, want old1 again as seq 4 and new as 5", got)
	}
	checkSeqs(t, s, 5, 2)
	closeStore(t, s)

	s = openBadger(t, persistence.BadgerOptions{Dir: dir, Retention: time.Second})
	if got := s.LastSeq(); got != 5 {
		t.Errorf("LastSeq after reopen = %d, want 5", got)
	}
	if page := mustRange(t, s, 0, 10); len(page) > 0 && page[0].Seq != 4 {
		t.Errorf("first stored alert after reopen has seq %d, want 4", page[0].Seq)
	}
}

func TestBadgerLocked(t *testing.T) {
	cases := []struct {
		name string
		hold func(t *testing.T, dir string) (release func())
	}{
		{"same process", func(t *testing.T, dir string) func() {
			s := openBadger(t, persistence.BadgerOptions{Dir: dir})
			return func() { closeStore(t, s) }
		}},
		{"other process", holdInChild},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			release := c.hold(t, dir)

			s, err := persistence.OpenBadger(persistence.BadgerOptions{Dir: dir})
			if !errors.Is(err, persistence.ErrLocked) {
				if err == nil {
					_ = s.Close()
				}
				t.Fatalf("second OpenBadger = %v, want ErrLocked", err)
			}
			if !strings.Contains(err.Error(), "another engine uses the data directory") {
				t.Errorf("error %q does not say another engine uses the directory", err)
			}

			release()
			closeStore(t, openBadger(t, persistence.BadgerOptions{Dir: dir}))
		})
	}
}

// holdInChild starts a child process that opens the store in dir and keeps it open until
// its standard input closes.
func holdInChild(t *testing.T, dir string) func() {
	cmd := childCommand(t.Context(), "hold", dir)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}

	ready := make(chan error, 1)
	go func() {
		line, err := readLine(stdout)
		if err == nil && line != "ready" {
			err = fmt.Errorf("child said %q", line)
		}
		ready <- err
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case err := <-ready:
		if err != nil {
			_ = cmd.Process.Kill()
			t.Fatalf("child did not open the store: %v", err)
		}
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("child did not open the store within 20s")
	}

	return func() {
		_ = stdin.Close()
		if err := cmd.Wait(); err != nil {
			t.Errorf("holding child: %v", err)
		}
	}
}

func TestBadgerCorruptDirectory(t *testing.T) {
	cases := []struct {
		name   string
		damage func(t *testing.T, dir string)
	}{
		{"garbage manifest", func(t *testing.T, dir string) {
			overwrite(t, filepath.Join(dir, "MANIFEST"), []byte("not a manifest at all"))
		}},
		{"truncated manifest", func(t *testing.T, dir string) {
			if err := os.Truncate(filepath.Join(dir, "MANIFEST"), 3); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			s := openBadger(t, persistence.BadgerOptions{Dir: dir})
			mustAppend(t, s, storetest.Alerts("c", 20))
			closeStore(t, s)
			c.damage(t, dir)

			s, err := persistence.OpenBadger(persistence.BadgerOptions{Dir: dir})
			if err == nil {
				_ = s.Close()
				t.Fatal("OpenBadger on a damaged directory succeeded")
			}
			if !errors.Is(err, persistence.ErrCorrupt) || errors.Is(err, persistence.ErrLocked) {
				t.Errorf("OpenBadger = %v, want ErrCorrupt", err)
			}
			if !strings.Contains(err.Error(), dir) {
				t.Errorf("error %q does not name the directory", err)
			}
		})
	}
}

func TestBadgerDirIsAFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "badger")
	overwrite(t, path, []byte("x"))

	s, err := persistence.OpenBadger(persistence.BadgerOptions{Dir: path})
	if err == nil {
		_ = s.Close()
		t.Fatal("OpenBadger on a regular file succeeded")
	}
	if !strings.Contains(err.Error(), path) {
		t.Errorf("error %q does not name the path", err)
	}
}

func openBadger(t testing.TB, opts persistence.BadgerOptions) *persistence.Badger {
	t.Helper()
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	s, err := persistence.OpenBadger(opts)
	if err != nil {
		t.Fatalf("OpenBadger(%s): %v", opts.Dir, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func closeStore(t testing.TB, s persistence.Store) {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatalf("Close(): %v", err)
	}
}

func overwrite(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up after %v waiting for %s", timeout, what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func mustAppend(t testing.TB, s persistence.Store, batch []alert.Alert) []alert.Stored {
	t.Helper()
	return mustAppendRecords(t, s, alert.AlertRecords(batch))
}

func mustAppendRecords(t testing.TB, s persistence.Store, batch []alert.Record) []alert.Stored {
	t.Helper()
	got, err := s.Append(batch)
	if err != nil {
		t.Fatalf("Append(%d records): %v", len(batch), err)
	}
	return got
}

func mustRange(t testing.TB, s persistence.Store, after uint64, limit int) []alert.Stored {
	t.Helper()
	got, err := s.Range(after, limit)
	if err != nil {
		t.Fatalf("Range(%d, %d): %v", after, limit, err)
	}
	return got
}

func checkSeqs(t testing.TB, s persistence.Store, wantLast, wantCount uint64) {
	t.Helper()
	if got := s.LastSeq(); got != wantLast {
		t.Errorf("LastSeq() = %d, want %d", got, wantLast)
	}
	if got := s.Count(); got != wantCount {
		t.Errorf("Count() = %d, want %d", got, wantCount)
	}
}

// childCommand returns a command that re-executes the test binary as a child in mode, on
// dir. The child is killed when ctx ends.
func childCommand(ctx context.Context, mode, dir string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, os.Args[0])
	cmd.Env = append(os.Environ(), childEnv+"="+mode, childDirEnv+"="+dir)
	cmd.Stderr = os.Stderr
	return cmd
}

// readLine reads one line byte by byte, so nothing after it is consumed.
func readLine(r io.Reader) (string, error) {
	var line []byte
	b := make([]byte, 1)
	for {
		if _, err := r.Read(b); err != nil {
			return string(line), err
		}
		if b[0] == '\n' {
			return string(line), nil
		}
		line = append(line, b[0])
	}
}
