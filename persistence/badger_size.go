package persistence

// Size returns the bytes of the store's LSM tree (its .sst files) and of its value log (its
// .vlog files) as Badger last measured them: when it opened, then once a minute. It takes
// no lock and touches no file, so a scrape may call it at any time; a closed store reports
// zeros.
func (s *Badger) Size() (lsm, vlog int64) {
	if s.closed.Load() {
		return 0, 0
	}
	return s.db.Size()
}
