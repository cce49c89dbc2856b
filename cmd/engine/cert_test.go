package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func TestCertCommand(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStderr string
		wantDNS    []string
		wantIPs    []string
		wantDays   int
	}{
		{name: "defaults", wantCode: 0, wantStderr: "--tls-cert",
			wantDNS: []string{"localhost"}, wantIPs: []string{"127.0.0.1"}, wantDays: 30},
		{name: "hosts and days", args: []string{"--host", "::1, engine.test", "--days", "2"},
			wantCode: 0, wantDNS: []string{"engine.test"}, wantIPs: []string{"::1"},
			wantDays: 2},
		{name: "zero days", args: []string{"--days", "0"}, wantCode: 2,
			wantStderr: "--days"},
		{name: "too many days", args: []string{"--days", "398"}, wantCode: 2,
			wantStderr: "--days"},
		{name: "bad host", args: []string{"--host", "bad host!"}, wantCode: 2,
			wantStderr: "--host"},
		{name: "no host", args: []string{"--host", " , "}, wantCode: 2,
			wantStderr: "--host"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "tls")
			code, stdout, stderr := runCmd(t, append([]string{"cert", "--out", out},
				tt.args...)...)
			if code != tt.wantCode {
				t.Fatalf("exit code: got %d, want %d (stderr %q)", code, tt.wantCode, stderr)
			}
			if !strings.Contains(stderr, tt.wantStderr) {
				t.Errorf("stderr: got %q, want it to hold %q", stderr, tt.wantStderr)
			}
			if code != 0 {
				return
			}
			certPath, keyPath := filepath.Join(out, "cert.pem"), filepath.Join(out, "key.pem")
			if got := strings.Fields(stdout); !slices.Equal(got, []string{certPath, keyPath}) {
				t.Errorf("stdout: got %q, want the two paths", stdout)
			}
			info, err := os.Stat(keyPath)
			if err != nil || info.Mode().Perm() != 0o600 {
				t.Errorf("key.pem: got %v %v, want mode 0600", info.Mode(), err)
			}
			c := readCert(t, certPath)
			if !slices.Equal(c.DNSNames, tt.wantDNS) {
				t.Errorf("DNS names: got %v, want %v", c.DNSNames, tt.wantDNS)
			}
			var ips []string
			for _, ip := range c.IPAddresses {
				ips = append(ips, ip.String())
			}
			if !slices.Equal(ips, tt.wantIPs) {
				t.Errorf("IPs: got %v, want %v", ips, tt.wantIPs)
			}
			pub, ok := c.PublicKey.(*ecdsa.PublicKey)
			if !ok || pub.Curve != elliptic.P256() {
				t.Errorf("key: got %T, want ECDSA P-256", c.PublicKey)
			}
			days := c.NotAfter.Sub(time.Now()).Hours() / 24
			if days < float64(tt.wantDays)-0.1 || days > float64(tt.wantDays) {
				t.Errorf("validity: got %.2f days, want %d", days, tt.wantDays)
			}
			if c.IsCA {
				t.Error("the development certificate is a CA")
			}

			code, _, stderr = runCmd(t, "cert", "--out", out)
			if code != 1 || !strings.Contains(stderr, "exists") {
				t.Errorf("second run: got exit %d %q, want 1 and a refusal to overwrite", code,
					stderr)
			}
		})
	}
}

func readCert(tb testing.TB, path string) *x509.Certificate {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		tb.Fatalf("%s: no PEM certificate", path)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	return c
}

func TestServeTLS(t *testing.T) {
	clearEnv(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "tls")
	code, _, stderr := runCmd(t, "cert", "--out", out, "--host", "127.0.0.1")
	if code != 0 {
		t.Fatalf("engine cert: exit %d: %s", code, stderr)
	}
	certPath, keyPath := filepath.Join(out, "cert.pem"), filepath.Join(out, "key.pem")
	pool := x509.NewCertPool()
	pem, err := os.ReadFile(certPath)
	if err != nil || !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("read %s: %v", certPath, err)
	}
	tok := mint(t, dir, "tls-client", "read")
	admin := mint(t, dir, "root", "admin")

	cfg := replayCfg(t, dir)
	cfg.TLSCert, cfg.TLSKey = certPath, keyPath
	re := serveEngine(t, cfg)
	trusted := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}

	tests := []struct {
		name  string
		check func(t *testing.T)
	}{
		{"wss with the certificate's pool", func(t *testing.T) {
			d := websocket.Dialer{TLSClientConfig: trusted, HandshakeTimeout: waitTimeout}
			ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
			defer cancel()
			c, resp, err := d.DialContext(ctx, "wss://"+re.addr+"/ws",
				http.Header{"Authorization": {"Bearer " + tok}})
			if err != nil {
				t.Fatalf("dial wss: %v", err)
			}
			_ = resp.Body.Close()
			defer c.Close()
			if m := readMsg(t, c); m.Type != "auth_success" || m.ClientID != "tls-client" {
				t.Errorf("first message: got %+v, want auth_success", m)
			}
		}},
		{"https with the certificate's pool", func(t *testing.T) {
			if got := doGet(t, tlsClient(trusted), "https://"+re.addr+"/healthz",
				nil); got != 200 {
				t.Errorf("healthz: got %d, want 200", got)
			}
		}},
		{"plain ws is refused", func(t *testing.T) {
			d := websocket.Dialer{HandshakeTimeout: waitTimeout}
			ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
			defer cancel()
			c, resp, err := d.DialContext(ctx, "ws://"+re.addr+"/ws", nil)
			if err == nil {
				_ = c.Close()
				t.Fatal("plain ws connected to a TLS engine")
			}
			if resp != nil {
				_ = resp.Body.Close()
				if resp.StatusCode != http.StatusBadRequest {
					t.Errorf("plain ws: got status %d, want 400", resp.StatusCode)
				}
			}
		}},
		{"a client that does not trust the certificate fails", func(t *testing.T) {
			client := tlsClient(&tls.Config{MinVersion: tls.VersionTLS12})
			ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet,
				"https://"+re.addr+"/healthz", nil)
			if resp, err := client.Do(req); err == nil {
				_ = resp.Body.Close()
				t.Fatal("an untrusting client connected")
			}
		}},
		{"TLS 1.1 is refused", func(t *testing.T) {
			old := trusted.Clone()
			old.MinVersion, old.MaxVersion = tls.VersionTLS10, tls.VersionTLS11
			ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet,
				"https://"+re.addr+"/healthz", nil)
			if resp, err := tlsClient(old).Do(req); err == nil {
				_ = resp.Body.Close()
				t.Fatal("a TLS 1.1 client connected")
			}
		}},
		{"admin commands over https with --cacert", func(t *testing.T) {
			t.Setenv(envAdminToken, admin)
			code, stdout, stderr := runCmd(t, "apikey", "create", "--client", "tls-bot",
				"--url", "https://"+re.addr, "--cacert", certPath)
			if code != 0 || !strings.HasPrefix(stdout, "wck_") {
				t.Fatalf("apikey create over https: exit %d %q: %s", code, stdout, stderr)
			}
			code, _, stderr = runCmd(t, "apikey", "list", "--url", "https://"+re.addr)
			if code != 1 || !strings.Contains(stderr, "certificate") {
				t.Errorf("apikey list without --cacert: exit %d %q, want a certificate error",
					code, stderr)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, tt.check)
	}
}
