package auth

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Limits of the key ring file.
const (
	// ringFileVersion is the only version of keys.json this code reads and writes.
	ringFileVersion = 1
	// maxRingFileLen bounds how much of keys.json is read.
	maxRingFileLen = 1 << 20
	// maxRingKeys bounds the number of keys, retired ones included, in keys.json.
	maxRingKeys = 1024
	// kidLen is the number of random bytes in a generated kid: 8 hex digits.
	kidLen = 4
)

// ringFile is the JSON form of keys.json.
//
//	{"version": 1, "keys": [
//	  {"kid": "k0", "alg": "HS256", "state": "verify", "created": "…", "secret": "<hex>"},
//	  {"kid": "3f9a0c21", "alg": "HS256", "state": "signing", "created": "…", "secret": "…"},
//	  {"kid": "partner", "alg": "EdDSA", "state": "verify", "created": "…",
//	   "public_key": "<hex>"},
//	  {"kid": "old", "alg": "HS256", "state": "retired", "created": "…", "retired": "…"}]}
type ringFile struct {
	Version int       `json:"version"`
	Keys    []fileKey `json:"keys"`
}

// fileKey is one key of keys.json. A retired key keeps no material.
type fileKey struct {
	KID       string     `json:"kid"`
	Alg       Algorithm  `json:"alg"`
	State     KeyState   `json:"state"`
	Created   time.Time  `json:"created"`
	Retired   *time.Time `json:"retired,omitempty"`
	Secret    hexBytes   `json:"secret,omitempty"`
	PublicKey hexBytes   `json:"public_key,omitempty"`
}

// hexBytes is key material written as lowercase hex digits.
type hexBytes []byte

// errNotHex is the fixed error of a bad hex field: the decoder's own error would quote the
// offending byte, which may belong to a secret.
var errNotHex = errors.New("not hex digits")

// MarshalText writes h as hex digits.
func (h hexBytes) MarshalText() ([]byte, error) {
	out := make([]byte, hex.EncodedLen(len(h)))
	hex.Encode(out, h)
	return out, nil
}

// UnmarshalText reads hex digits.
func (h *hexBytes) UnmarshalText(text []byte) error {
	b := make([]byte, hex.DecodedLen(len(text)))
	if _, err := hex.Decode(b, text); err != nil {
		clear(b)
		return errNotHex
	}
	*h = b
	return nil
}

// wipe clears the key material of f.
func (f *ringFile) wipe() {
	for i := range f.Keys {
		clear(f.Keys[i].Secret)
	}
}

// index returns the position of the key kid, or -1.
func (f *ringFile) index(kid string) int {
	for i := range f.Keys {
		if f.Keys[i].KID == kid {
			return i
		}
	}
	return -1
}

// signingIndex returns the position of the signing key, or -1.
func (f *ringFile) signingIndex() int {
	for i := range f.Keys {
		if f.Keys[i].State == KeySigning {
			return i
		}
	}
	return -1
}

// check reports the first broken rule of f, wrapping ErrKeyRingFormat. It never quotes key
// material.
func (f *ringFile) check() error {
	if f.Version != ringFileVersion {
		return fmt.Errorf("%w: version %d, want %d", ErrKeyRingFormat, f.Version,
			ringFileVersion)
	}
	if len(f.Keys) > maxRingKeys {
		return fmt.Errorf("%w: %d keys, at most %d", ErrKeyRingFormat, len(f.Keys),
			maxRingKeys)
	}
	seen := make(map[string]bool, len(f.Keys))
	signing := 0
	for i := range f.Keys {
		k := &f.Keys[i]
		if !validKeyID(k.KID) || k.KID == EnvKeyID {
			return fmt.Errorf("%w: key %d has an invalid or reserved kid", ErrKeyRingFormat,
				i)
		}
		if seen[k.KID] {
			return fmt.Errorf("%w: kid %s appears twice", ErrKeyRingFormat, k.KID)
		}
		seen[k.KID] = true
		if err := k.check(); err != nil {
			return fmt.Errorf("%w: key %s: %v", ErrKeyRingFormat, k.KID, err)
		}
		if k.State == KeySigning {
			signing++
		}
	}
	if signing != 1 {
		return fmt.Errorf("%w: %d signing keys, want exactly 1", ErrKeyRingFormat, signing)
	}
	return nil
}

// check reports what is wrong with one key, in words that hold no key material.
func (k *fileKey) check() error {
	if k.Created.IsZero() {
		return errors.New("no created time")
	}
	switch k.State {
	case KeySigning, KeyVerify:
		if k.Retired != nil {
			return errors.New("retired time on a key in use")
		}
	case KeyRetired:
		if k.Retired == nil {
			return errors.New("retired key without a retired time")
		}
		if len(k.Secret) != 0 || len(k.PublicKey) != 0 {
			return errors.New("retired key still holds key material")
		}
		if k.Alg != AlgHS256 && k.Alg != AlgEdDSA {
			return fmt.Errorf("unknown alg %.16q", k.Alg)
		}
		return nil
	default:
		return fmt.Errorf("unknown state %.16q", k.State)
	}

	switch k.Alg {
	case AlgHS256:
		if len(k.Secret) < MinSecretLen || len(k.PublicKey) != 0 {
			return fmt.Errorf("HS256 needs a secret of at least %d bytes and no public key",
				MinSecretLen)
		}
	case AlgEdDSA:
		if k.State == KeySigning {
			return errors.New("an EdDSA key cannot sign: the ring has no private key")
		}
		if len(k.Secret) != 0 || checkEd25519Public(k.PublicKey) != nil {
			return errors.New("EdDSA needs a valid Ed25519 public key and no secret")
		}
	default:
		return fmt.Errorf("unknown alg %.16q", k.Alg)
	}
	return nil
}

// readRingFile reads and checks keys.json. A missing file yields an error matching
// fs.ErrNotExist. The caller should wipe the result once used.
func readRingFile(path string) (*ringFile, fs.FileInfo, error) {
	data, info, err := readPrivateFile(path, "key ring", ErrKeyRingFormat, maxRingFileLen)
	if err != nil {
		return nil, nil, err
	}
	defer clear(data)

	f, err := decodeRingFile(data)
	if err != nil {
		return nil, nil, fmt.Errorf("key ring %s: %w", path, err)
	}
	return f, info, nil
}

// decodeRingFile decodes and checks the bytes of keys.json; errors wrap ErrKeyRingFormat
// and never quote the input. The caller should wipe the result once used.
func decodeRingFile(data []byte) (*ringFile, error) {
	f := &ringFile{}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	err := dec.Decode(f)
	if err == nil && dec.Decode(&struct{}{}) != io.EOF {
		err = errors.New("data after the ring")
	}
	if err != nil {
		f.wipe()
		return nil, fmt.Errorf("%w: %s", ErrKeyRingFormat, jsonProblem(err))
	}
	if err := f.check(); err != nil {
		f.wipe()
		return nil, err
	}
	return f, nil
}

// jsonProblem describes a decoding error without quoting the file: a syntax error message
// names the offending character, which may belong to a secret.
func jsonProblem(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("not valid JSON (byte %d)", syn.Offset)
	case errors.As(err, &typ):
		return fmt.Sprintf("field %s has the wrong type", typ.Field)
	case errors.Is(err, errNotHex):
		return "key material is not hex digits"
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return strings.TrimPrefix(err.Error(), "json: ")
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "truncated"
	default:
		return "not a key ring"
	}
}

// writeRingFile replaces keys.json with f: the JSON goes to a temporary file of mode 0600 in
// the same directory, is synced, and is renamed over path; the directory is synced last. It
// returns the new file's description.
func writeRingFile(dir, path string, f *ringFile) (fs.FileInfo, error) {
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("auth: encode key ring %s: %w", path, err)
	}
	data = append(data, '\n')
	defer clear(data)

	tmp, err := os.CreateTemp(dir, "."+KeyRingFileName+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("auth: write key ring %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := writeAndClose(tmp, data); err != nil {
		return nil, fmt.Errorf("auth: write key ring %s: %w", path, err)
	}
	info, err := os.Stat(tmp.Name())
	if err != nil {
		return nil, fmt.Errorf("auth: write key ring %s: %w", path, err)
	}

	if err := os.Rename(tmp.Name(), path); err != nil {
		return nil, fmt.Errorf("auth: install key ring %s: %w", path, err)
	}
	if err := syncDir(dir); err != nil {
		return nil, fmt.Errorf("auth: install key ring %s: %w", path, err)
	}
	return info, nil
}

// newRingFile returns the first ring of dir: secret.key's secret as k0 when that file
// exists, else one fresh HS256 key. A secret.key that exists but cannot be used is an
// error, not a reason to start afresh.
func newRingFile(dir string, now time.Time) (*ringFile, RingSetup, error) {
	f := &ringFile{Version: ringFileVersion}
	legacy := filepath.Join(dir, SecretFileName)
	s, err := readSecretFile(legacy)
	switch {
	case err == nil:
		f.Keys = append(f.Keys, fileKey{
			KID:     MigratedKeyID,
			Alg:     AlgHS256,
			State:   KeySigning,
			Created: now,
			Secret:  hexBytes(append([]byte(nil), s.bytes()...)),
		})
		return f, RingMigrated, nil
	case !errors.Is(err, fs.ErrNotExist):
		return nil, "", fmt.Errorf("auth: migrate %s into %s: %w", legacy, KeyRingFileName,
			err)
	}

	k, err := newHS256Key(f, now)
	if err != nil {
		return nil, "", err
	}
	f.Keys = append(f.Keys, k)
	return f, RingCreated, nil
}

// newHS256Key returns a signing HS256 key with a fresh secret and a kid unused in f.
func newHS256Key(f *ringFile, now time.Time) (fileKey, error) {
	kid, err := newKeyID(f)
	if err != nil {
		return fileKey{}, err
	}
	secret := make([]byte, generatedSecretLen)
	if _, err := rand.Read(secret); err != nil {
		return fileKey{}, fmt.Errorf("auth: generate key %s: %w", kid, err)
	}
	return fileKey{KID: kid, Alg: AlgHS256, State: KeySigning, Created: now,
		Secret: secret}, nil
}

// newKeyID returns 8 random hex digits that no key of f uses; hex digits never spell the
// reserved ids env and k0.
func newKeyID(f *ringFile) (string, error) {
	b := make([]byte, kidLen)
	for range 16 {
		if _, err := rand.Read(b); err != nil {
			return "", fmt.Errorf("auth: generate key id: %w", err)
		}
		kid := hex.EncodeToString(b)
		if f.index(kid) < 0 {
			return kid, nil
		}
	}
	return "", fmt.Errorf("auth: generate key id: %w: 16 collisions", ErrKeyExists)
}

// edit changes the ring file under the ring lock and installs the result. change gets the
// file as it is on disk (or the first ring, if there is no file yet, with setup saying how it
// was made) and reports whether it changed it; a new or changed file is written. Nothing is
// written if change fails.
func (r *Ring) edit(change func(f *ringFile, setup RingSetup) (bool, error)) (RingSetup,
	error) {
	if r.path == "" {
		return "", fmt.Errorf("auth: edit key ring: %w", ErrNoDataDir)
	}
	r.mu.Lock()
	defer r.mu.Unlock()

	if err := os.MkdirAll(r.dir, 0o700); err != nil {
		return "", fmt.Errorf("auth: create data directory %s: %w", r.dir, err)
	}
	unlock, err := lockRing(r.dir)
	if err != nil {
		return "", err
	}
	defer unlock()

	now := time.Now().UTC().Truncate(time.Second)
	setup := RingLoaded
	f, info, err := readRingFile(r.path)
	if errors.Is(err, fs.ErrNotExist) {
		f, setup, err = newRingFile(r.dir, now)
	}
	if err != nil {
		return "", err
	}
	defer f.wipe()

	changed, err := change(f, setup)
	if err != nil {
		return "", err
	}
	if changed || setup != RingLoaded {
		if err := f.check(); err != nil {
			return "", fmt.Errorf("auth: edit key ring %s: %w", r.path, err)
		}
		if info, err = writeRingFile(r.dir, r.path, f); err != nil {
			return "", err
		}
	}
	return setup, r.install(f, info)
}
