//go:build !unix

package persistence

// dirLock is a no-op where flock does not exist; Badger's own directory lock, recognised by
// OpenBadger, still keeps a second engine out.
type dirLock struct{}

func lockDir(string) (*dirLock, error) { return &dirLock{}, nil }

func (*dirLock) release() error { return nil }

// exclusive reports whether the lock keeps every other opener out: this no-op does not, so
// OpenBadger leaves the directory's files alone before Badger takes its own lock.
func (*dirLock) exclusive() bool { return false }
