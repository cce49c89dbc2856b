package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/whalecast/whalecast/internal/auth"
	"github.com/whalecast/whalecast/system"
	"github.com/whalecast/whalecast/transport"
)

// envAdminToken holds the admin token of the stored-state commands; it is safer than
// --admin-token, which other users may see in the process list.
const envAdminToken = "WHALECAST_ADMIN_TOKEN"

// Limits of the admin client.
const (
	// DefaultAdminURL is where the stored-state commands find a running engine.
	defaultAdminURL = "http://" + system.DefaultAddr
	// adminTimeout bounds one admin call.
	adminTimeout = 30 * time.Second
	// maxAdminAnswer bounds how much of an answer is read.
	maxAdminAnswer = 4 << 20
	// maxCAFile bounds how much of a --cacert file is read.
	maxCAFile = 1 << 20
)

// errEngineRunning is wrapped when --data names a directory a running engine holds.
var errEngineRunning = errors.New("a running engine holds the data directory")

// adminAPI is what the stored-state commands need: a running engine's admin routes or,
// when no engine runs, its store opened directly.
type adminAPI interface {
	revoke(req transport.RevokeRequest) (transport.RevocationInfo, error)
	createAPIKey(req transport.APIKeyRequest) (transport.NewAPIKeyResponse, error)
	apiKeys() ([]transport.APIKeyInfo, error)
	revokeAPIKey(id string) error
	close() error
}

// adminFlags are the flags of every stored-state command.
type adminFlags struct {
	url         string
	token       string
	caCert      string
	data        string
	maxLifetime time.Duration
}

// addAdminFlags adds the flags that choose between the admin API and the store.
func addAdminFlags(fs *flag.FlagSet) *adminFlags {
	f := &adminFlags{}
	fs.StringVar(&f.url, "url", defaultAdminURL,
		"base URL of the running engine (https, or http on a loopback address only)")
	fs.StringVar(&f.token, "admin-token", "",
		"token with the admin permission (default $"+envAdminToken+", which is safer)")
	fs.StringVar(&f.caCert, "cacert", "", "PEM certificate(s) to trust for an https --url")
	fs.StringVar(&f.data, "data", "",
		"open the store of this data directory instead (only when no engine runs on it)")
	fs.DurationVar(&f.maxLifetime, "max-token-lifetime", auth.DefaultMaxLifetime,
		"with --data: the engine's --max-token-lifetime, how long a revocation is kept")
	return f
}

// open returns the store of --data when it was given, else a client of the admin API.
func (f *adminFlags) open() (adminAPI, error) {
	if f.data != "" {
		return openStoreAdmin(f.data, f.maxLifetime)
	}
	token := f.token
	if token == "" {
		token = os.Getenv(envAdminToken)
	}
	if token == "" {
		return nil, fmt.Errorf("%w: an admin token is needed to talk to the engine at %s: "+
			"set %s (or --admin-token); or give --data DIR when no engine runs", errUsage,
			f.url, envAdminToken)
	}
	return newHTTPAdmin(f.url, token, f.caCert)
}

// httpAdmin calls the admin routes of a running engine.
type httpAdmin struct {
	base   string
	token  string
	client *http.Client
}

// newHTTPAdmin checks the base URL and returns a client for it. It refuses plain http to
// anything but a loopback address, where the token would cross the network in clear.
func newHTTPAdmin(base, token, caFile string) (*httpAdmin, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.User != nil || u.RawQuery != "" || u.Fragment != "" || strings.Trim(u.Path, "/") != "" {
		return nil, fmt.Errorf("%w: --url %q: want http(s)://HOST:PORT", errUsage, base)
	}
	if u.Scheme == "http" && !system.IsLoopback(u.Hostname()) {
		return nil, fmt.Errorf("%w: --url %s: the admin token goes in clear over http; "+
			"use https for any host but a loopback address", errUsage, base)
	}
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pool, err := loadCAFile(caFile)
		if err != nil {
			return nil, err
		}
		tlsCfg.RootCAs = pool
	}
	client := &http.Client{
		Timeout:   adminTimeout,
		Transport: &http.Transport{TLSClientConfig: tlsCfg, Proxy: nil},
		// A redirect could carry the token elsewhere: the admin routes never redirect.
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return errors.New("the engine answered with a redirect")
		},
	}
	return &httpAdmin{base: u.Scheme + "://" + u.Host, token: token, client: client}, nil
}

// loadCAFile reads a PEM bundle into a pool.
func loadCAFile(path string) (*x509.CertPool, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--cacert: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxCAFile))
	if err != nil {
		return nil, fmt.Errorf("--cacert %s: %w", path, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("--cacert %s: no PEM certificate in it", path)
	}
	return pool, nil
}

// call sends one admin request and decodes a want answer into out (when not nil).
func (h *httpAdmin) call(method, path string, body any, want int, out any) error {
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("%s %s: encode: %w", method, path, err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, h.base+path, rd)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Header.Set("Authorization", "Bearer "+h.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return h.callError(method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAdminAnswer))
	if err != nil {
		return fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode != want {
		return answerError(method, path, resp.StatusCode, data)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
	}
	return nil
}

// callError explains a call that got no answer; the engine may not run.
func (h *httpAdmin) callError(method, path string, err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return fmt.Errorf("no engine answers at %s (%w): start it, or give --data DIR to "+
			"change the store of a stopped engine", h.base, err)
	}
	return fmt.Errorf("%s %s: %w", method, path, err)
}

// answerError turns an engine's JSON error into a Go error.
func answerError(method, path string, status int, data []byte) error {
	var e struct {
		Error   string `json:"error"`
		Message string `json:"message"`
		Reason  string `json:"reason"`
	}
	_ = json.Unmarshal(data, &e)
	msg := fmt.Sprintf("%s %s: the engine answered %d %s", method, path, status,
		http.StatusText(status))
	if e.Message != "" {
		msg += ": " + e.Message
	}
	if e.Reason != "" {
		msg += " (" + e.Reason + ")"
	}
	switch status {
	case http.StatusUnauthorized:
		msg += "; check the admin token"
	case http.StatusForbidden:
		msg += "; the token needs the admin permission"
	}
	return errors.New(msg)
}

func (h *httpAdmin) revoke(req transport.RevokeRequest) (transport.RevocationInfo, error) {
	var out transport.RevocationInfo
	err := h.call(http.MethodPost, "/api/v1/admin/revocations", req, http.StatusCreated, &out)
	return out, err
}

func (h *httpAdmin) createAPIKey(req transport.APIKeyRequest) (transport.NewAPIKeyResponse,
	error) {
	var out transport.NewAPIKeyResponse
	err := h.call(http.MethodPost, "/api/v1/admin/apikeys", req, http.StatusCreated, &out)
	return out, err
}

func (h *httpAdmin) apiKeys() ([]transport.APIKeyInfo, error) {
	var out transport.APIKeyList
	err := h.call(http.MethodGet, "/api/v1/admin/apikeys", nil, http.StatusOK, &out)
	return out.APIKeys, err
}

func (h *httpAdmin) revokeAPIKey(id string) error {
	return h.call(http.MethodDelete, "/api/v1/admin/apikeys/"+url.PathEscape(id), nil,
		http.StatusNoContent, nil)
}

func (h *httpAdmin) close() error {
	h.client.CloseIdleConnections()
	return nil
}
