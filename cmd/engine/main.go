// Command engine runs Whalecast: `engine serve` (the default) runs the engine, `engine token`
// mints (and revokes) client tokens, `engine keys` manages the token keys, `engine apikey`
// the REST API keys, and `engine cert` writes a development TLS pair. Run `engine help` for
// the list.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/whalecast/whalecast/system"
)

const usage = `Whalecast watches Bitcoin transactions for whales and pushes alerts to clients.

Usage:
  engine [serve] [flags]                  run the engine (the default command)
  engine token [flags]                    print a signed client token (JWT)
  engine keys rotate [--data DIR]         add a new signing key, print its kid
  engine keys retire KID [--data DIR]     stop the key KID from verifying, for good
  engine keys import-public --kid K FILE [--data DIR]
                                          add an Ed25519 public key that only verifies
  engine keys list [--data DIR]           show each key's kid, alg, state and created time
  engine token revoke --jti J [--expires-at T] | --client C
                                          revoke a token, or every token of a client
  engine apikey create --client ID --perm read[,write,admin]
                                          print a new API key for the REST API, once
  engine apikey list                      show each API key's id, client, perms and state
  engine apikey revoke ID                 revoke the API key ID
  engine cert [--host 127.0.0.1,localhost] [--out DIR] [--days 30]
                                          write a self-signed TLS pair for development
  engine bench --url ws://… --clients N --duration D (--secret-file F | --data DIR | …)
                                          load-test a running engine (or bench/floor)
  engine help                             show this text

token revoke and apikey talk to the running engine's admin API: --url (default
http://127.0.0.1:8765) and an admin token in $WHALECAST_ADMIN_TOKEN (or --admin-token).
With --data DIR they change the store of a stopped engine instead.

Run "engine serve --help", "engine token --help", "engine token revoke --help",
"engine keys help", "engine apikey help", "engine cert --help" or "engine bench --help"
for details.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run dispatches a command line and returns the process exit code: 0 on success, 2 for a
// usage error, 1 for any other failure.
func run(args []string, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "serve":
		err = serve(args, stderr)
	case "token":
		err = token(args, stdout, stderr)
	case "keys":
		err = keys(args, stdout, stderr)
	case "apikey":
		err = apikey(args, stdout, stderr)
	case "cert":
		err = cert(args, stdout, stderr)
	case "bench":
		err = bench(args, stdout, stderr)
	case "help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "engine: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage), errors.Is(err, system.ErrConfig):
		fmt.Fprintf(stderr, "engine %s: %v\n", cmd, err)
		return 2
	default:
		fmt.Fprintf(stderr, "engine %s: %v\n", cmd, err)
		return 1
	}
}

// errUsage marks errors in the command line itself.
var errUsage = errors.New("usage")

// usageError marks a flag parsing error as a usage error; --help stays flag.ErrHelp.
func usageError(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return err
	}
	return fmt.Errorf("%w: %v", errUsage, err)
}
