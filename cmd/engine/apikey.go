package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/whalecast/whalecast/internal/auth"
	"github.com/whalecast/whalecast/transport"
)

const apikeyUsage = `Usage:
  engine apikey create --client ID --perm read[,write,admin] [admin flags]
                                     print a new API key, once: only its hash is stored
  engine apikey list [admin flags]   show each key's id, client, perms, created, state
  engine apikey revoke ID [admin flags]
                                     revoke the key ID, at once and for good

Clients send the key as the X-API-Key header of REST calls. These commands talk to the
running engine's admin API (--url, and an admin token in $` + envAdminToken + `); with
--data DIR they change the store of a stopped engine instead.
`

// apikey runs `engine apikey SUBCOMMAND`.
func apikey(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, apikeyUsage)
		return fmt.Errorf("%w: missing apikey command", errUsage)
	}
	sub, args := args[0], args[1:]
	switch sub {
	case "create":
		return apikeyCreate(args, stdout, stderr)
	case "list":
		return apikeyList(args, stdout, stderr)
	case "revoke":
		return apikeyRevoke(args, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, apikeyUsage)
		return nil
	default:
		fmt.Fprint(stderr, apikeyUsage)
		return fmt.Errorf("%w: unknown apikey command %q", errUsage, sub)
	}
}

// adminFlagSet returns the flag set of a stored-state command with its admin flags.
func adminFlagSet(name, usage string, stderr io.Writer) (*flag.FlagSet, *adminFlags) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	af := addAdminFlags(fs)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage+"\nFlags:\n")
		fs.PrintDefaults()
	}
	return fs, af
}

// withAdmin opens the admin API of af, runs fn with it and closes it.
func withAdmin(af *adminFlags, fn func(adminAPI) error) error {
	api, err := af.open()
	if err != nil {
		return err
	}
	return errors.Join(fn(api), api.close())
}

func apikeyCreate(args []string, stdout, stderr io.Writer) error {
	fs, af := adminFlagSet("apikey create", apikeyUsage, stderr)
	client := fs.String("client", "", "client the key acts for (required)")
	perm := fs.String("perm", "read", "permissions, comma-separated: read, write, admin")
	if _, err := parseInterspersed(fs, args, 0); err != nil {
		return err
	}
	if *client == "" {
		fs.Usage()
		return fmt.Errorf("%w: --client is required", errUsage)
	}
	perms, err := auth.ParsePerms(*perm)
	if err != nil {
		return fmt.Errorf("%w: --perm: %v", errUsage, err)
	}
	req := transport.APIKeyRequest{Client: *client, Perms: permNames(perms)}
	if _, err := req.Check(); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}

	return withAdmin(af, func(api adminAPI) error {
		key, err := api.createAPIKey(req)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, key.Key)
		fmt.Fprintf(stderr, "API key %s for client %q, permissions %s: shown this once, "+
			"store it now (only its hash is kept)\n", key.ID, key.Client,
			strings.Join(key.Perms, ","))
		return nil
	})
}

func permNames(perms []auth.Perm) []string {
	out := make([]string, len(perms))
	for i, p := range perms {
		out[i] = string(p)
	}
	return out
}

func apikeyList(args []string, stdout, stderr io.Writer) error {
	fs, af := adminFlagSet("apikey list", apikeyUsage, stderr)
	if _, err := parseInterspersed(fs, args, 0); err != nil {
		return err
	}
	return withAdmin(af, func(api adminAPI) error {
		keys, err := api.apiKeys()
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tCLIENT\tPERMS\tCREATED\tSTATE")
		for _, k := range keys {
			state := "live"
			if k.Revoked {
				state = "revoked " + k.RevokedAt.UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", k.ID, k.Client,
				strings.Join(k.Perms, ","), k.Created.UTC().Format(time.RFC3339), state)
		}
		if err := tw.Flush(); err != nil {
			return fmt.Errorf("list api keys: %w", err)
		}
		return nil
	})
}

func apikeyRevoke(args []string, stderr io.Writer) error {
	fs, af := adminFlagSet("apikey revoke", apikeyUsage, stderr)
	pos, err := parseInterspersed(fs, args, 1)
	if err != nil {
		return err
	}
	return withAdmin(af, func(api adminAPI) error {
		if err := api.revokeAPIKey(pos[0]); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "revoked API key %s: it authenticates nothing from now on\n",
			pos[0])
		return nil
	})
}
