package persistence

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/whalecast/whalecast/internal/alert"
)

// recorder is a slog.Handler that keeps every record at or above its level.
type recorder struct {
	level slog.Level
	mu    sync.Mutex
	recs  []slog.Record
}

func (r *recorder) Enabled(_ context.Context, l slog.Level) bool { return l >= r.level }

func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recs = append(r.recs, rec.Clone())
	return nil
}

func (r *recorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *recorder) WithGroup(string) slog.Handler      { return r }

// find returns the first record with message msg whose attributes contain substr.
func (r *recorder) find(msg, substr string) (slog.Record, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rec := range r.recs {
		var attrs strings.Builder
		rec.Attrs(func(a slog.Attr) bool {
			attrs.WriteString(a.String() + " ")
			return true
		})
		if rec.Message == msg && strings.Contains(attrs.String(), substr) {
			return rec, true
		}
	}
	return slog.Record{}, false
}

func TestBadgerLoggerLevels(t *testing.T) {
	cases := []struct {
		name string
		call func(l badgerLogger)
		want slog.Level
	}{
		{"error", func(l badgerLogger) { l.Errorf("disk %s\n", "gone") }, slog.LevelError},
		{"warning", func(l badgerLogger) { l.Warningf("disk %s\n", "gone") }, slog.LevelWarn},
		{"info", func(l badgerLogger) { l.Infof("disk %s\n", "gone") }, slog.LevelDebug},
		{"debug", func(l badgerLogger) { l.Debugf("disk %s\n", "gone") }, slog.LevelDebug},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := &recorder{level: slog.LevelDebug}
			c.call(badgerLogger{log: slog.New(rec)})

			got, ok := rec.find("badger", "detail=disk gone ")
			if !ok {
				t.Fatalf("no record with detail %q in %v", "disk gone", rec.recs)
			}
			if got.Level != c.want {
				t.Errorf("level = %v, want %v", got.Level, c.want)
			}
		})
	}
}

// formatCounter counts how often it is formatted.
type formatCounter struct{ n *int }

func (f formatCounter) String() string {
	*f.n++
	return "x"
}

func TestBadgerLoggerSkipsDisabledLevels(t *testing.T) {
	var formatted int
	rec := &recorder{level: slog.LevelInfo}
	l := badgerLogger{log: slog.New(rec)}

	l.Debugf("%v", formatCounter{&formatted})
	l.Infof("%v", formatCounter{&formatted})
	if formatted != 0 || len(rec.recs) != 0 {
		t.Errorf("disabled levels: formatted %d times, %d records; want 0 and 0",
			formatted, len(rec.recs))
	}
}

// TestBadgerLogsThroughSlog checks that Badger's own lines reach the injected logger and
// that nothing reaches the process's stderr.
func TestBadgerLogsThroughSlog(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := os.Stderr
	os.Stderr = w
	defer func() { os.Stderr = stderr }()

	rec := &recorder{level: slog.LevelDebug}
	s, err := OpenBadger(BadgerOptions{Dir: t.TempDir(), Logger: slog.New(rec)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(alert.AlertRecords([]alert.Alert{{TxID: "a"}})); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	os.Stderr = stderr
	_ = w.Close()

	printed, _ := io.ReadAll(r)
	if len(printed) > 0 {
		t.Errorf("Badger wrote to stderr: %q", printed)
	}
	if _, ok := rec.find("badger", "detail="); !ok {
		t.Error("no Badger line reached the slog logger")
	}
	if _, ok := rec.find("store opened", "last_seq=0"); !ok {
		t.Error("no store opened line")
	}
}

func TestBadgerGCRunsAndStops(t *testing.T) {
	rec := &recorder{level: slog.LevelDebug}
	s, err := OpenBadger(BadgerOptions{
		Dir:        t.TempDir(),
		Logger:     slog.New(rec),
		GCInterval: 10 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}

	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, ok := rec.find("value log gc done", "rewrites=0"); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("value-log GC did not run within 5s")
		}
		time.Sleep(10 * time.Millisecond)
	}

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1<<20)
	if stacks := string(buf[:runtime.Stack(buf, true)]); strings.Contains(stacks, ").runGC") {
		t.Errorf("GC goroutine still running after Close:\n%s", stacks)
	}
}

func TestOpenBadgerCorruptMetadata(t *testing.T) {
	cases := []struct {
		name string
		keys map[string][]byte
	}{
		{"short last seq", map[string][]byte{string(keyLastSeq): {1, 2, 3}}},
		{"alert past last seq", map[string][]byte{
			string(keyLastSeq):   encodeSeq(2),
			string(recordKey(5)): []byte(`{}`),
		}},
		{"alert without counter", map[string][]byte{string(recordKey(1)): []byte(`{}`)}},
		{"malformed alert key", map[string][]byte{
			string(keyLastSeq): encodeSeq(2),
			"a/xyz":            []byte(`{}`),
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			writeRaw(t, dir, c.keys)

			s, err := OpenBadger(BadgerOptions{Dir: dir})
			if err == nil {
				_ = s.Close()
				t.Fatal("OpenBadger succeeded")
			}
			if !errors.Is(err, ErrCorrupt) {
				t.Errorf("OpenBadger = %v, want ErrCorrupt", err)
			}
		})
	}
}

// TestOpenBadgerReleasesLockOnError checks that a failed open leaves the directory free.
func TestOpenBadgerReleasesLockOnError(t *testing.T) {
	dir := t.TempDir()
	writeRaw(t, dir, map[string][]byte{string(keyLastSeq): {1}})
	if _, err := OpenBadger(BadgerOptions{Dir: dir}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("OpenBadger = %v, want ErrCorrupt", err)
	}

	writeRaw(t, dir, map[string][]byte{string(keyLastSeq): encodeSeq(0)})
	s, err := OpenBadger(BadgerOptions{Dir: dir})
	if err != nil {
		t.Fatalf("OpenBadger after repair = %v", err)
	}
	_ = s.Close()
}

// writeRaw writes keys straight into a Badger database in dir.
func writeRaw(t *testing.T, dir string, keys map[string][]byte) {
	t.Helper()
	db, err := badger.Open(badger.DefaultOptions(dir).WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	err = db.Update(func(txn *badger.Txn) error {
		for k, v := range keys {
			if err := txn.Set([]byte(k), v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
