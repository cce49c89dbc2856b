package persistence

import (
	"time"

	"github.com/dgraph-io/badger/v4"
)

// OpenBadgerSmallTables opens a store whose memtables hold about 1 MiB, so Badger has to
// create a new file after a few thousand alerts. Tests use it to make a broken data
// directory surface quickly.
//
// Close keeps the production bound, FailedCloseTimeout. Once Badger failed to flush a
// memtable into the broken directory, it sleeps a second before it tries again, so a Close
// after the directory was repaired waits up to that second plus the flush: a bound of about
// a second times out whenever the first flush attempt beat the repair, which load decides.
func OpenBadgerSmallTables(opts BadgerOptions) (*Badger, error) {
	return OpenBadgerSmallTablesCloseTimeout(opts, 0)
}

// OpenBadgerSmallTablesCloseTimeout is OpenBadgerSmallTables whose Close gives up on a
// failed store after closeTimeout (0 keeps FailedCloseTimeout). Only a test whose directory
// stays broken through Close should shorten it: there Close can only time out.
func OpenBadgerSmallTablesCloseTimeout(opts BadgerOptions, closeTimeout time.Duration) (
	*Badger, error) {
	opts.closeTimeout = closeTimeout
	opts.tune = func(o badger.Options) badger.Options {
		return o.WithMemTableSize(1 << 20).WithValueThreshold(1 << 10)
	}
	return OpenBadger(opts)
}
