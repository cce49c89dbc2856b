package persistence

import (
	"time"

	"github.com/dgraph-io/badger/v4"
)

// OpenBadgerSmallTables opens a store whose memtables hold about 1 MiB, so Badger has to
// create a new file after a few thousand alerts, and whose Close gives up on a failed store
// after one second. Tests use it to make a broken data directory surface quickly.
func OpenBadgerSmallTables(opts BadgerOptions) (*Badger, error) {
	opts.closeTimeout = time.Second
	opts.tune = func(o badger.Options) badger.Options {
		return o.WithMemTableSize(1 << 20).WithValueThreshold(1 << 10)
	}
	return OpenBadger(opts)
}
