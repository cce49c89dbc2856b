package persistence_test

import (
	"testing"

	"github.com/whalecast/whalecast/internal/alert"
	"github.com/whalecast/whalecast/persistence"
	"github.com/whalecast/whalecast/persistence/storetest"
)

// TestBadgerSize checks Size through a store's life: Badger measures its files at open, so
// records written before a reopen show in the LSM tree's size, and a closed store reports
// zeros.
func TestBadgerSize(t *testing.T) {
	dir := t.TempDir()
	s := openBadger(t, persistence.BadgerOptions{Dir: dir})
	if lsm, vlog := s.Size(); lsm != 0 || vlog != 0 {
		t.Errorf("fresh store: got lsm %d vlog %d, want 0 and 0", lsm, vlog)
	}
	mustAppend(t, s, []alert.Alert{storetest.Alert("a"), storetest.Alert("b")})
	closeStore(t, s)

	s = openBadger(t, persistence.BadgerOptions{Dir: dir})
	if lsm, vlog := s.Size(); lsm <= 0 || vlog < 0 {
		t.Errorf("reopened store: got lsm %d vlog %d, want lsm > 0 and vlog >= 0", lsm, vlog)
	}
	closeStore(t, s)
	if lsm, vlog := s.Size(); lsm != 0 || vlog != 0 {
		t.Errorf("closed store: got lsm %d vlog %d, want 0 and 0", lsm, vlog)
	}
}
