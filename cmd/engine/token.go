package main

import (
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/whalecast/whalecast/internal/auth"
	"github.com/whalecast/whalecast/internal/clock"
	"github.com/whalecast/whalecast/system"
)

// token prints a JWT signed with the signing key of the engine's key ring, its kid in the
// header: kid env (WEBSOCKET_SECRET_KEY) when that is set, else the signing key of
// DATA/keys.json (created if missing, exactly as `engine serve` would). The lifetime may not
// exceed the maximum every engine accepts.
func token(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	client := fs.String("client", "", "client id, the token's sub claim (required)")
	perm := fs.String("perm", "read", "permissions, comma-separated: read, write, admin")
	ttl := fs.Duration("ttl", 0, "lifetime (default "+envTokenExpiry+" hours, else 24h; "+
		"at most "+auth.DefaultMaxLifetime.String()+")")
	data := fs.String("data", system.DefaultDataDir, "data directory holding keys.json")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: engine token --client ID [--perm read,write] [--ttl 24h] "+
			"[--data DIR]\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return usageError(err)
	}
	if *client == "" {
		fs.Usage()
		return fmt.Errorf("%w: --client is required", errUsage)
	}
	perms, err := auth.ParsePerms(*perm)
	if err != nil {
		return fmt.Errorf("%w: --perm: %v", errUsage, err)
	}
	ttlFrom := "--ttl"
	if *ttl == 0 {
		ttlFrom = envTokenExpiry
		if *ttl, err = envHours(envTokenExpiry, system.DefaultTokenExpiry); err != nil {
			return err
		}
	}
	if *ttl > auth.DefaultMaxLifetime {
		return fmt.Errorf("%w: %s gives a lifetime of %v, over the maximum %v that engines "+
			"accept", errUsage, ttlFrom, *ttl, auth.DefaultMaxLifetime)
	}

	ring, err := openRing(*data, stderr)
	if err != nil {
		return err
	}
	issuer, err := auth.NewRingIssuer(ring, clock.Real{}, auth.IssuerOptions{})
	if err != nil {
		return err
	}
	tok, claims, err := issuer.Issue(*client, perms, *ttl)
	if err != nil {
		return fmt.Errorf("issue token: %w", err)
	}
	fmt.Fprintln(stdout, tok)
	fmt.Fprintf(stderr, "token for %q, key %s, permissions %s, expires %s\n", claims.Subject,
		claims.KeyID, *perm, claims.ExpiresAt.UTC().Format(time.RFC3339))
	return nil
}
