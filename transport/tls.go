package transport

import (
	"crypto/tls"
	"fmt"
	"os"
	"runtime"
	"time"
)

// LoadTLS reads a PEM certificate chain and its private key and returns the configuration
// of a server that speaks TLS 1.2 at least, with Go's default cipher suites and curves. It
// refuses, with an error wrapping ErrTLS, a pair that does not match, a certificate that
// has expired at now, and (outside Windows) a key file that users other than its owner may
// read or write.
func LoadTLS(certFile, keyFile string, now time.Time) (*tls.Config, error) {
	if runtime.GOOS != "windows" {
		info, err := os.Stat(keyFile)
		if err != nil {
			return nil, fmt.Errorf("%w: key %s: %w", ErrTLS, keyFile, err)
		}
		if perm := info.Mode().Perm(); perm&0o077 != 0 {
			return nil, fmt.Errorf("%w: key %s has mode %04o: other users may read it; "+
				"chmod 600 it", ErrTLS, keyFile, perm)
		}
	}
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("%w: %s and %s: %w", ErrTLS, certFile, keyFile, err)
	}
	if leaf := pair.Leaf; leaf != nil && !now.Before(leaf.NotAfter) {
		return nil, fmt.Errorf("%w: certificate %s expired at %s", ErrTLS, certFile,
			leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{pair},
	}, nil
}
