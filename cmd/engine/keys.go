package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/whalecast/whalecast/internal/auth"
	"github.com/whalecast/whalecast/system"
)

const keysUsage = `Usage:
  engine keys rotate [--data DIR]                      add a signing key, print its kid
  engine keys retire KID [--data DIR]                  stop the key KID verifying, for good
  engine keys import-public --kid K FILE [--data DIR]  add an Ed25519 public key (verify only)
  engine keys list [--data DIR]                        show kid, alg, state and created time

The keys live in DATA/keys.json (created on first use, from DATA/secret.key if there is
one). A running engine picks up every change within a second. No command prints key
material. FILE holds a PEM "PUBLIC KEY" or the raw 32-byte key in hex or base64.
`

// maxPublicKeyFile bounds how much of an import-public FILE is read.
const maxPublicKeyFile = 64 << 10

// keys runs `engine keys SUBCOMMAND`.
func keys(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, keysUsage)
		return fmt.Errorf("%w: missing keys command", errUsage)
	}
	sub, args := args[0], args[1:]
	switch sub {
	case "rotate":
		return keysRotate(args, stdout, stderr)
	case "retire":
		return keysRetire(args, stderr)
	case "import-public":
		return keysImport(args, stderr)
	case "list":
		return keysList(args, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, keysUsage)
		return nil
	default:
		fmt.Fprint(stderr, keysUsage)
		return fmt.Errorf("%w: unknown keys command %q", errUsage, sub)
	}
}

// keysFlagSet returns the flag set of `engine keys sub` with its --data flag.
func keysFlagSet(sub string, stderr io.Writer) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet("keys "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", system.DefaultDataDir, "data directory holding keys.json")
	fs.Usage = func() {
		fmt.Fprint(stderr, keysUsage+"\nFlags:\n")
		fs.PrintDefaults()
	}
	return fs, data
}

// parseInterspersed parses args with fs, allowing flags after the positional arguments
// (`retire KID --data DIR`), and returns the positional ones, which must number want.
func parseInterspersed(fs *flag.FlagSet, args []string, want int) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, usageError(err)
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if i := len(args) - len(rest); i > 0 && args[i-1] == "--" {
			pos = append(pos, rest...) // everything after "--" is positional
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	if len(pos) != want {
		fs.Usage()
		return nil, fmt.Errorf("%w: want %d argument(s), got %d", errUsage, want, len(pos))
	}
	return pos, nil
}

// openRing loads the key ring of dataDir as `engine serve` would, and says on stderr when
// that created keys.json.
func openRing(dataDir string, stderr io.Writer) (*auth.Ring, error) {
	ring, setup, err := auth.LoadRing(dataDir, os.Getenv(envSecret))
	if err != nil {
		return nil, fmt.Errorf("load key ring: %w", err)
	}
	switch setup {
	case auth.RingCreated:
		fmt.Fprintf(stderr, "created key ring %s\n", ring.Path())
	case auth.RingMigrated:
		fmt.Fprintf(stderr, "created key ring %s from %s (kid %s)\n", ring.Path(),
			auth.SecretFileName, auth.MigratedKeyID)
	}
	return ring, nil
}

// envNote warns that WEBSOCKET_SECRET_KEY, when set, signs instead of the file's key.
func envNote(stderr io.Writer) {
	if os.Getenv(envSecret) != "" {
		fmt.Fprintf(stderr, "note: %s is set, so kid %s signs where it is set; the keys "+
			"of keys.json still verify\n", envSecret, auth.EnvKeyID)
	}
}

func keysRotate(args []string, stdout, stderr io.Writer) error {
	fs, data := keysFlagSet("rotate", stderr)
	if _, err := parseInterspersed(fs, args, 0); err != nil {
		return err
	}
	ring, err := openRing(*data, stderr)
	if err != nil {
		return err
	}
	kid, err := ring.Rotate()
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, kid)
	fmt.Fprintf(stderr, "key %s now signs; older keys keep verifying until retired\n", kid)
	envNote(stderr)
	return nil
}

func keysRetire(args []string, stderr io.Writer) error {
	fs, data := keysFlagSet("retire", stderr)
	pos, err := parseInterspersed(fs, args, 1)
	if err != nil {
		return err
	}
	ring, err := openRing(*data, stderr)
	if err != nil {
		return err
	}
	if err := ring.Retire(pos[0]); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "retired key %s: tokens it signed no longer verify\n", pos[0])
	return nil
}

func keysImport(args []string, stderr io.Writer) error {
	fs, data := keysFlagSet("import-public", stderr)
	kid := fs.String("kid", "", "kid the outside issuer puts in its tokens' header (required)")
	pos, err := parseInterspersed(fs, args, 1)
	if err != nil {
		return err
	}
	if *kid == "" {
		fs.Usage()
		return fmt.Errorf("%w: --kid is required", errUsage)
	}
	pem, err := readPublicKeyFile(pos[0])
	if err != nil {
		return err
	}
	ring, err := openRing(*data, stderr)
	if err != nil {
		return err
	}
	if err := ring.ImportPublic(*kid, pem); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "imported Ed25519 public key %s: tokens signed with its private "+
		"key and naming kid %s now verify\n", pos[0], *kid)
	return nil
}

// readPublicKeyFile reads at most maxPublicKeyFile bytes of the regular file path.
func readPublicKeyFile(path string) ([]byte, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("read public key: %w", err)
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("read public key %s: not a regular file", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read public key: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxPublicKeyFile+1))
	if err != nil {
		return nil, fmt.Errorf("read public key %s: %w", path, err)
	}
	if len(data) > maxPublicKeyFile {
		return nil, fmt.Errorf("read public key %s: larger than %d bytes", path,
			maxPublicKeyFile)
	}
	return data, nil
}

func keysList(args []string, stdout, stderr io.Writer) error {
	fs, data := keysFlagSet("list", stderr)
	if _, err := parseInterspersed(fs, args, 0); err != nil {
		return err
	}
	ring, err := openRing(*data, stderr)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "KID\tALG\tSTATE\tCREATED")
	for _, k := range ring.List() {
		created := "-"
		if !k.Created.IsZero() {
			created = k.Created.UTC().Format(time.RFC3339)
		}
		state := string(k.State)
		if k.InMemory {
			state += " (" + envSecret + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", k.KID, k.Alg, state, created)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("list keys: %w", err)
	}
	return nil
}
