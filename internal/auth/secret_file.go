package auth

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Where LoadSecret looks for the secret.
const (
	// EnvSecretKey is the environment variable whose value the caller passes to LoadSecret.
	EnvSecretKey = "WEBSOCKET_SECRET_KEY"
	// SecretFileName is the secret file's name inside the data directory.
	SecretFileName = "secret.key"
)

const (
	// generatedSecretLen is the length in bytes of a secret LoadSecret creates.
	generatedSecretLen = 32
	// maxSecretFileLen bounds how much of a secret file is read.
	maxSecretFileLen = 4096
)

// LoadSecret returns the token secret and where it came from. It predates the key ring:
// the engine now calls LoadRing, which imports secret.key as kid k0 and never reads it
// again; LoadSecret stays for tools that want that single secret.
//
// If fromEnv, the value of WEBSOCKET_SECRET_KEY, is not empty, its bytes are the secret as
// they are (not hex-decoded); with surrounding white space removed it must still be at least
// MinSecretLen bytes, or LoadSecret fails with ErrWeakSecret. Nothing is read or written on
// disk then, and path is empty.
//
// Otherwise the secret is in dataDir/secret.key, stored as hex digits (64 for the 32 random
// bytes LoadSecret generates), optionally surrounded by white space. The file must be a
// regular file that group and others can neither read nor write (ErrSecretPerms, whose
// message gives the chmod that fixes it), of valid hex (ErrSecretFormat) that decodes to at
// least MinSecretLen bytes (ErrWeakSecret). If the file does not exist, LoadSecret creates
// dataDir with mode 0700 when missing, writes a new secret to a temporary file with mode
// 0600, and links it into place only if no other process got there first; created reports
// whether this call made the file. Errors name the path, never the secret.
//
// Permission bits are checked as Unix reports them; the check means nothing on Windows.
func LoadSecret(dataDir string, fromEnv string) (s Secret, path string, created bool, err error) {
	if fromEnv != "" {
		if len(strings.TrimSpace(fromEnv)) < MinSecretLen {
			return Secret{}, "", false, fmt.Errorf("%w: %s is shorter than %d bytes",
				ErrWeakSecret, EnvSecretKey, MinSecretLen)
		}
		s, err = NewSecret([]byte(fromEnv))
		return s, "", false, err
	}
	if dataDir == "" {
		return Secret{}, "", false, ErrNoDataDir
	}
	path = filepath.Join(dataDir, SecretFileName)

	s, err = readSecretFile(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return s, path, false, err
	}

	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return Secret{}, path, false, fmt.Errorf("auth: create data directory %s: %w",
			dataDir, err)
	}
	s, err = createSecretFile(dataDir, path)
	if errors.Is(err, fs.ErrExist) {
		s, err = readSecretFile(path)
		return s, path, false, err
	}
	if err != nil {
		return Secret{}, path, false, err
	}
	return s, path, true, nil
}

// readSecretFile reads and checks an existing secret file. A missing file yields an error
// matching fs.ErrNotExist.
func readSecretFile(path string) (Secret, error) {
	data, _, err := readPrivateFile(path, "secret", ErrSecretFormat, maxSecretFileLen)
	if err != nil {
		return Secret{}, err
	}
	defer clear(data)

	text := bytes.TrimSpace(data)
	key := make([]byte, hex.DecodedLen(len(text)))
	defer clear(key)
	if _, err := hex.Decode(key, text); err != nil {
		return Secret{}, fmt.Errorf("%w: %s does not hold hex digits",
			ErrSecretFormat, path)
	}
	if len(key) < MinSecretLen {
		return Secret{}, fmt.Errorf("%w: %s holds %d bytes, need at least %d; "+
			"delete it to have a new one generated",
			ErrWeakSecret, path, len(key), MinSecretLen)
	}
	return NewSecret(key)
}

// readPrivateFile reads a file holding key material: a regular file of at most maxLen bytes
// that group and others can neither read nor write (ErrSecretPerms). what names the file in
// errors ("secret", "key ring"); formatErr is wrapped when the file is not regular or too
// large. A missing file yields an error matching fs.ErrNotExist. The caller should clear the
// returned bytes once used.
func readPrivateFile(path, what string, formatErr error, maxLen int) ([]byte, fs.FileInfo,
	error) {
	// Stat before opening, so that a FIFO or device put in its place cannot block the open;
	// the opened file is checked again below.
	info, err := os.Stat(path)
	if err != nil {
		return nil, nil, fmt.Errorf("auth: stat %s %s: %w", what, path, err)
	}
	if !info.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("%w: %s is not a regular file", formatErr, path)
	}

	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("auth: open %s %s: %w", what, path, err)
	}
	defer f.Close()

	info, err = f.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("auth: stat %s %s: %w", what, path, err)
	}
	if !info.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("%w: %s is not a regular file", formatErr, path)
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		return nil, nil, fmt.Errorf("%w: %s has mode %04o, which group or others can "+
			"access; fix it with: chmod 600 %s", ErrSecretPerms, path, perm, path)
	}

	data, err := io.ReadAll(io.LimitReader(f, int64(maxLen)+1))
	if err != nil {
		clear(data)
		return nil, nil, fmt.Errorf("auth: read %s %s: %w", what, path, err)
	}
	if len(data) > maxLen {
		clear(data)
		return nil, nil, fmt.Errorf("%w: %s is larger than %d bytes", formatErr, path,
			maxLen)
	}
	return data, info, nil
}

// createSecretFile writes a fresh random secret to path without ever exposing a partial
// file: the bytes go to a temporary file that is then hard-linked to path. If path already
// exists the error matches fs.ErrExist and the caller should read that file instead.
func createSecretFile(dir, path string) (Secret, error) {
	key := make([]byte, generatedSecretLen)
	defer clear(key)
	if _, err := rand.Read(key); err != nil {
		return Secret{}, fmt.Errorf("auth: generate secret: %w", err)
	}
	text := make([]byte, hex.EncodedLen(len(key))+1)
	defer clear(text)
	hex.Encode(text, key)
	text[len(text)-1] = '\n'

	tmp, err := os.CreateTemp(dir, "."+SecretFileName+".tmp-*")
	if err != nil {
		return Secret{}, fmt.Errorf("auth: create secret %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := writeAndClose(tmp, text); err != nil {
		return Secret{}, fmt.Errorf("auth: write secret %s: %w", path, err)
	}

	if err := os.Link(tmp.Name(), path); err != nil {
		return Secret{}, fmt.Errorf("auth: install secret %s: %w", path, err)
	}
	if err := syncDir(dir); err != nil {
		return Secret{}, fmt.Errorf("auth: install secret %s: %w", path, err)
	}
	return NewSecret(key)
}

// writeAndClose gives f mode 0600 whatever the umask, writes data, syncs and closes it.
func writeAndClose(f *os.File, data []byte) error {
	err := f.Chmod(0o600)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// syncDir flushes a directory entry so that a new link survives a crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// maxCredentialFileLen bounds a credential file read by ReadCredentialFile.
const maxCredentialFileLen = 4096

// ReadCredentialFile reads a password or signing secret kept in a file, such as the node's
// RPC password or the operator webhook's secret: a regular file of at most 4 KiB that group
// and others can neither read nor write (ErrSecretPerms). Trailing white space (a final
// newline) is trimmed; an empty credential is an error wrapping ErrSecretFormat.
func ReadCredentialFile(path, what string) ([]byte, error) {
	data, _, err := readPrivateFile(path, what, ErrSecretFormat, maxCredentialFileLen)
	if err != nil {
		return nil, err
	}
	cred := bytes.TrimRight(data, " \t\r\n")
	if len(cred) == 0 {
		return nil, fmt.Errorf("%w: %s %s is empty", ErrSecretFormat, what, path)
	}
	return bytes.Clone(cred), nil
}
