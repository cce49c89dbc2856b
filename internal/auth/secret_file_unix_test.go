//go:build unix

package auth

import (
	"errors"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

func TestLoadSecretRefusesFIFO(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(dir, SecretFileName), 0o600); err != nil {
		t.Fatalf("Mkfifo: %v", err)
	}

	// Opening a FIFO that has no writer blocks, so LoadSecret must refuse before opening;
	// the deadline turns a regression into a failure rather than a hung test.
	done := make(chan error, 1)
	go func() {
		_, _, _, err := LoadSecret(dir, "")
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, ErrSecretFormat) {
			t.Fatalf("LoadSecret on a FIFO: %v, want ErrSecretFormat", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("LoadSecret on a FIFO still blocked after 10s")
	}
}
