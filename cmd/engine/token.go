package main

import (
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/whalecast/whalecast/internal/auth"
	"github.com/whalecast/whalecast/internal/clock"
	"github.com/whalecast/whalecast/system"
	"github.com/whalecast/whalecast/transport"
)

// token prints a JWT signed with the signing key of the engine's key ring, its kid in the
// header: kid env (WEBSOCKET_SECRET_KEY) when that is set, else the signing key of
// DATA/keys.json (created if missing, exactly as `engine serve` would). The lifetime may not
// exceed the maximum every engine accepts.
func token(args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "revoke" {
		return tokenRevoke(args[1:], stderr)
	}
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	client := fs.String("client", "", "client id, the token's sub claim (required)")
	perm := fs.String("perm", "read", "permissions, comma-separated: read, write, admin")
	ttl := fs.Duration("ttl", 0, "lifetime (default "+envTokenExpiry+" hours, else 24h; "+
		"at most "+auth.DefaultMaxLifetime.String()+")")
	data := fs.String("data", system.DefaultDataDir, "data directory holding keys.json")
	iss := fs.String("token-issuer", "", "iss claim: the engine's --token-issuer, if set")
	aud := fs.String("token-audience", "", "aud claim: the engine's --token-audience, if set")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: engine token --client ID [--perm read,write] [--ttl 24h] "+
			"[--data DIR]\n       engine token revoke (--jti J [--expires-at T] | "+
			"--client C) [admin flags]\n\nFlags:\n")
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
	issuer, err := auth.NewRingIssuer(ring, clock.Real{}, auth.IssuerOptions{Issuer: *iss,
		Audience: *aud})
	if err != nil {
		return err
	}
	tok, claims, err := issuer.Issue(*client, perms, *ttl)
	if err != nil {
		return fmt.Errorf("issue token: %w", err)
	}
	fmt.Fprintln(stdout, tok)
	fmt.Fprintf(stderr, "token for %q, key %s, jti %s, permissions %s, expires %s\n",
		claims.Subject, claims.KeyID, claims.ID, *perm,
		claims.ExpiresAt.UTC().Format(time.RFC3339))
	return nil
}

const tokenRevokeUsage = `Usage:
  engine token revoke --jti J [--expires-at RFC3339] [admin flags]
                                    revoke one token; kept until it expires (--expires-at)
  engine token revoke --client C [admin flags]
                                    revoke every token of client C issued until now

Live sessions holding a revoked token are closed (4003) within a second. The command talks
to the running engine's admin API (--url, and an admin token in $` + envAdminToken + `);
with --data DIR it changes the store of a stopped engine instead.
`

// tokenRevoke runs `engine token revoke`.
func tokenRevoke(args []string, stderr io.Writer) error {
	fs, af := adminFlagSet("token revoke", tokenRevokeUsage, stderr)
	jti := fs.String("jti", "", "jti of the token to revoke")
	expires := fs.String("expires-at", "", "when that token expires, RFC 3339 (optional)")
	client := fs.String("client", "", "client whose tokens to revoke")
	if _, err := parseInterspersed(fs, args, 0); err != nil {
		return err
	}
	req := transport.RevokeRequest{JTI: *jti, Client: *client}
	if *expires != "" {
		t, err := time.Parse(time.RFC3339, *expires)
		if err != nil {
			return fmt.Errorf("%w: --expires-at %.40q: want RFC 3339 such as "+
				"2026-12-31T23:59:59Z", errUsage, *expires)
		}
		req.ExpiresAt = t
	}
	if _, _, err := req.Check(time.Now()); err != nil {
		fs.Usage()
		return fmt.Errorf("%w: %v", errUsage, err)
	}

	return withAdmin(af, func(api adminAPI) error {
		rev, err := api.revoke(req)
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "revoked %s %s, kept until %s\n", rev.Kind, rev.Value,
			rev.Until.UTC().Format(time.RFC3339))
		return nil
	})
}
