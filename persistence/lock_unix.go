//go:build unix

package persistence

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// dirLock is an exclusive advisory lock (flock) on a file inside the data directory, held
// for the life of a Badger store. flock locks belong to an open file, so a second store in
// the same process conflicts just like another process does; the kernel drops the lock when
// its holder dies, so a crash never leaves a stale lock behind.
type dirLock struct {
	f *os.File
}

const lockFileName = "whalecast.lock"

func lockDir(dir string) (*dirLock, error) {
	path := filepath.Join(dir, lockFileName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("persistence: open lock file %s: %w", path, err)
	}

	err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		_ = f.Close()
		return nil, fmt.Errorf("persistence: lock %s: %w", dir, ErrLocked)
	}
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("persistence: lock %s: %w", path, err)
	}
	return &dirLock{f: f}, nil
}

// release drops the lock. The file stays: removing it would let a third opener lock a new
// file while a second one still waits on the old one.
func (l *dirLock) release() error {
	if err := l.f.Close(); err != nil {
		return fmt.Errorf("persistence: release lock %s: %w", l.f.Name(), err)
	}
	return nil
}

// exclusive reports whether the lock keeps every other opener out: a flock does.
func (*dirLock) exclusive() bool { return true }
