package persistence_test

import (
	"path/filepath"
	"testing"

	"github.com/whalecast/whalecast/persistence"
	"github.com/whalecast/whalecast/persistence/storetest"
)

// TestBadgerOpensAfterKillLeftEmptyFile gives OpenBadger the directory a SIGKILL leaves when
// it lands between Badger creating a memtable WAL (.mem) or value log (.vlog) and sizing it,
// or between emptying one it deletes and unlinking it: an empty file. Badger v4.9.6 alone
// refuses such a directory ("Create a new file", dgraph-io/badger issue 2207); the crash
// child of TestBadgerCrash left one both in a first open and in a reopen. The store must
// open with every record and take new ones.
func TestBadgerOpensAfterKillLeftEmptyFile(t *testing.T) {
	cases := []struct {
		name string
		// stored is how many alerts a store held (and closed) before the kill; -1: the
		// kill came in the first open.
		stored   int
		leftover []string // the empty files the kill left
	}{
		{name: "first open, first memtable", stored: -1, leftover: []string{"00001.mem"}},
		{name: "first open, first value log", stored: -1, leftover: []string{"000001.vlog"}},
		{name: "reopen of an empty store, new memtable", stored: 0,
			leftover: []string{"00099.mem"}},
		{name: "reopen, new memtable", stored: 20, leftover: []string{"00099.mem"}},
		{name: "reopen, new value log", stored: 20, leftover: []string{"000099.vlog"}},
		{name: "reopen, value log being deleted", stored: 20,
			leftover: []string{"000098.vlog", "000099.vlog"}},
		{name: "reopen, memtable and value log", stored: 20,
			leftover: []string{"00099.mem", "000099.vlog"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			want := uint64(max(c.stored, 0))
			if c.stored >= 0 {
				s := openBadger(t, persistence.BadgerOptions{Dir: dir})
				if c.stored > 0 {
					mustAppend(t, s, storetest.Alerts("before", c.stored))
				}
				closeStore(t, s)
			}
			for _, name := range c.leftover {
				overwrite(t, filepath.Join(dir, name), nil)
			}

			s := openBadger(t, persistence.BadgerOptions{Dir: dir})
			checkSeqs(t, s, want, want)
			got := mustAppend(t, s, storetest.Alerts("after", 1))
			if got[0].Seq != want+1 {
				t.Errorf("first alert after the kill has seq %d, want %d", got[0].Seq, want+1)
			}
			closeStore(t, s)

			s = openBadger(t, persistence.BadgerOptions{Dir: dir})
			checkSeqs(t, s, want+1, want+1)
		})
	}
}
