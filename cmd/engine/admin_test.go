package main

import (
	"context"
	"crypto/tls"
	"github.com/whalecast/whalecast/system/systemtest"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/whalecast/whalecast/internal/btcdtest"
	"github.com/whalecast/whalecast/system"
)

// runningEngine is an engine served on 127.0.0.1 port 0 by a test.
type runningEngine struct {
	*systemtest.Engine
	addr string
	eng  *system.Engine
}

// replayCfg returns the configuration of an engine replaying block 277647 into dataDir.
func replayCfg(tb testing.TB, dataDir string) system.Config {
	tb.Helper()
	cfg := system.DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.DataDir = dataDir
	cfg.Source = "replay:" + btcdtest.Block277647(tb)
	cfg.Rate = 0
	return cfg
}

// serveEngine opens, starts and serves an engine with cfg; it stops when the test ends or
// when stop is called.
func serveEngine(tb testing.TB, cfg system.Config) *runningEngine {
	tb.Helper()
	e := systemtest.Start(tb, cfg, slog.New(slog.DiscardHandler))
	return &runningEngine{Engine: e, addr: e.Addr, eng: e.Engine}
}

// stop shuts the engine down once and checks that it stopped cleanly.
func (re *runningEngine) stop(tb testing.TB) {
	tb.Helper()
	re.Stop(tb)
}

// mint runs `engine token` for client with perm on dataDir's key ring.
func mint(tb testing.TB, dataDir, client, perm string) string {
	tb.Helper()
	code, stdout, stderr := runCmd(tb, "token", "--data", dataDir, "--client", client,
		"--perm", perm)
	if code != 0 {
		tb.Fatalf("engine token: exit %d: %s", code, stderr)
	}
	return strings.TrimSpace(stdout)
}

// doGet sends GET url with headers through client and returns the status.
func doGet(tb testing.TB, client *http.Client, url string, headers map[string]string) int {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		tb.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		tb.Fatalf("GET %s: %v", url, err)
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

// closedAddr returns a loopback address this test listened on and closed again: nothing
// answers there.
func closedAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

func TestAdminCommands(t *testing.T) {
	clearEnv(t)
	t.Setenv(envAdminToken, "")
	dir := t.TempDir()
	admin := mint(t, dir, "root", "admin")
	reader := mint(t, dir, "plain", "read")
	victim := mint(t, dir, "victim", "read")
	re := serveEngine(t, replayCfg(t, dir))
	base := "http://" + re.addr
	url := []string{"--url", base}
	var keyID, key string

	steps := []struct {
		name       string
		env        string // WHALECAST_ADMIN_TOKEN
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
		check      func(t *testing.T, stdout, stderr string)
	}{
		{name: "create an api key", env: admin,
			args: append([]string{"apikey", "create", "--client", "bot", "--perm",
				"read"}, url...),
			wantCode: 0, wantStdout: "wck_", wantStderr: "shown this once",
			check: func(t *testing.T, stdout, stderr string) {
				key = strings.TrimSpace(stdout)
				if strings.Contains(stderr, key) {
					t.Errorf("stderr holds the key")
				}
				f := strings.Fields(stderr)
				keyID = f[2]
				if got := doGet(t, http.DefaultClient, base+"/api/v1/alerts",
					map[string]string{"X-API-Key": key}); got != 200 {
					t.Errorf("REST with the new key: got %d, want 200", got)
				}
			}},
		{name: "list api keys", env: admin, args: append([]string{"apikey", "list"}, url...),
			wantCode: 0, wantStdout: "bot",
			check: func(t *testing.T, stdout, _ string) {
				if !strings.Contains(stdout, keyID) || strings.Contains(stdout, key) {
					t.Errorf("list: got %q, want the id %s and no key", stdout, keyID)
				}
			}},
		{name: "revoke the api key", env: admin,
			args:     []string{"apikey", "revoke", "KEYID", "--url", base},
			wantCode: 0, wantStderr: "revoked API key",
			check: func(t *testing.T, _, _ string) {
				if got := doGet(t, http.DefaultClient, base+"/api/v1/alerts",
					map[string]string{"X-API-Key": key}); got != 401 {
					t.Errorf("REST with the revoked key: got %d, want 401", got)
				}
			}},
		{name: "revoke an unknown api key", env: admin,
			args:     append([]string{"apikey", "revoke", "0000000000000000"}, url...),
			wantCode: 1, wantStderr: "404"},
		{name: "revoke a client's tokens", env: admin,
			args:     append([]string{"token", "revoke", "--client", "victim"}, url...),
			wantCode: 0, wantStderr: "revoked client victim",
			check: func(t *testing.T, _, _ string) {
				if got := doGet(t, http.DefaultClient, base+"/api/v1/stats",
					map[string]string{"Authorization": "Bearer " + victim}); got != 401 {
					t.Errorf("REST with the revoked client's token: got %d, want 401", got)
				}
			}},
		{name: "revoke a jti", env: admin,
			args: append([]string{"token", "revoke", "--jti", "0123456789abcdef",
				"--expires-at", "2099-01-01T00:00:00Z"}, url...),
			wantCode: 0, wantStderr: "revoked jti 0123456789abcdef"},
		{name: "jti and client together",
			args: append([]string{"token", "revoke", "--jti", "a", "--client", "b"}, url...),
			env:  admin, wantCode: 2, wantStderr: "either jti or client"},
		{name: "expires-at not RFC 3339", env: admin,
			args: append([]string{"token", "revoke", "--jti", "a", "--expires-at",
				"soon"}, url...),
			wantCode: 2, wantStderr: "--expires-at"},
		{name: "no admin token",
			args:     append([]string{"apikey", "list"}, url...),
			wantCode: 2, wantStderr: envAdminToken},
		{name: "token without the admin permission", env: reader,
			args:     append([]string{"apikey", "list"}, url...),
			wantCode: 1, wantStderr: "admin permission"},
		{name: "admin token flag", args: append([]string{"apikey", "list", "--admin-token",
			admin}, url...), wantCode: 0, wantStdout: "bot"},
		{name: "plain http to another host is refused", env: admin,
			args:     []string{"apikey", "list", "--url", "http://whalecast.example:8765"},
			wantCode: 2, wantStderr: "https"},
		{name: "no engine at the url", env: admin,
			args:     []string{"apikey", "list", "--url", "http://" + closedAddr(t)},
			wantCode: 1, wantStderr: "no engine answers"},
		{name: "data directory of a running engine", env: admin,
			args:     []string{"apikey", "list", "--data", dir},
			wantCode: 1, wantStderr: "use its admin API"},
		{name: "data directory without a store",
			args:     []string{"apikey", "list", "--data", t.TempDir()},
			wantCode: 1, wantStderr: "no store"},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			t.Setenv(envAdminToken, st.env)
			args := make([]string, len(st.args))
			for i, a := range st.args {
				args[i] = strings.ReplaceAll(a, "KEYID", keyID)
			}
			code, stdout, stderr := runCmd(t, args...)
			if code != st.wantCode {
				t.Fatalf("exit code: got %d, want %d (stderr %q)", code, st.wantCode, stderr)
			}
			if !strings.Contains(stdout, st.wantStdout) {
				t.Errorf("stdout: got %q, want it to hold %q", stdout, st.wantStdout)
			}
			if !strings.Contains(stderr, st.wantStderr) {
				t.Errorf("stderr: got %q, want it to hold %q", stderr, st.wantStderr)
			}
			if strings.Contains(stdout+stderr, admin) {
				t.Errorf("output holds the admin token")
			}
			if st.check != nil {
				st.check(t, stdout, stderr)
			}
		})
	}

	// With the engine stopped, --data changes its store, and the next engine applies it.
	re.stop(t)
	t.Setenv(envAdminToken, "")
	if code, _, stderr := runCmd(t, "token", "revoke", "--client", "plain", "--data",
		dir); code != 0 {
		t.Fatalf("token revoke --data: exit %d: %s", code, stderr)
	}
	code, stdout, stderr := runCmd(t, "apikey", "create", "--client", "offline", "--perm",
		"read,write", "--data", dir)
	if code != 0 || !strings.HasPrefix(stdout, "wck_") {
		t.Fatalf("apikey create --data: exit %d stdout %q: %s", code, stdout, stderr)
	}
	offline := strings.TrimSpace(stdout)
	if code, stdout, _ := runCmd(t, "apikey", "list", "--data", dir); code != 0 ||
		!strings.Contains(stdout, "offline") || !strings.Contains(stdout, "revoked") {
		t.Errorf("apikey list --data: exit %d, got %q, want offline and the revoked key", code,
			stdout)
	}

	again := serveEngine(t, replayCfg(t, dir))
	base = "http://" + again.addr
	if got := doGet(t, http.DefaultClient, base+"/api/v1/stats",
		map[string]string{"Authorization": "Bearer " + reader}); got != 401 {
		t.Errorf("token of a client revoked with --data: got %d, want 401", got)
	}
	if got := doGet(t, http.DefaultClient, base+"/api/v1/stats",
		map[string]string{"X-API-Key": offline}); got != 200 {
		t.Errorf("api key created with --data: got %d, want 200", got)
	}
}

// tlsClient returns an HTTP client that trusts only pool.
func tlsClient(cfg *tls.Config) *http.Client {
	return &http.Client{Timeout: waitTimeout, Transport: &http.Transport{TLSClientConfig: cfg}}
}
