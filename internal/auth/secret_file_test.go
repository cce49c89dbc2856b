package auth

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestLoadSecretFromEnv(t *testing.T) {
	tests := []struct {
		name    string
		env     string
		wantErr error
	}{
		{"too short", strings.Repeat("e", MinSecretLen-1), ErrWeakSecret},
		{"padded with spaces", "  " + strings.Repeat("e", MinSecretLen-1) + "  ",
			ErrWeakSecret},
		{"only spaces", strings.Repeat(" ", 2*MinSecretLen), ErrWeakSecret},
		{"minimum", strings.Repeat("e", MinSecretLen), nil},
		{"long", strings.Repeat("e", 3*MinSecretLen), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			s, path, created, err := LoadSecret(dir, tt.env)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("LoadSecret error = %v, want %v", err, tt.wantErr)
			}
			if path != "" || created {
				t.Errorf("LoadSecret path, created = %q, %v, want \"\", false",
					path, created)
			}
			if err != nil {
				if s.Len() != 0 {
					t.Errorf("Len = %d after an error, want 0", s.Len())
				}
				v := strings.TrimSpace(tt.env)
				if v != "" && strings.Contains(err.Error(), v) {
					t.Errorf("error %q contains the secret", err)
				}
			} else if !bytes.Equal(s.bytes(), []byte(tt.env)) {
				t.Errorf("secret differs from the environment value")
			}
			if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("data directory touched (stat: %v), want untouched", err)
			}
		})
	}
}

func TestLoadSecretCreatesThenReuses(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nested", "data")
	first, path, created, err := LoadSecret(dir, "")
	if err != nil {
		t.Fatalf("first LoadSecret: %v", err)
	}
	if want := filepath.Join(dir, SecretFileName); path != want || !created {
		t.Errorf("first LoadSecret path, created = %q, %v, want %q, true",
			path, created, want)
	}
	if first.Len() != generatedSecretLen {
		t.Errorf("generated secret has %d bytes, want %d", first.Len(), generatedSecretLen)
	}
	assertMode(t, path, 0o600)
	assertMode(t, dir, 0o700)

	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("ReadFile: %v", err)
	}
	if want := hex.EncodeToString(first.bytes()) + "\n"; string(data) != want {
		t.Errorf("file holds %d bytes, want %d hex digits and a newline", len(data),
			len(want)-1)
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 1 {
		t.Errorf("data directory has %d entries (%v), want only %s", len(entries), err,
			SecretFileName)
	}

	second, path2, created2, err := LoadSecret(dir, "")
	if err != nil {
		t.Fatalf("second LoadSecret: %v", err)
	}
	if path2 != path || created2 {
		t.Errorf("second LoadSecret path, created = %q, %v, want %q, false",
			path2, created2, path)
	}
	if !bytes.Equal(first.bytes(), second.bytes()) {
		t.Errorf("second LoadSecret returned a different secret")
	}
}

// assertMode fails tb unless path has exactly the permission bits want.
func assertMode(tb testing.TB, path string, want fs.FileMode) {
	tb.Helper()
	info, err := os.Stat(path)
	if err != nil {
		tb.Fatalf("Stat: %v", err)
	}
	if got := info.Mode().Perm(); got != want {
		tb.Errorf("%s has mode %04o, want %04o", path, got, want)
	}
}

func TestLoadSecretFromFile(t *testing.T) {
	key := bytes.Repeat([]byte{0xa5, 0x5a, 0x3c}, 11)
	keyHex := hex.EncodeToString(key)
	tests := []struct {
		name    string
		content string
		mode    fs.FileMode
		wantErr error
		wantMsg string
	}{
		{"owner read write", keyHex + "\n", 0o600, nil, ""},
		{"owner read only", keyHex, 0o400, nil, ""},
		{"upper case hex with spaces", "  " + strings.ToUpper(keyHex) + "\r\n", 0o600,
			nil, ""},
		{"group readable", keyHex, 0o640, ErrSecretPerms, "chmod 600 "},
		{"world readable", keyHex, 0o644, ErrSecretPerms, "chmod 600 "},
		{"other writable only", keyHex, 0o602, ErrSecretPerms, "mode 0602"},
		{"short", keyHex[:2*(MinSecretLen-1)], 0o600, ErrWeakSecret, "31 bytes"},
		{"empty", "", 0o600, ErrWeakSecret, "0 bytes"},
		{"not hex", strings.Repeat("z", 64), 0o600, ErrSecretFormat, "hex"},
		{"odd hex digits", keyHex + "a", 0o600, ErrSecretFormat, "hex"},
		{"raw bytes", string(key), 0o600, ErrSecretFormat, "hex"},
		{"too large", strings.Repeat("ab", maxSecretFileLen), 0o600, ErrSecretFormat,
			"larger"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, SecretFileName)
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatalf("WriteFile: %v", err)
			}
			if err := os.Chmod(path, tt.mode); err != nil {
				t.Fatalf("Chmod: %v", err)
			}
			s, gotPath, created, err := LoadSecret(dir, "")
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("LoadSecret error = %v, want %v", err, tt.wantErr)
			}
			if gotPath != path || created {
				t.Errorf("LoadSecret path, created = %q, %v, want %q, false",
					gotPath, created, path)
			}
			if err == nil {
				if !bytes.Equal(s.bytes(), key) {
					t.Errorf("secret differs from the file's")
				}
				return
			}
			msg := err.Error()
			if !strings.Contains(msg, path) || !strings.Contains(msg, tt.wantMsg) {
				t.Errorf("error %q does not name %s and %q", msg, path, tt.wantMsg)
			}
			if strings.Contains(strings.ToLower(msg), keyHex[:16]) {
				t.Errorf("error %q reveals the secret", msg)
			}
			if s.Len() != 0 {
				t.Errorf("Len = %d after an error, want 0", s.Len())
			}
		})
	}
}

func TestLoadSecretRefusesOddPaths(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(tb testing.TB) string
		wantErr error
	}{
		{"no data directory", func(testing.TB) string { return "" }, ErrNoDataDir},
		{"secret path is a directory", func(tb testing.TB) string {
			dir := tb.TempDir()
			if err := os.Mkdir(filepath.Join(dir, SecretFileName), 0o700); err != nil {
				tb.Fatalf("Mkdir: %v", err)
			}
			return dir
		}, ErrSecretFormat},
		{"dangling symlink", func(tb testing.TB) string {
			dir := tb.TempDir()
			link := filepath.Join(dir, SecretFileName)
			if err := os.Symlink(filepath.Join(dir, "gone"), link); err != nil {
				tb.Fatalf("Symlink: %v", err)
			}
			return dir
		}, fs.ErrNotExist},
		{"data directory is a file", func(tb testing.TB) string {
			path := filepath.Join(tb.TempDir(), "file")
			if err := os.WriteFile(path, nil, 0o600); err != nil {
				tb.Fatalf("WriteFile: %v", err)
			}
			return path
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := tt.setup(t)
			s, _, created, err := LoadSecret(dir, "")
			if err == nil || (tt.wantErr != nil && !errors.Is(err, tt.wantErr)) {
				t.Fatalf("LoadSecret error = %v, want %v", err, tt.wantErr)
			}
			if created || s.Len() != 0 {
				t.Errorf("LoadSecret created, Len = %v, %d after an error",
					created, s.Len())
			}
		})
	}
}

func TestLoadSecretConcurrentFirstRun(t *testing.T) {
	const callers = 8
	dir := filepath.Join(t.TempDir(), "data")
	type result struct {
		s       Secret
		created bool
		err     error
	}
	results := make([]result, callers)
	var wg sync.WaitGroup
	for i := range results {
		wg.Go(func() {
			s, _, created, err := LoadSecret(dir, "")
			results[i] = result{s, created, err}
		})
	}
	wg.Wait()

	creators := 0
	for i, r := range results {
		if r.err != nil {
			t.Fatalf("caller %d: LoadSecret: %v", i, r.err)
		}
		if r.created {
			creators++
		}
		if !bytes.Equal(r.s.bytes(), results[0].s.bytes()) {
			t.Errorf("caller %d got a different secret from caller 0", i)
		}
	}
	if creators != 1 {
		t.Errorf("%d callers report creating the file, want exactly 1", creators)
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 1 {
		t.Errorf("data directory has %d entries (%v), want only %s", len(entries), err,
			SecretFileName)
	}
}
