package persistence_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/whalecast/whalecast/internal/alert"
	"github.com/whalecast/whalecast/persistence"
	"github.com/whalecast/whalecast/persistence/storetest"
)

// TestBadgerReopenRecords checks that kinds, AlertSeqs and tracker states survive a
// restart, and that the txid index still fills AlertSeq and dedupes after it.
func TestBadgerReopenRecords(t *testing.T) {
	dir := t.TempDir()
	s := openBadger(t, persistence.BadgerOptions{Dir: dir})
	mustAppendRecords(t, s, []alert.Record{storetest.AlertRecord("a", "a1"),
		storetest.AlertRecord("b", "b1"), storetest.UpdateRecord("a", "a2")})
	mustAppendRecords(t, s, []alert.Record{storetest.Forget(storetest.UpdateRecord("b", "")),
		storetest.UpdateRecord("z", "z1")})
	before := mustRange(t, s, 0, 100)
	closeStore(t, s)

	s = openBadger(t, persistence.BadgerOptions{Dir: dir})
	checkSeqs(t, s, 5, 5)
	if after := mustRange(t, s, 0, 100); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("after reopen Range = %v, want %v", after, before)
	}
	if got, want := storetest.StatesOf(t, s), "a=a2, z=z1"; got != want {
		t.Errorf("States after reopen = %q, want %q", got, want)
	}

	stored := mustAppendRecords(t, s, []alert.Record{storetest.AlertRecord("a", "again"),
		storetest.UpdateRecord("b", "b3"), storetest.AlertRecord("c", "")})
	if got, want := storetest.Describe(t, stored), "6 update b@2, 7 alert c"; got != want {
		t.Errorf("append after reopen stored %q, want %q", got, want)
	}
	if got, want := storetest.StatesOf(t, s), "a=a2, b=b3, z=z1"; got != want {
		t.Errorf("States = %q, want %q", got, want)
	}
}

// TestBadgerRetentionRecords checks that updates and tracker states expire like alerts: an
// update expires from Range and Count, a state with the record it was written with, and an
// update of an expired alert gets AlertSeq 0.
func TestBadgerRetentionRecords(t *testing.T) {
	s := openBadger(t, persistence.BadgerOptions{Retention: time.Second})
	mustAppendRecords(t, s, []alert.Record{storetest.AlertRecord("x", "x1"),
		storetest.UpdateRecord("x", "x2")})
	checkSeqs(t, s, 2, 2)

	// Expiry works in whole seconds, so records written now are gone within two seconds.
	waitFor(t, 2500*time.Millisecond, "records and states to expire", func() bool {
		page, err := s.Range(0, 10)
		return err == nil && len(page) == 0 && storetest.StatesOf(t, s) == ""
	})
	checkSeqs(t, s, 2, 0)

	stored := mustAppendRecords(t, s, []alert.Record{storetest.UpdateRecord("x", "x3")})
	if got, want := storetest.Describe(t, stored), "3 update x@0"; got != want {
		t.Errorf("update after expiry stored %q, want %q", got, want)
	}
	if got, want := storetest.StatesOf(t, s), "x=x3"; got != want {
		t.Errorf("States = %q, want %q", got, want)
	}
	checkSeqs(t, s, 3, 1)
}
