package auth

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/whalecast/whalecast/internal/clock"
)

// testEdSeed makes the deterministic Ed25519 key of the tests' outside issuer.
var testEdSeed = bytes.Repeat([]byte{7}, ed25519.SeedSize)

// testEdKey returns the outside issuer's private key.
func testEdKey() ed25519.PrivateKey { return ed25519.NewKeyFromSeed(testEdSeed) }

// loadRing loads the ring of dir without an env secret, failing tb on error.
func loadRing(tb testing.TB, dir string) *Ring {
	tb.Helper()
	r, _, err := LoadRing(dir, "")
	if err != nil {
		tb.Fatalf("LoadRing: %v", err)
	}
	return r
}

// ringSecret returns the secret of the usable key kid of r.
func ringSecret(tb testing.TB, r *Ring, kid string) Secret {
	tb.Helper()
	k := r.lookup(kid)
	if k == nil || k.info.Alg != AlgHS256 {
		tb.Fatalf("ring has no usable HS256 key %q", kid)
	}
	return k.secret
}

// signingKID returns the kid of r's signing key.
func signingKID(tb testing.TB, r *Ring) string {
	tb.Helper()
	k := r.signing()
	if k == nil {
		tb.Fatalf("ring has no signing key")
	}
	return k.info.KID
}

// states maps each kid of r to its state.
func states(r *Ring) map[string]KeyState {
	out := map[string]KeyState{}
	for _, k := range r.List() {
		out[k.KID] = k.State
	}
	return out
}

// writeFileMode writes data to path and gives it exactly mode.
func writeFileMode(tb testing.TB, path string, data []byte, mode fs.FileMode) {
	tb.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		tb.Fatalf("WriteFile: %v", err)
	}
	if err := os.Chmod(path, mode); err != nil {
		tb.Fatalf("Chmod: %v", err)
	}
}

func TestLoadRingCreatesThenReuses(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nested", "data")
	first, setup, err := LoadRing(dir, "")
	if err != nil {
		t.Fatalf("first LoadRing: %v", err)
	}
	path := filepath.Join(dir, KeyRingFileName)
	if setup != RingCreated || first.Path() != path {
		t.Errorf("first LoadRing setup, path = %q, %q, want %q, %q", setup, first.Path(),
			RingCreated, path)
	}
	assertMode(t, path, 0o600)
	assertMode(t, dir, 0o700)

	keys := first.List()
	if len(keys) != 1 {
		t.Fatalf("List has %d keys, want 1", len(keys))
	}
	k := keys[0]
	if !regexp.MustCompile(`^[0-9a-f]{8}$`).MatchString(k.KID) || k.Alg != AlgHS256 ||
		k.State != KeySigning || k.Created.IsZero() || k.InMemory {
		t.Errorf("new key = %+v, want 8 hex digits, HS256, signing, created, on disk", k)
	}
	if n := ringSecret(t, first, k.KID).Len(); n != generatedSecretLen {
		t.Errorf("new secret has %d bytes, want %d", n, generatedSecretLen)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("ReadDir: %v", err)
	}
	for _, e := range entries {
		if e.Name() != KeyRingFileName && e.Name() != ringLockName {
			t.Errorf("data directory holds %s, want only %s and %s", e.Name(),
				KeyRingFileName, ringLockName)
		}
	}

	second, setup, err := LoadRing(dir, "")
	if err != nil {
		t.Fatalf("second LoadRing: %v", err)
	}
	if setup != RingLoaded {
		t.Errorf("second LoadRing setup = %q, want %q", setup, RingLoaded)
	}
	if !bytes.Equal(ringSecret(t, second, k.KID).bytes(),
		ringSecret(t, first, k.KID).bytes()) {
		t.Errorf("second LoadRing read a different secret")
	}
}

func TestLoadRingMigratesSecretFile(t *testing.T) {
	dir := t.TempDir()
	legacy, _, created, err := LoadSecret(dir, "")
	if err != nil || !created {
		t.Fatalf("LoadSecret = %v, created %v", err, created)
	}
	before, err := os.ReadFile(filepath.Join(dir, SecretFileName))
	if err != nil {
		t.Fatalf("ReadFile: %v", err)
	}

	r, setup, err := LoadRing(dir, "")
	if err != nil {
		t.Fatalf("LoadRing: %v", err)
	}
	if setup != RingMigrated || signingKID(t, r) != MigratedKeyID {
		t.Errorf("LoadRing setup, signing kid = %q, %q, want %q, %q", setup,
			signingKID(t, r), RingMigrated, MigratedKeyID)
	}
	if !bytes.Equal(ringSecret(t, r, MigratedKeyID).bytes(), legacy.bytes()) {
		t.Errorf("k0 differs from secret.key")
	}
	after, err := os.ReadFile(filepath.Join(dir, SecretFileName))
	if err != nil || !bytes.Equal(before, after) {
		t.Errorf("secret.key changed by the migration (%v)", err)
	}

	// A token an old engine minted from secret.key, re-signed with kid k0, still verifies:
	// the key is the same.
	tok := craft(t, legacy, with(hs256Header(), "kid", MigratedKeyID), goodClaims())
	ver, err := NewRingVerifier(r, clock.NewFake(testStart), VerifierOptions{})
	if err != nil {
		t.Fatalf("NewRingVerifier: %v", err)
	}
	if _, err := ver.Verify(tok); err != nil {
		t.Errorf("Verify of a k0 token: %v", err)
	}
}

func TestLoadRingEnvSecret(t *testing.T) {
	env := strings.Repeat("e", MinSecretLen)
	tests := []struct {
		name      string
		env       string
		withFile  bool
		wantErr   error
		wantSetup RingSetup
		wantKIDs  int
	}{
		{"too short", strings.Repeat("e", MinSecretLen-1), false, ErrWeakSecret, "", 0},
		{"padded to look long", "   " + strings.Repeat("e", MinSecretLen-1) + "   ", false,
			ErrWeakSecret, "", 0},
		{"alone, nothing written", env, false, nil, RingMemory, 1},
		{"with a key ring file", env, true, nil, RingLoaded, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			fileKID := ""
			if tt.withFile {
				fileKID = signingKID(t, loadRing(t, dir))
			}
			r, setup, err := LoadRing(dir, tt.env)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("LoadRing error = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				if strings.Contains(err.Error(), strings.TrimSpace(tt.env)) {
					t.Errorf("error %q contains the secret", err)
				}
				return
			}
			if setup != tt.wantSetup || len(r.List()) != tt.wantKIDs {
				t.Errorf("LoadRing setup, keys = %q, %d, want %q, %d", setup,
					len(r.List()), tt.wantSetup, tt.wantKIDs)
			}
			if signingKID(t, r) != EnvKeyID {
				t.Errorf("signing kid = %q, want %q", signingKID(t, r), EnvKeyID)
			}
			got := states(r)
			if fileKID != "" && got[fileKID] != KeyVerify {
				t.Errorf("file's signing key is %q with the env key, want %q",
					got[fileKID], KeyVerify)
			}
			if !tt.withFile {
				if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("data directory touched (stat: %v), want untouched", err)
				}
			}
		})
	}
}

func TestLoadRingRefuses(t *testing.T) {
	secretHex := strings.Repeat("5a", MinSecretLen)
	pubHex := hex.EncodeToString(testEdKey().Public().(ed25519.PublicKey))
	created := `"created":"2025-03-14T15:09:26Z"`
	hsKey := func(kid, state string) string {
		return `{"kid":"` + kid + `","alg":"HS256","state":"` + state + `",` + created +
			`,"secret":"` + secretHex + `"}`
	}
	ring := func(keys ...string) string {
		return `{"version":1,"keys":[` + strings.Join(keys, ",") + `]}`
	}
	tests := []struct {
		name    string
		content string
		mode    fs.FileMode
		wantErr error
	}{
		{"group readable", ring(hsKey("a", "signing")), 0o640, ErrSecretPerms},
		{"world readable", ring(hsKey("a", "signing")), 0o604, ErrSecretPerms},
		{"not json", "kid=" + secretHex, 0o600, ErrKeyRingFormat},
		{"truncated", ring(hsKey("a", "signing"))[:60], 0o600, ErrKeyRingFormat},
		{"data after the ring", ring(hsKey("a", "signing")) + "{}", 0o600,
			ErrKeyRingFormat},
		{"unknown field", `{"version":1,"extra":1,"keys":[` + hsKey("a", "signing") + `]}`,
			0o600, ErrKeyRingFormat},
		{"version 2", strings.Replace(ring(hsKey("a", "signing")), `"version":1`,
			`"version":2`, 1), 0o600, ErrKeyRingFormat},
		{"no keys", ring(), 0o600, ErrKeyRingFormat},
		{"no signing key", ring(hsKey("a", "verify")), 0o600, ErrKeyRingFormat},
		{"two signing keys", ring(hsKey("a", "signing"), hsKey("b", "signing")), 0o600,
			ErrKeyRingFormat},
		{"duplicate kid", ring(hsKey("a", "signing"), hsKey("a", "verify")), 0o600,
			ErrKeyRingFormat},
		{"reserved kid env", ring(hsKey("env", "signing")), 0o600, ErrKeyRingFormat},
		{"kid with a slash", ring(hsKey("a/b", "signing")), 0o600, ErrKeyRingFormat},
		{"unknown state", ring(hsKey("a", "signing"), hsKey("b", "spare")), 0o600,
			ErrKeyRingFormat},
		{"short secret", ring(strings.Replace(hsKey("a", "signing"), secretHex,
			secretHex[:62], 1)), 0o600, ErrKeyRingFormat},
		{"secret not hex", ring(strings.Replace(hsKey("a", "signing"), secretHex,
			"zz"+secretHex[2:], 1)), 0o600, ErrKeyRingFormat},
		{"no created time", ring(strings.Replace(hsKey("a", "signing"), created+",", "",
			1)), 0o600, ErrKeyRingFormat},
		{"EdDSA signing", ring(`{"kid":"p","alg":"EdDSA","state":"signing",` + created +
			`,"public_key":"` + pubHex + `"}`), 0o600, ErrKeyRingFormat},
		{"EdDSA with a secret", ring(hsKey("a", "signing"), `{"kid":"p","alg":"EdDSA",`+
			`"state":"verify",`+created+`,"public_key":"`+pubHex+`","secret":"`+
			secretHex+`"}`), 0o600, ErrKeyRingFormat},
		{"EdDSA small-order key", ring(hsKey("a", "signing"), `{"kid":"p","alg":"EdDSA",`+
			`"state":"verify",`+created+`,"public_key":"01`+strings.Repeat("00", 31)+
			`"}`), 0o600, ErrKeyRingFormat},
		{"RS256 key", ring(hsKey("a", "signing"), strings.Replace(hsKey("b", "verify"),
			"HS256", "RS256", 1)), 0o600, ErrKeyRingFormat},
		{"retired key with material", ring(hsKey("a", "signing"), strings.Replace(
			hsKey("b", "retired"), created, created+`,"retired":"2025-03-15T00:00:00Z"`,
			1)), 0o600, ErrKeyRingFormat},
		{"too large", strings.Repeat(" ", maxRingFileLen+1), 0o600, ErrKeyRingFormat},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, KeyRingFileName)
			writeFileMode(t, path, []byte(tt.content), tt.mode)
			r, _, err := LoadRing(dir, "")
			if !errors.Is(err, tt.wantErr) || r != nil {
				t.Fatalf("LoadRing = %v, %v, want nil, %v", r, err, tt.wantErr)
			}
			msg := err.Error()
			if !strings.Contains(msg, path) {
				t.Errorf("error %q does not name %s", msg, path)
			}
			if strings.Contains(msg, secretHex[:16]) {
				t.Errorf("error %q reveals the secret", msg)
			}
			after, err := os.ReadFile(path)
			if err != nil || string(after) != tt.content {
				t.Errorf("keys.json changed by a refused load (%v)", err)
			}
		})
	}
}

func TestLoadRingRefusesOddPaths(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(tb testing.TB) (dir, env string)
		wantErr error
	}{
		{"no data directory, no env", func(testing.TB) (string, string) { return "", "" },
			ErrNoDataDir},
		{"key ring is a directory", func(tb testing.TB) (string, string) {
			dir := tb.TempDir()
			if err := os.Mkdir(filepath.Join(dir, KeyRingFileName), 0o700); err != nil {
				tb.Fatalf("Mkdir: %v", err)
			}
			return dir, ""
		}, ErrKeyRingFormat},
		{"secret.key to migrate is world readable", func(tb testing.TB) (string, string) {
			dir := tb.TempDir()
			writeFileMode(tb, filepath.Join(dir, SecretFileName),
				[]byte(strings.Repeat("ab", 32)), 0o644)
			return dir, ""
		}, ErrSecretPerms},
		{"secret.key to migrate is short", func(tb testing.TB) (string, string) {
			dir := tb.TempDir()
			writeFileMode(tb, filepath.Join(dir, SecretFileName),
				[]byte(strings.Repeat("ab", 16)), 0o600)
			return dir, ""
		}, ErrWeakSecret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, env := tt.setup(t)
			r, _, err := LoadRing(dir, env)
			if !errors.Is(err, tt.wantErr) || r != nil {
				t.Fatalf("LoadRing = %v, %v, want nil, %v", r, err, tt.wantErr)
			}
			if dir == "" {
				return
			}
			info, err := os.Stat(filepath.Join(dir, KeyRingFileName))
			if err == nil && !info.IsDir() {
				t.Errorf("keys.json written although the load failed")
			}
		})
	}
}

func TestRingRotateAndRetire(t *testing.T) {
	dir := t.TempDir()
	r := loadRing(t, dir)
	first := signingKID(t, r)

	second, err := r.Rotate()
	if err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	if second == first || signingKID(t, r) != second {
		t.Fatalf("Rotate = %q, signing %q, want a new kid that signs", second,
			signingKID(t, r))
	}
	if got := states(r); got[first] != KeyVerify || got[second] != KeySigning {
		t.Errorf("states after Rotate = %v, want %s verify, %s signing", got, first, second)
	}
	firstSecret := hex.EncodeToString(ringSecret(t, r, first).bytes())

	// The signing key may go while an older HS256 key can take over.
	if err := r.Retire(second); err != nil {
		t.Fatalf("Retire of the signing key: %v", err)
	}
	if got := states(r); got[first] != KeySigning || got[second] != KeyRetired {
		t.Errorf("states after Retire = %v, want %s signing, %s retired", got, first, second)
	}

	tests := []struct {
		name    string
		kid     string
		wantErr error
	}{
		{"the only signing key", first, ErrLastSigningKey},
		{"a retired key", second, ErrKeyRetired},
		{"an unknown kid", "nope", ErrUnknownKey},
		{"the env key", EnvKeyID, ErrUnknownKey},
		{"an empty kid", "", ErrUnknownKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := r.Retire(tt.kid); !errors.Is(err, tt.wantErr) {
				t.Errorf("Retire(%q) = %v, want %v", tt.kid, err, tt.wantErr)
			}
		})
	}

	third, err := r.Rotate()
	if err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	if err := r.Retire(first); err != nil {
		t.Fatalf("Retire of a verify key: %v", err)
	}
	data, err := os.ReadFile(r.Path())
	if err != nil {
		t.Fatalf("ReadFile: %v", err)
	}
	if strings.Contains(string(data), firstSecret) {
		t.Errorf("keys.json still holds the secret of retired key %s", first)
	}
	var onDisk ringFile
	if err := json.Unmarshal(data, &onDisk); err != nil {
		t.Fatalf("keys.json: %v", err)
	}
	if len(onDisk.Keys) != 3 || onDisk.Keys[0].Retired == nil ||
		onDisk.Keys[2].KID != third || onDisk.Keys[2].State != KeySigning {
		t.Errorf("keys.json = %+v, want 3 keys, %s retired, %s signing", onDisk.Keys,
			first, third)
	}
	if _, err := r.Rotate(); err != nil {
		t.Fatalf("Rotate after retiring: %v", err)
	}
	assertMode(t, r.Path(), 0o600)
}

func TestRingRetireNeverHandsSigningToEdDSA(t *testing.T) {
	r := loadRing(t, t.TempDir())
	pub := testEdKey().Public().(ed25519.PublicKey)
	if err := r.ImportPublic("partner", []byte(hex.EncodeToString(pub))); err != nil {
		t.Fatalf("ImportPublic: %v", err)
	}
	kid := signingKID(t, r)
	if err := r.Retire(kid); !errors.Is(err, ErrLastSigningKey) {
		t.Fatalf("Retire of the only HS256 key = %v, want ErrLastSigningKey", err)
	}
	if got := states(r); got[kid] != KeySigning || got["partner"] != KeyVerify {
		t.Errorf("states after a refused Retire = %v, want %s signing, partner verify",
			got, kid)
	}
}

func TestRingRotateOnFreshDirectory(t *testing.T) {
	tests := []struct {
		name     string
		legacy   bool
		wantKeys int
	}{
		{"nothing there: the new ring's key is the rotation", false, 1},
		{"secret.key there: k0 migrated, then a new key", true, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.legacy {
				if _, _, _, err := LoadSecret(dir, ""); err != nil {
					t.Fatalf("LoadSecret: %v", err)
				}
			}
			env := strings.Repeat("e", MinSecretLen)
			r, setup, err := LoadRing(dir, env)
			if err != nil || setup != RingMemory {
				t.Fatalf("LoadRing = %q, %v, want %q", setup, err, RingMemory)
			}
			kid, err := r.Rotate()
			if err != nil {
				t.Fatalf("Rotate: %v", err)
			}
			disk := loadRing(t, dir)
			if got := len(disk.List()); got != tt.wantKeys || signingKID(t, disk) != kid {
				t.Errorf("keys.json has %d keys signing %q, want %d signing %q", got,
					signingKID(t, disk), tt.wantKeys, kid)
			}
			if signingKID(t, r) != EnvKeyID {
				t.Errorf("with the env key, %q signs, want %q", signingKID(t, r), EnvKeyID)
			}
		})
	}
}

func TestRingImportPublic(t *testing.T) {
	pub := testEdKey().Public().(ed25519.PublicKey)
	identity := append([]byte{1}, make([]byte, 31)...)
	order8, _ := hex.DecodeString(
		"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a")
	tests := []struct {
		name    string
		kid     string
		data    []byte
		wantErr error
	}{
		{"PKIX PEM", "pem", pemPublic(t, pub), nil},
		{"PKIX PEM with blank lines", "pem-ws", append(append([]byte("\n\n"),
			pemPublic(t, pub)...), "\n\n"...), nil},
		{"hex", "hex", []byte(hex.EncodeToString(pub)), nil},
		{"upper-case hex", "HEX", []byte(strings.ToUpper(hex.EncodeToString(pub))), nil},
		{"base64", "b64", []byte(b64(pub, "std") + "\n"), nil},
		{"base64 raw url", "b64url", []byte(b64(pub, "rawurl")), nil},
		{"RSA public key", "rsa", pemRSAPublic(t), ErrKeyType},
		{"ECDSA public key", "ec", pemECPublic(t), ErrKeyType},
		{"Ed25519 private key", "priv", pemEdPrivate(t), ErrKeyType},
		{"two PEM blocks", "two", append(pemPublic(t, pub), pemPublic(t, pub)...),
			ErrKeyType},
		{"certificate block", "cert", []byte("-----BEGIN CERTIFICATE-----\nAAAA\n" +
			"-----END CERTIFICATE-----\n"), ErrKeyType},
		{"31 bytes", "short", []byte(hex.EncodeToString(pub[:31])), ErrKeyType},
		{"64-byte private key in base64", "long", []byte(b64(testEdKey(), "std")),
			ErrKeyType},
		{"garbage", "junk", []byte("not a key at all"), ErrKeyType},
		{"empty", "empty", nil, ErrKeyType},
		{"identity point", "id", []byte(hex.EncodeToString(identity)), ErrKeyType},
		{"zero point", "zero", make([]byte, 32), ErrKeyType},
		{"order 8 point", "o8", []byte(hex.EncodeToString(order8)), ErrKeyType},
		{"identity, non-canonical (y = p+1)", "noncanon", []byte(
			"ee" + strings.Repeat("ff", 30) + "7f"), ErrKeyType},
		{"kid env", EnvKeyID, []byte(hex.EncodeToString(pub)), ErrInvalidKeyID},
		{"kid with a space", "a b", []byte(hex.EncodeToString(pub)), ErrInvalidKeyID},
		{"kid too long", strings.Repeat("k", MaxKeyIDLen+1),
			[]byte(hex.EncodeToString(pub)), ErrInvalidKeyID},
		{"kid already used", "taken", []byte(hex.EncodeToString(pub)), ErrKeyExists},
		{"kid of a retired key", "gone", []byte(hex.EncodeToString(pub)), ErrKeyExists},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := loadRing(t, t.TempDir())
			if err := r.ImportPublic("taken", []byte(hex.EncodeToString(pub))); err != nil {
				t.Fatalf("ImportPublic(taken): %v", err)
			}
			if err := r.ImportPublic("gone", []byte(hex.EncodeToString(pub))); err != nil {
				t.Fatalf("ImportPublic(gone): %v", err)
			}
			if err := r.Retire("gone"); err != nil {
				t.Fatalf("Retire(gone): %v", err)
			}
			before := len(r.List())

			err := r.ImportPublic(tt.kid, tt.data)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("ImportPublic = %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr != nil {
				if len(r.List()) != before {
					t.Errorf("a refused import changed the ring")
				}
				return
			}
			k := r.lookup(tt.kid)
			if k == nil || k.info.Alg != AlgEdDSA || k.info.State != KeyVerify ||
				!k.public.Equal(pub) {
				t.Errorf("imported key = %+v, want a verify EdDSA key equal to pub", k)
			}
			if again := loadRing(t, filepath.Dir(r.Path())); again.lookup(tt.kid) == nil {
				t.Errorf("imported key not in keys.json")
			}
		})
	}
}

func TestRingListHoldsNoSecrets(t *testing.T) {
	env := "env-secret-of-the-list-test-0123456789-abc"
	dir := t.TempDir()
	loadRing(t, dir)
	r, _, err := LoadRing(dir, env)
	if err != nil {
		t.Fatalf("LoadRing: %v", err)
	}
	if _, err := r.Rotate(); err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	var secrets []Secret
	for _, k := range r.List() {
		secrets = append(secrets, ringSecret(t, r, k.KID))
	}
	list, err := json.Marshal(r.List())
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	outs := []string{string(list), fmt.Sprintf("%+v", r.List()), fmt.Sprintf("%+v", r),
		fmt.Sprintf("%#v", r), fmt.Sprintf("%+v", r.set.Load())}
	for _, out := range outs {
		for _, s := range secrets {
			assertNoSecret(t, s, out)
		}
	}
}

func TestRingReloadSeesEditsOfAnotherProcess(t *testing.T) {
	dir := t.TempDir()
	engine := loadRing(t, dir) // what the engine holds
	cli := loadRing(t, dir)    // what an `engine keys` command holds
	ver, err := NewRingVerifier(engine, nil, VerifierOptions{})
	if err != nil {
		t.Fatalf("NewRingVerifier: %v", err)
	}

	changed, err := engine.Reload()
	if err != nil || changed {
		t.Fatalf("Reload of an unchanged file = %v, %v, want false, nil", changed, err)
	}
	kid, err := cli.Rotate()
	if err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	iss, err := NewRingIssuer(cli, nil, IssuerOptions{})
	if err != nil {
		t.Fatalf("NewRingIssuer: %v", err)
	}
	tok, _, err := iss.Issue("client-1", []Perm{PermRead}, time.Hour)
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	if _, err := ver.Verify(tok); !isReason(err, ReasonUnknownKey) {
		t.Fatalf("Verify before Reload = %v, want unknown_key", err)
	}

	changed, err = engine.Reload()
	if err != nil || !changed {
		t.Fatalf("Reload after Rotate = %v, %v, want true, nil", changed, err)
	}
	if c, err := ver.Verify(tok); err != nil || c.KeyID != kid {
		t.Fatalf("Verify after Reload = %+v, %v, want kid %s", c, err, kid)
	}
	if changed, err := engine.Reload(); err != nil || changed {
		t.Errorf("second Reload = %v, %v, want false, nil", changed, err)
	}

	// A broken file leaves the keys in use alone.
	if err := os.Chmod(engine.Path(), 0o644); err != nil {
		t.Fatalf("Chmod: %v", err)
	}
	if err := os.Chtimes(engine.Path(), time.Now(), time.Now().Add(time.Hour)); err != nil {
		t.Fatalf("Chtimes: %v", err)
	}
	if changed, err := engine.Reload(); !errors.Is(err, ErrSecretPerms) || changed {
		t.Errorf("Reload of a world-readable file = %v, %v, want false, ErrSecretPerms",
			changed, err)
	}
	if _, err := ver.Verify(tok); err != nil {
		t.Errorf("Verify after a failed Reload: %v", err)
	}
	if err := os.Remove(engine.Path()); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	if _, err := engine.Reload(); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Reload of a deleted file = %v, want fs.ErrNotExist", err)
	}
	if _, err := ver.Verify(tok); err != nil {
		t.Errorf("Verify after the file went: %v", err)
	}
}

func TestRingReloadEnvOnlyPicksUpNewFile(t *testing.T) {
	dir := t.TempDir()
	env := strings.Repeat("e", MinSecretLen)
	engine, _, err := LoadRing(dir, env)
	if err != nil {
		t.Fatalf("LoadRing: %v", err)
	}
	if changed, err := engine.Reload(); err != nil || changed {
		t.Fatalf("Reload without a file = %v, %v, want false, nil", changed, err)
	}
	pub := testEdKey().Public().(ed25519.PublicKey)
	cli := loadRing(t, dir)
	if err := cli.ImportPublic("partner", []byte(hex.EncodeToString(pub))); err != nil {
		t.Fatalf("ImportPublic: %v", err)
	}
	if changed, err := engine.Reload(); err != nil || !changed {
		t.Fatalf("Reload after the file appeared = %v, %v, want true, nil", changed, err)
	}
	if engine.lookup("partner") == nil || signingKID(t, engine) != EnvKeyID {
		t.Errorf("after Reload: partner %v, signing %q, want partner and env",
			engine.lookup("partner") != nil, signingKID(t, engine))
	}
}

func TestRingConcurrentEditors(t *testing.T) {
	const editors = 8
	dir := filepath.Join(t.TempDir(), "data")
	kids := make([]string, editors)
	errs := make([]error, editors)
	var wg sync.WaitGroup
	for i := range editors {
		wg.Go(func() {
			// Each editor has its own Ring, as separate processes would: only the file
			// lock orders them.
			r, _, err := LoadRing(dir, "")
			if err == nil {
				kids[i], err = r.Rotate()
			}
			errs[i] = err
		})
	}
	wg.Wait()

	r := loadRing(t, dir)
	for i, err := range errs {
		if err != nil {
			t.Fatalf("editor %d: %v", i, err)
		}
		if r.lookup(kids[i]) == nil {
			t.Errorf("editor %d's key %s was lost", i, kids[i])
		}
	}
	signing := 0
	for _, k := range r.List() {
		if k.State == KeySigning {
			signing++
		}
	}
	if signing != 1 {
		t.Errorf("%d signing keys after concurrent rotations, want 1", signing)
	}
}

func TestRingVerifyWhileReloading(t *testing.T) {
	dir := t.TempDir()
	engine := loadRing(t, dir)
	cli := loadRing(t, dir)
	iss, ver, _ := ringPair(t, engine, VerifierOptions{})
	tok, _, err := iss.Issue("client-1", []Perm{PermRead}, time.Hour)
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}

	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := ver.Verify(tok); err != nil {
					t.Errorf("Verify during reloads: %v", err)
					return
				}
			}
		})
	}
	for range 20 {
		if _, err := cli.Rotate(); err != nil {
			t.Errorf("Rotate: %v", err)
		}
		if _, err := engine.Reload(); err != nil {
			t.Errorf("Reload: %v", err)
		}
	}
	close(stop)
	wg.Wait()
}
