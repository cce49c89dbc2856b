package transport

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// writePair writes a self-signed pair valid until notAfter into dir, the key with keyMode.
func writePair(tb testing.TB, dir, name string, notAfter time.Time, keyMode os.FileMode) (
	certFile, keyFile string) {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1),
		Subject:   pkix.Name{CommonName: "localhost"},
		NotBefore: notAfter.Add(-48 * time.Hour), NotAfter: notAfter,
		DNSNames: []string{"localhost"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		tb.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	if err := os.WriteFile(certFile, certPEM, 0o644); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(keyFile, keyPEM, keyMode); err != nil {
		tb.Fatal(err)
	}
	if err := os.Chmod(keyFile, keyMode); err != nil {
		tb.Fatal(err)
	}
	return certFile, keyFile
}

func TestLoadTLS(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	dir := t.TempDir()
	goodCert, goodKey := writePair(t, dir, "good", now.Add(24*time.Hour), 0o600)
	otherCert, _ := writePair(t, dir, "other", now.Add(24*time.Hour), 0o600)
	_, openKey := writePair(t, dir, "open", now.Add(24*time.Hour), 0o644)
	oldCert, oldKey := writePair(t, dir, "old", now.Add(-time.Hour), 0o600)

	tests := []struct {
		name      string
		cert, key string
		wantErr   bool
		unixOnly  bool
	}{
		{name: "good pair", cert: goodCert, key: goodKey},
		{name: "key of another certificate", cert: otherCert, key: goodKey, wantErr: true},
		{name: "key readable by others", cert: goodCert, key: openKey, wantErr: true,
			unixOnly: true},
		{name: "expired certificate", cert: oldCert, key: oldKey, wantErr: true},
		{name: "missing key", cert: goodCert, key: filepath.Join(dir, "none"), wantErr: true},
		{name: "certificate is the key", cert: goodKey, key: goodKey, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.unixOnly && runtime.GOOS == "windows" {
				t.Skip("file modes are not checked on Windows")
			}
			cfg, err := LoadTLS(tt.cert, tt.key, now)
			if tt.wantErr {
				if err == nil || !errors.Is(err, ErrTLS) {
					t.Fatalf("LoadTLS: got %v, want an error wrapping ErrTLS", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("LoadTLS: %v", err)
			}
			if cfg.MinVersion != tls.VersionTLS12 || len(cfg.Certificates) != 1 {
				t.Errorf("config: min version %x, %d certificates; want TLS 1.2 and 1",
					cfg.MinVersion, len(cfg.Certificates))
			}
		})
	}
}
