//go:build unix

package auth

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// ringLockName is the lock file that serialises edits of keys.json across processes.
const ringLockName = ".keys.lock"

// lockRing takes an exclusive advisory lock (flock) on dir/.keys.lock, waiting for any other
// editor, and returns the function that releases it. The kernel drops the lock when its
// holder dies, so a crash never leaves a stale lock. The lock file stays in place: removing
// it would let a third editor lock a new file while a second still waits on the old one.
func lockRing(dir string) (unlock func(), err error) {
	path := filepath.Join(dir, ringLockName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("auth: open key ring lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("auth: lock key ring %s: %w", path, err)
	}
	return func() { _ = f.Close() }, nil
}
