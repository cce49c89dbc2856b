package persistence

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
)

// Badger's write-ahead logs: memtable WALs (*.mem) and value logs (*.vlog).
const (
	memFileExt  = ".mem"
	vlogFileExt = ".vlog"
)

// prepareDir creates dir (mode 0700) when it is missing, locks it and clears what a killed
// Badger leaves behind that Badger cannot open itself (see removeEmptyLogs). It returns the
// held lock; on error nothing is locked.
func prepareDir(dir string, log *slog.Logger) (*dirLock, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("persistence: create data directory %s: %w", dir, err)
	}

	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	if err := removeEmptyLogs(dir, lock, log); err != nil {
		_ = lock.release()
		return nil, err
	}
	return lock, nil
}

// removeEmptyLogs deletes the empty *.mem and *.vlog files in dir. Badger creates such a
// file empty and sizes it just after, and empties one it deletes just before unlinking it,
// so a process killed in between leaves an empty one; it does so on every open (each open
// starts a new memtable and value log), not only on the first. Badger v4.9.6 then refuses
// the directory for good with "Create a new file" (dgraph-io/badger issue 2207). An empty
// file holds no record, and no stored key points into one, so deleting it loses nothing.
//
// It runs only under an exclusive lock: a live Badger's files are empty for a moment too.
// The deletions are not fsynced: if a power loss undoes one, the next open deletes again.
func removeEmptyLogs(dir string, lock *dirLock, log *slog.Logger) error {
	if !lock.exclusive() {
		return nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("persistence: list data directory %s: %w", dir, err)
	}

	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() ||
			!(strings.HasSuffix(name, memFileExt) || strings.HasSuffix(name, vlogFileExt)) {
			continue
		}
		info, err := e.Info()
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("persistence: stat %s in %s: %w", name, dir, err)
		}
		if info.Size() != 0 {
			continue
		}
		if err := os.Remove(filepath.Join(dir, name)); err != nil {
			return fmt.Errorf("persistence: remove empty %s left by a crash in %s: %w",
				name, dir, err)
		}
		log.Warn("removed empty badger file left by a crash", "dir", dir, "file", name)
	}
	return nil
}
