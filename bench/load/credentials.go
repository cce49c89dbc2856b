package load

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/whalecast/whalecast/internal/auth"
)

// Credentials are the tokens of a run. The zero value sends none: for an engine started
// with --no-auth (which still needs an admin token to publish), or for bench/floor, which
// checks nothing.
type Credentials struct {
	// ClientToken returns the token of client i (from 0); nil connects without one.
	ClientToken func(i int) (string, error)
	// AdminToken authenticates the publish calls and the read of the server's stats at the
	// end; empty sends none.
	AdminToken string
}

// tokenMargin is how much longer than the run minted tokens live.
const tokenMargin = 10 * time.Minute

// Minter signs the tokens of a run: one per client (client ids bench-00000, …, with read
// and write), and an admin one (client bench-admin, with admin and read).
type Minter struct {
	issuer *auth.Issuer
	ttl    time.Duration
}

// TokenTTL returns the lifetime of the tokens minted for a run of d: d and a margin, at
// most auth.DefaultMaxLifetime.
func TokenTTL(d time.Duration) time.Duration {
	return min(d+tokenMargin, auth.DefaultMaxLifetime)
}

// NewSecretMinter returns a minter signing with an HS256 secret as the engine holds it in
// WEBSOCKET_SECRET_KEY (its bytes as they are, under kid env), for tokens of lifetime ttl.
func NewSecretMinter(secret []byte, ttl time.Duration) (*Minter, error) {
	s, err := auth.NewSecret(secret)
	if err != nil {
		return nil, fmt.Errorf("load: secret: %w", err)
	}
	iss, err := auth.NewIssuer(s, nil)
	if err != nil {
		return nil, fmt.Errorf("load: secret: %w", err)
	}
	return &Minter{issuer: iss, ttl: ttl}, nil
}

// ReadSecretFile reads an HS256 secret kept in a file (mode 0600, at most 4 KiB, white
// space around it trimmed), as `WEBSOCKET_SECRET_KEY=$(cat FILE)` would hand it to the
// engine.
func ReadSecretFile(path string) ([]byte, error) {
	secret, err := auth.ReadCredentialFile(path, "secret")
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	if len(secret) < auth.MinSecretLen {
		return nil, fmt.Errorf("load: secret %s is %d bytes, the engine wants at least %d",
			path, len(secret), auth.MinSecretLen)
	}
	return secret, nil
}

// NewRingMinter returns a minter signing with the signing key of the engine's key ring,
// dataDir/keys.json, as `engine token` does; envSecret (WEBSOCKET_SECRET_KEY), when set,
// signs instead. It never creates a key ring: a missing keys.json is an error.
func NewRingMinter(dataDir, envSecret string, ttl time.Duration) (*Minter, error) {
	path := filepath.Join(dataDir, auth.KeyRingFileName)
	if _, err := os.Stat(path); envSecret == "" && errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("load: no key ring at %s: start the engine with --data %s "+
			"first", path, dataDir)
	}
	ring, _, err := auth.LoadRing(dataDir, envSecret)
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	iss, err := auth.NewRingIssuer(ring, nil, auth.IssuerOptions{})
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	return &Minter{issuer: iss, ttl: ttl}, nil
}

// Client mints the token of client i.
func (m *Minter) Client(i int) (string, error) {
	tok, _, err := m.issuer.Issue(fmt.Sprintf("bench-%05d", i),
		[]auth.Perm{auth.PermRead, auth.PermWrite}, m.ttl)
	return tok, err
}

// Admin mints the token of the publish calls.
func (m *Minter) Admin() (string, error) {
	tok, _, err := m.issuer.Issue("bench-admin", []auth.Perm{auth.PermAdmin, auth.PermRead},
		m.ttl)
	return tok, err
}

// Credentials returns the run's credentials: a token per client and an admin token.
func (m *Minter) Credentials() (Credentials, error) {
	admin, err := m.Admin()
	if err != nil {
		return Credentials{}, fmt.Errorf("load: mint admin token: %w", err)
	}
	return Credentials{ClientToken: m.Client, AdminToken: admin}, nil
}
