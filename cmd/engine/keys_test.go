package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/whalecast/whalecast/internal/auth"
)

// cliResult is what one run of the engine command line gave.
type cliResult struct {
	code   int
	stdout string
	stderr string
}

// runCLI runs the command line args and returns its exit code and output.
func runCLI(tb testing.TB, args ...string) cliResult {
	tb.Helper()
	var stdout, stderr bytes.Buffer
	code := run(args, &stdout, &stderr)
	return cliResult{code, stdout.String(), stderr.String()}
}

// ringSecrets returns every secret keys.json in dir holds now, in hex.
func ringSecrets(tb testing.TB, dir string) []string {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join(dir, auth.KeyRingFileName))
	if err != nil {
		tb.Fatalf("ReadFile: %v", err)
	}
	var f struct {
		Keys []struct {
			Secret string `json:"secret"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		tb.Fatalf("keys.json: %v", err)
	}
	var out []string
	for _, k := range f.Keys {
		if k.Secret != "" {
			out = append(out, k.Secret)
		}
	}
	return out
}

// listRows parses the output of `engine keys list` into kid -> "ALG STATE".
func listRows(tb testing.TB, out string) map[string]string {
	tb.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "KID") {
		tb.Fatalf("list output %q has no header", out)
	}
	rows := map[string]string{}
	for _, line := range lines[1:] {
		f := strings.Fields(line)
		if len(f) < 4 {
			tb.Fatalf("list line %q has %d fields, want 4", line, len(f))
		}
		rows[f[0]] = f[1] + " " + f[2]
	}
	return rows
}

// writeKeyFile writes data to a file in a temporary directory and returns its path.
func writeKeyFile(tb testing.TB, name string, data []byte) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		tb.Fatalf("WriteFile: %v", err)
	}
	return path
}

// pkixPEM returns pub as a PEM "PUBLIC KEY" block.
func pkixPEM(tb testing.TB, pub any) []byte {
	tb.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		tb.Fatalf("MarshalPKIXPublicKey: %v", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

func TestKeysCommands(t *testing.T) {
	t.Setenv(envSecret, "")
	dir := filepath.Join(t.TempDir(), "data")
	edPub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatalf("GenerateKey: %v", err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatalf("rsa.GenerateKey: %v", err)
	}
	edFile := writeKeyFile(t, "partner.pem", pkixPEM(t, edPub))
	rsaFile := writeKeyFile(t, "rsa.pem", pkixPEM(t, &rsaKey.PublicKey))

	// kids remembers kids by name as the steps learn them.
	kids := map[string]string{}
	kidRE := regexp.MustCompile(`^[0-9a-f]{8}\n$`)
	var outputs []string
	var secrets []string

	steps := []struct {
		name       string
		args       func() []string
		wantCode   int
		wantStderr string
		check      func(t *testing.T, r cliResult)
	}{
		{"list creates the ring", func() []string {
			return []string{"keys", "list", "--data", dir}
		}, 0, "created key ring", func(t *testing.T, r cliResult) {
			rows := listRows(t, r.stdout)
			if len(rows) != 1 {
				t.Fatalf("list shows %d keys, want 1", len(rows))
			}
			for kid, row := range rows {
				kids["first"] = kid
				if row != "HS256 signing" {
					t.Errorf("first key %s is %q, want HS256 signing", kid, row)
				}
			}
		}},
		{"rotate prints only the new kid", func() []string {
			return []string{"keys", "rotate", "--data", dir}
		}, 0, "now signs", func(t *testing.T, r cliResult) {
			if !kidRE.MatchString(r.stdout) {
				t.Fatalf("rotate printed %q, want a kid and a newline", r.stdout)
			}
			kids["second"] = strings.TrimSpace(r.stdout)
		}},
		{"list after rotate", func() []string {
			return []string{"keys", "list", "--data", dir}
		}, 0, "", func(t *testing.T, r cliResult) {
			rows := listRows(t, r.stdout)
			if rows[kids["first"]] != "HS256 verify" ||
				rows[kids["second"]] != "HS256 signing" {
				t.Errorf("list = %v, want first verify, second signing", rows)
			}
		}},
		{"token signs with the new key", func() []string {
			return []string{"token", "--client", "ops", "--perm", "read,admin", "--data", dir}
		}, 0, "key ", func(t *testing.T, r cliResult) {
			tok := strings.TrimSpace(r.stdout)
			hdr := tokenHeader(t, tok)
			if hdr["kid"] != kids["second"] || hdr["alg"] != "HS256" {
				t.Errorf("token header = %v, want HS256 and kid %s", hdr, kids["second"])
			}
			ring, _, err := auth.LoadRing(dir, "")
			if err != nil {
				t.Fatalf("LoadRing: %v", err)
			}
			ver, err := auth.NewRingVerifier(ring, nil, auth.VerifierOptions{})
			if err != nil {
				t.Fatalf("NewRingVerifier: %v", err)
			}
			if c, err := ver.Verify(tok); err != nil || c.Subject != "ops" {
				t.Errorf("Verify = %+v, %v, want sub ops", c, err)
			}
		}},
		{"token over the maximum lifetime", func() []string {
			return []string{"token", "--client", "ops", "--ttl", "169h", "--data", dir}
		}, 2, "over the maximum", nil},
		{"token at the maximum lifetime", func() []string {
			return []string{"token", "--client", "ops", "--ttl", "168h", "--data", dir}
		}, 0, "", nil},
		{"import-public with flags after the file", func() []string {
			return []string{"keys", "import-public", "--kid", "partner", edFile, "--data", dir}
		}, 0, "imported", nil},
		{"import-public of a used kid", func() []string {
			return []string{"keys", "import-public", "--data", dir, "--kid", "partner", edFile}
		}, 1, "already in use", nil},
		{"import-public of an RSA key", func() []string {
			return []string{"keys", "import-public", "--data", dir, "--kid", "rsa", rsaFile}
		}, 1, "Ed25519", nil},
		{"import-public without --kid", func() []string {
			return []string{"keys", "import-public", "--data", dir, edFile}
		}, 2, "--kid is required", nil},
		{"import-public without a file", func() []string {
			return []string{"keys", "import-public", "--data", dir, "--kid", "x"}
		}, 2, "want 1 argument", nil},
		{"import-public of a missing file", func() []string {
			return []string{"keys", "import-public", "--data", dir, "--kid", "x",
				filepath.Join(dir, "nope.pem")}
		}, 1, "no such file", nil},
		{"retire the old key, flag after the kid", func() []string {
			return []string{"keys", "retire", kids["first"], "--data", dir}
		}, 0, "retired key", nil},
		{"retire it again", func() []string {
			return []string{"keys", "retire", "--data", dir, kids["first"]}
		}, 1, "already retired", nil},
		{"retire the only signing key", func() []string {
			return []string{"keys", "retire", "--data", dir, kids["second"]}
		}, 1, "only signing key", nil},
		{"retire an unknown kid", func() []string {
			return []string{"keys", "retire", "--data", dir, "nope"}
		}, 1, "unknown key", nil},
		{"retire without a kid", func() []string {
			return []string{"keys", "retire", "--data", dir}
		}, 2, "want 1 argument", nil},
		{"list after retire and import", func() []string {
			return []string{"keys", "list", "--data", dir}
		}, 0, "", func(t *testing.T, r cliResult) {
			rows := listRows(t, r.stdout)
			want := map[string]string{
				kids["first"]:  "HS256 retired",
				kids["second"]: "HS256 signing",
				"partner":      "EdDSA verify",
			}
			if len(rows) != len(want) {
				t.Errorf("list = %v, want %v", rows, want)
			}
			for kid, row := range want {
				if rows[kid] != row {
					t.Errorf("list row %s = %q, want %q", kid, rows[kid], row)
				}
			}
		}},
		{"list with an extra argument", func() []string {
			return []string{"keys", "list", "--data", dir, "more"}
		}, 2, "want 0 argument", nil},
		{"rotate with an unknown flag", func() []string {
			return []string{"keys", "rotate", "--data", dir, "--force"}
		}, 2, "not defined", nil},
		{"keys without a command", func() []string { return []string{"keys"} }, 2,
			"missing keys command", nil},
		{"keys with an unknown command", func() []string {
			return []string{"keys", "delete", "--data", dir}
		}, 2, "unknown keys command", nil},
		{"keys help", func() []string { return []string{"keys", "help"} }, 0, "",
			func(t *testing.T, r cliResult) {
				if !strings.Contains(r.stdout, "import-public --kid K FILE") {
					t.Errorf("keys help = %q, want the import-public line", r.stdout)
				}
			}},
		{"engine help shows the keys commands", func() []string {
			return []string{"help"}
		}, 0, "", func(t *testing.T, r cliResult) {
			for _, sub := range []string{"keys rotate", "keys retire KID",
				"keys import-public --kid K FILE", "keys list"} {
				if !strings.Contains(r.stdout, sub) {
					t.Errorf("help lacks %q", sub)
				}
			}
		}},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			r := runCLI(t, s.args()...)
			outputs = append(outputs, r.stdout, r.stderr)
			if _, err := os.Stat(filepath.Join(dir, auth.KeyRingFileName)); err == nil {
				secrets = append(secrets, ringSecrets(t, dir)...)
			}
			if r.code != s.wantCode || !strings.Contains(r.stderr, s.wantStderr) {
				t.Fatalf("exit %d, stderr %q; want exit %d, stderr with %q", r.code,
					r.stderr, s.wantCode, s.wantStderr)
			}
			if s.check != nil {
				s.check(t, r)
			}
		})
	}

	if len(secrets) == 0 {
		t.Fatalf("no secrets collected from keys.json")
	}
	for _, out := range outputs {
		for _, secret := range secrets {
			if strings.Contains(strings.ToLower(out), secret[:16]) {
				t.Errorf("output %q reveals a secret", out)
			}
		}
	}
}

// tokenHeader decodes the JOSE header of tok.
func tokenHeader(tb testing.TB, tok string) map[string]any {
	tb.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		tb.Fatalf("token has %d segments, want 3", len(parts))
	}
	data, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		tb.Fatalf("decode header: %v", err)
	}
	var hdr map[string]any
	if err := json.Unmarshal(data, &hdr); err != nil {
		tb.Fatalf("unmarshal header: %v", err)
	}
	return hdr
}

func TestTokenWithKeyRing(t *testing.T) {
	legacy := strings.Repeat("ab", 32)
	tests := []struct {
		name       string
		env        map[string]string
		legacyFile bool
		args       []string
		wantCode   int
		wantKID    string // "" means any 8 hex digits
		wantStderr string
	}{
		{"fresh data directory", nil, false, nil, 0, "", "created key ring"},
		{"secret.key migrated as k0", nil, true, nil, 0, auth.MigratedKeyID,
			"from secret.key"},
		{"WEBSOCKET_SECRET_KEY signs as env",
			map[string]string{envSecret: strings.Repeat("s", 40)}, false, nil, 0,
			auth.EnvKeyID, ""},
		{"WEBSOCKET_SECRET_KEY too short",
			map[string]string{envSecret: strings.Repeat("s", 31)}, false, nil, 1, "",
			"shorter than 32 bytes"},
		{"TOKEN_EXPIRY_HOURS over the maximum",
			map[string]string{envTokenExpiry: "169"}, false, nil, 2, "",
			envTokenExpiry + " gives a lifetime of 169h"},
		{"--ttl over the maximum", nil, false, []string{"--ttl", "200h"}, 2, "",
			"--ttl gives a lifetime of 200h"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(envSecret, "")
			t.Setenv(envTokenExpiry, "")
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			dir := t.TempDir()
			if tt.legacyFile {
				path := filepath.Join(dir, auth.SecretFileName)
				if err := os.WriteFile(path, []byte(legacy+"\n"), 0o600); err != nil {
					t.Fatalf("WriteFile: %v", err)
				}
			}
			args := append([]string{"token", "--client", "c1", "--data", dir}, tt.args...)
			r := runCLI(t, args...)
			if r.code != tt.wantCode || !strings.Contains(r.stderr, tt.wantStderr) {
				t.Fatalf("exit %d, stderr %q; want exit %d, stderr with %q", r.code,
					r.stderr, tt.wantCode, tt.wantStderr)
			}
			if r.code != 0 {
				if r.stdout != "" {
					t.Errorf("stdout = %q after a failure, want nothing", r.stdout)
				}
				return
			}
			tok := strings.TrimSpace(r.stdout)
			kid, _ := tokenHeader(t, tok)["kid"].(string)
			if tt.wantKID != "" && kid != tt.wantKID ||
				tt.wantKID == "" && !regexp.MustCompile(`^[0-9a-f]{8}$`).MatchString(kid) {
				t.Errorf("token kid = %q, want %q", kid, tt.wantKID)
			}
			if tt.legacyFile {
				parsed, _ := jwt.NewParser().Parse(tok, func(*jwt.Token) (any, error) {
					return hex.DecodeString(legacy)
				})
				if parsed == nil || !parsed.Valid {
					t.Errorf("a k0 token is not signed with secret.key's secret")
				}
			}
			for _, leak := range []string{legacy, strings.Repeat("s", 40)} {
				if strings.Contains(r.stdout+r.stderr, leak) {
					t.Errorf("output reveals a secret")
				}
			}
		})
	}
}
