//go:build !unix

package persistence

// dirLock is a no-op where flock does not exist; Badger's own directory lock, recognised by
// OpenBadger, still keeps a second engine out.
type dirLock struct{}

func lockDir(string) (*dirLock, error) { return &dirLock{}, nil }

func (*dirLock) release() error { return nil }
