//go:build unix

package auth

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
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

func TestReadCredentialFile(t *testing.T) {
	tests := []struct {
		name    string
		data    string
		mode    os.FileMode
		want    string
		wantErr error
	}{
		{name: "a final newline is trimmed", data: "s3cret\n", mode: 0o600, want: "s3cret"},
		{name: "inner and leading spaces stay", data: " a b\r\n", mode: 0o400, want: " a b"},
		{name: "empty", data: "\n", mode: 0o600, wantErr: ErrSecretFormat},
		{name: "readable by others", data: "s3cret", mode: 0o644, wantErr: ErrSecretPerms},
		{name: "writable by the group", data: "s3cret", mode: 0o620, wantErr: ErrSecretPerms},
		{name: "too large", data: strings.Repeat("x", 5000), mode: 0o600,
			wantErr: ErrSecretFormat},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "cred")
			if err := os.WriteFile(path, []byte(tt.data), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, tt.mode); err != nil {
				t.Fatal(err)
			}
			got, err := ReadCredentialFile(path, "test credential")
			if !errors.Is(err, tt.wantErr) || string(got) != tt.want {
				t.Fatalf("ReadCredentialFile = %q, %v; want %q, %v", got, err, tt.want,
					tt.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error %v quotes the credential", err)
			}
		})
	}
}
