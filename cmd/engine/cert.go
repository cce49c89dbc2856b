package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Limits of `engine cert`.
const (
	// maxCertDays is the longest validity `engine cert` writes: what browsers accept.
	maxCertDays = 397
	// certFileName and keyFileName are the files `engine cert` writes in --out.
	certFileName = "cert.pem"
	keyFileName  = "key.pem"
	// maxHostLen bounds one --host name.
	maxHostLen = 253
)

// cert writes a self-signed ECDSA P-256 certificate and its key for development, and prints
// their paths and the serve flags that use them. It never overwrites a file.
func cert(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("cert", flag.ContinueOnError)
	fs.SetOutput(stderr)
	hosts := fs.String("host", "127.0.0.1,localhost",
		"comma-separated IP addresses and DNS names the certificate is for")
	out := fs.String("out", "./data/tls", "directory for cert.pem and key.pem (created 0700)")
	days := fs.Int("days", 30, fmt.Sprintf("validity in days, 1 to %d", maxCertDays))
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: engine cert [--host 127.0.0.1,localhost] [--out DIR] "+
			"[--days 30]\n\nWrites a self-signed certificate for development: clients must "+
			"trust cert.pem itself.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return usageError(err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	if *days < 1 || *days > maxCertDays {
		return fmt.Errorf("%w: --days %d: want 1 to %d", errUsage, *days, maxCertDays)
	}
	tmpl, err := certTemplate(*hosts, time.Now(), *days)
	if err != nil {
		return err
	}

	certPEM, keyPEM, err := selfSign(tmpl)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", *out, err)
	}
	certPath, keyPath := filepath.Join(*out, certFileName), filepath.Join(*out, keyFileName)
	for _, p := range []string{certPath, keyPath} {
		if _, err := os.Lstat(p); err == nil {
			return fmt.Errorf("%s exists: remove it or choose another --out", p)
		}
	}
	if err := writeNew(keyPath, keyPEM, 0o600); err != nil {
		return err
	}
	if err := writeNew(certPath, certPEM, 0o644); err != nil {
		_ = os.Remove(keyPath)
		return err
	}

	fmt.Fprintln(stdout, certPath)
	fmt.Fprintln(stdout, keyPath)
	fmt.Fprintf(stderr, "self-signed certificate for %s, valid %d days (development only)\n"+
		"serve with:  engine serve --tls-cert %s --tls-key %s\n"+
		"clients trust %s, e.g. curl --cacert %s https://HOST:PORT/healthz\n",
		certHosts(tmpl), *days, certPath, keyPath, certPath, certPath)
	return nil
}

// certTemplate returns the certificate of hosts, valid from a minute before now for days.
func certTemplate(hosts string, now time.Time, days int) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, fmt.Errorf("certificate serial: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		NotBefore:             now.Add(-time.Minute).UTC(),
		NotAfter:              now.Add(time.Duration(days) * 24 * time.Hour).UTC(),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	for h := range strings.SplitSeq(hosts, ",") {
		h = strings.TrimSpace(h)
		switch {
		case h == "":
			continue
		case net.ParseIP(h) != nil:
			tmpl.IPAddresses = append(tmpl.IPAddresses, net.ParseIP(h))
		case validHostName(h):
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		default:
			return nil, fmt.Errorf("%w: --host %.64q is neither an IP address nor a DNS name",
				errUsage, h)
		}
	}
	if len(tmpl.IPAddresses)+len(tmpl.DNSNames) == 0 {
		return nil, fmt.Errorf("%w: --host names no host", errUsage)
	}
	tmpl.Subject = pkix.Name{Organization: []string{"Whalecast development"}}
	if len(tmpl.DNSNames) > 0 {
		tmpl.Subject.CommonName = tmpl.DNSNames[0]
	} else {
		tmpl.Subject.CommonName = tmpl.IPAddresses[0].String()
	}
	return tmpl, nil
}

// certHosts lists the names and addresses of a certificate, comma-separated.
func certHosts(c *x509.Certificate) string {
	names := slices.Clone(c.DNSNames)
	for _, ip := range c.IPAddresses {
		names = append(names, ip.String())
	}
	return strings.Join(names, ",")
}

// validHostName reports whether h is a DNS name: dot-separated labels of letters, digits
// and hyphens, a leading "*." allowed.
func validHostName(h string) bool {
	h = strings.TrimPrefix(h, "*.")
	if h == "" || len(h) > maxHostLen {
		return false
	}
	for label := range strings.SplitSeq(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
				c == '-') {
				return false
			}
		}
	}
	return true
}

// selfSign makes a P-256 key, signs tmpl with it and returns both in PEM.
func selfSign(tmpl *x509.Certificate) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate key: %w", err)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("create certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("encode key: %w", err)
	}
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	clear(keyDER)
	return certPEM, keyPEM, nil
}

// writeNew creates path with mode and writes data; it fails if path exists.
func writeNew(path string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	_, err = f.Write(data)
	err = errors.Join(err, f.Sync(), f.Close())
	if err != nil {
		_ = os.Remove(path)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
