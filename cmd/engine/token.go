package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/whalecast/whalecast/internal/auth"
	"github.com/whalecast/whalecast/internal/clock"
	"github.com/whalecast/whalecast/system"
)

// token prints a JWT signed with the engine's secret: WEBSOCKET_SECRET_KEY when set, else
// DATA/secret.key (created if missing, exactly as `engine serve` would).
func token(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	client := fs.String("client", "", "client id, the token's sub claim (required)")
	perm := fs.String("perm", "read", "permissions, comma-separated: read, write, admin")
	ttl := fs.Duration("ttl", 0, "lifetime (default "+envTokenExpiry+" hours, else 24h)")
	data := fs.String("data", system.DefaultDataDir, "data directory holding secret.key")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: engine token --client ID [--perm read,write] [--ttl 24h] "+
			"[--data DIR]\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
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
	if *ttl == 0 {
		if *ttl, err = envHours(envTokenExpiry, system.DefaultTokenExpiry); err != nil {
			return err
		}
	}

	secret, path, created, err := auth.LoadSecret(*data, os.Getenv(envSecret))
	if err != nil {
		return fmt.Errorf("load secret: %w", err)
	}
	if created {
		fmt.Fprintf(stderr, "created token secret %s\n", path)
	}
	issuer, err := auth.NewIssuer(secret, clock.Real{})
	if err != nil {
		return err
	}
	tok, claims, err := issuer.Issue(*client, perms, *ttl)
	if err != nil {
		return fmt.Errorf("issue token: %w", err)
	}
	fmt.Fprintln(stdout, tok)
	fmt.Fprintf(stderr, "token for %q, permissions %s, expires %s\n", claims.Subject, *perm,
		claims.ExpiresAt.UTC().Format(time.RFC3339))
	return nil
}
