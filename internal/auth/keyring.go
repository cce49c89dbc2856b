package auth

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/whalecast/whalecast/internal/clock"
)

// Names and limits of the key ring.
const (
	// KeyRingFileName is the key ring's file name inside the data directory.
	KeyRingFileName = "keys.json"
	// EnvKeyID is the kid of the key made from WEBSOCKET_SECRET_KEY, which lives only in
	// memory, and of the single key behind NewIssuer and NewVerifier. No key in the file may
	// use it.
	EnvKeyID = "env"
	// MigratedKeyID is the kid LoadRing gives the secret it imports from secret.key.
	MigratedKeyID = "k0"
	// MaxKeyIDLen is the longest accepted kid, in bytes.
	MaxKeyIDLen = 64
	// DefaultReloadInterval is how often Watch looks at the key ring file by default.
	DefaultReloadInterval = time.Second
)

// Algorithm names the JWS algorithm a key is pinned to: a token naming any other algorithm
// is refused, whatever its signature.
type Algorithm string

// The algorithms a key ring holds.
const (
	// AlgHS256 is HMAC-SHA256 with a shared secret: the engine both signs and verifies.
	AlgHS256 Algorithm = "HS256"
	// AlgEdDSA is Ed25519: an outside issuer signs, the engine only holds the public key.
	AlgEdDSA Algorithm = "EdDSA"
)

// KeyState says what a key of the ring is used for.
type KeyState string

// The states of a key. A key moves only forward: signing, then verify, then retired.
const (
	// KeySigning marks the HS256 key that signs new tokens; a ring has exactly one.
	KeySigning KeyState = "signing"
	// KeyVerify marks a key that verifies tokens but signs none: an older HS256 key, or an
	// imported Ed25519 public key.
	KeyVerify KeyState = "verify"
	// KeyRetired marks a key that verifies nothing any more. Its kid stays reserved; its key
	// material is erased from the file.
	KeyRetired KeyState = "retired"
)

// KeyInfo describes one key of a ring without its key material.
type KeyInfo struct {
	// KID is the key's id, carried in the header of the tokens it signs.
	KID string
	// Alg is the algorithm the key is pinned to.
	Alg Algorithm
	// State is the key's state as this ring uses it. With WEBSOCKET_SECRET_KEY set, the env
	// key signs and the file's signing key only verifies.
	State KeyState
	// Created is when the key was added to the ring, in UTC; zero for an in-memory key.
	Created time.Time
	// Retired is when the key was retired, in UTC; zero unless State is KeyRetired.
	Retired time.Time
	// InMemory reports a key that is never written to disk (WEBSOCKET_SECRET_KEY).
	InMemory bool
}

// RingSetup tells what LoadRing found or did in the data directory.
type RingSetup string

// What LoadRing may report.
const (
	// RingLoaded means keys.json existed and was read.
	RingLoaded RingSetup = "loaded"
	// RingCreated means keys.json was created with one fresh HS256 key.
	RingCreated RingSetup = "created"
	// RingMigrated means keys.json was created from secret.key, whose secret became kid k0.
	RingMigrated RingSetup = "migrated"
	// RingMemory means the ring holds only the WEBSOCKET_SECRET_KEY key, as there is no
	// keys.json; nothing was written.
	RingMemory RingSetup = "memory"
)

// ringKey is one key of a ring with its material. It is never modified once built.
type ringKey struct {
	info   KeyInfo
	secret Secret            // HS256 only
	public ed25519.PublicKey // EdDSA only
}

// keySet is an immutable snapshot of a ring.
type keySet struct {
	keys    []*ringKey          // in the file's order, the in-memory key last
	usable  map[string]*ringKey // keys that verify, by kid: none retired
	signing *ringKey
}

// Ring is a set of keys, each pinned to one algorithm and named by a kid, kept in the file
// keys.json of the data directory and optionally topped by an in-memory key from
// WEBSOCKET_SECRET_KEY.
//
// A Ring is safe for concurrent use. Issuers and Verifiers read an immutable snapshot of its
// keys through an atomic pointer; Reload and the editing methods (Rotate, Retire,
// ImportPublic) replace the snapshot. Edits from several processes (the engine and the
// `engine keys` commands) are serialised by an advisory lock on the file .keys.lock, and the
// file is only ever replaced whole, so a reader never sees a partial ring.
type Ring struct {
	dir  string
	path string   // empty for a ring without a file
	env  *ringKey // the WEBSOCKET_SECRET_KEY key, or nil

	mu    sync.Mutex  // serialises Reload and edits within this process
	stamp fs.FileInfo // the file the current snapshot was read from, or nil

	set atomic.Pointer[keySet]
}

// LoadRing opens the key ring of dataDir and reports what it found or did.
//
// If envSecret, the value of WEBSOCKET_SECRET_KEY, is not empty, its bytes (as they are, not
// hex-decoded) become an HS256 key with kid EnvKeyID that signs and is never written; with
// surrounding white space removed it must be at least MinSecretLen bytes (ErrWeakSecret).
// The keys of keys.json, if the file exists, still verify; if it does not, nothing is
// created and the ring holds the env key alone (RingMemory).
//
// Without envSecret, LoadRing reads dataDir/keys.json. If the file does not exist it creates
// dataDir (mode 0700) and the file: from dataDir/secret.key when that exists, whose secret
// becomes the signing key k0 (RingMigrated; secret.key itself is left alone and never read
// again), or else with one fresh HS256 key (RingCreated).
//
// keys.json must be a regular file that group and others can neither read nor write
// (ErrSecretPerms) holding a valid ring (ErrKeyRingFormat). Errors name the path, never key
// material.
func LoadRing(dataDir, envSecret string) (*Ring, RingSetup, error) {
	r := &Ring{dir: dataDir}
	if envSecret != "" {
		if len(strings.TrimSpace(envSecret)) < MinSecretLen {
			return nil, "", fmt.Errorf("%w: %s is shorter than %d bytes",
				ErrWeakSecret, EnvSecretKey, MinSecretLen)
		}
		s, err := NewSecret([]byte(envSecret))
		if err != nil {
			return nil, "", err
		}
		r.env = &ringKey{
			info:   KeyInfo{KID: EnvKeyID, Alg: AlgHS256, State: KeySigning, InMemory: true},
			secret: s,
		}
	}
	if dataDir == "" {
		if r.env == nil {
			return nil, "", ErrNoDataDir
		}
		r.set.Store(buildSet(nil, r.env))
		return r, RingMemory, nil
	}
	r.path = filepath.Join(dataDir, KeyRingFileName)

	f, info, err := readRingFile(r.path)
	if err == nil {
		defer f.wipe()
		if err := r.install(f, info); err != nil {
			return nil, "", err
		}
		return r, RingLoaded, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, "", err
	}
	if r.env != nil {
		r.set.Store(buildSet(nil, r.env))
		return r, RingMemory, nil
	}

	setup, err := r.edit(func(*ringFile, RingSetup) (bool, error) { return false, nil })
	if err != nil {
		return nil, "", err
	}
	return r, setup, nil
}

// memoryRing returns a ring holding only secret, as the signing HS256 key kid.
func memoryRing(kid string, secret Secret) *Ring {
	r := &Ring{env: &ringKey{
		info:   KeyInfo{KID: kid, Alg: AlgHS256, State: KeySigning, InMemory: true},
		secret: secret,
	}}
	r.set.Store(buildSet(nil, r.env))
	return r
}

// Path returns the key ring file's path, or "" for a ring without a data directory.
func (r *Ring) Path() string { return r.path }

// List describes every key of the ring, retired ones included, in the order they were
// added, the in-memory key last. It never returns key material.
func (r *Ring) List() []KeyInfo {
	set := r.set.Load()
	out := make([]KeyInfo, len(set.keys))
	for i, k := range set.keys {
		out[i] = k.info
	}
	return out
}

// signing returns the key that signs new tokens, or nil.
func (r *Ring) signing() *ringKey { return r.set.Load().signing }

// lookup returns the key that verifies tokens with this kid, or nil if none does.
func (r *Ring) lookup(kid string) *ringKey {
	if kid == "" {
		return nil
	}
	return r.set.Load().usable[kid]
}

// Reload reads the key ring file again if it changed since it was last read (another inode,
// size or modification time) and reports whether the keys were replaced. On error the keys
// in use stay as they were. A ring without a file, or with only the env key and still no
// file, has nothing to reload.
func (r *Ring) Reload() (changed bool, err error) {
	if r.path == "" {
		return false, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()

	info, err := os.Stat(r.path)
	if errors.Is(err, fs.ErrNotExist) && r.stamp == nil {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("auth: reload key ring: %w", err)
	}
	if r.stamp != nil && sameStamp(r.stamp, info) {
		return false, nil
	}

	f, info, err := readRingFile(r.path)
	if err != nil {
		return false, fmt.Errorf("auth: reload key ring: %w", err)
	}
	defer f.wipe()
	if err := r.install(f, info); err != nil {
		return false, err
	}
	return true, nil
}

// sameStamp reports whether a and b describe the same, unchanged file.
func sameStamp(a, b fs.FileInfo) bool {
	return os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}

// Watch calls Reload every interval (DefaultReloadInterval if not positive), timed by clk
// (clock.Real if nil), until ctx is done; it blocks, so run it in a goroutine of its own.
// report, if not nil, is called from that goroutine after a reload that replaced the keys
// (changed true) and after a failure, but only once for a run of identical failures, so
// that a broken file costs one log line rather than one a second.
func (r *Ring) Watch(ctx context.Context, clk clock.Clock, interval time.Duration,
	report func(changed bool, err error)) {
	if clk == nil {
		clk = clock.Real{}
	}
	if interval <= 0 {
		interval = DefaultReloadInterval
	}
	if report == nil {
		report = func(bool, error) {}
	}
	tick := make(chan struct{}, 1)
	lastErr := ""
	for {
		t := clk.AfterFunc(interval, func() {
			select {
			case tick <- struct{}{}:
			default:
			}
		})
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-tick:
		}

		changed, err := r.Reload()
		switch {
		case err != nil && err.Error() != lastErr:
			lastErr = err.Error()
			report(false, err)
		case err == nil && changed:
			lastErr = ""
			report(true, nil)
		case err == nil:
			lastErr = ""
		}
	}
}

// install makes the keys of f, read from the file described by info, the ring's keys.
func (r *Ring) install(f *ringFile, info fs.FileInfo) error {
	set := buildSet(f, r.env)
	if set.signing == nil {
		return fmt.Errorf("auth: key ring %s: %w", r.path, ErrNoSigningKey)
	}
	r.set.Store(set)
	r.stamp = info
	return nil
}

// buildSet turns a checked ring file and the in-memory key into a snapshot. With an
// in-memory key, that key signs and the file's signing key only verifies.
func buildSet(f *ringFile, env *ringKey) *keySet {
	set := &keySet{usable: map[string]*ringKey{}}
	if f != nil {
		for _, fk := range f.Keys {
			k := &ringKey{info: KeyInfo{
				KID:     fk.KID,
				Alg:     fk.Alg,
				State:   fk.State,
				Created: fk.Created.UTC(),
			}}
			if fk.Retired != nil {
				k.info.Retired = fk.Retired.UTC()
			}
			if env != nil && k.info.State == KeySigning {
				k.info.State = KeyVerify
			}
			switch {
			case fk.State == KeyRetired:
			case fk.Alg == AlgHS256:
				// The file was checked, so the secret is long enough.
				k.secret, _ = NewSecret(fk.Secret)
			case fk.Alg == AlgEdDSA:
				k.public = slices.Clone(ed25519.PublicKey(fk.PublicKey))
			}
			set.keys = append(set.keys, k)
		}
	}
	if env != nil {
		set.keys = append(set.keys, env)
	}
	for _, k := range set.keys {
		if k.info.State == KeyRetired {
			continue
		}
		set.usable[k.info.KID] = k
		if k.info.State == KeySigning {
			set.signing = k
		}
	}
	return set
}

// validKeyID reports whether kid is 1 to MaxKeyIDLen bytes of ASCII letters, digits and
// . _ -, so that it is safe to print and log as it is.
func validKeyID(kid string) bool {
	if kid == "" || len(kid) > MaxKeyIDLen {
		return false
	}
	for i := 0; i < len(kid); i++ {
		c := kid[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}
