package transport

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
)

func TestHostAllows(t *testing.T) {
	allowed := newHostList([]string{"Whales.example", "proxy.internal:8080", "[2001:db8::1]"})
	tests := []struct {
		host string
		want bool
	}{
		{"127.0.0.1:8765", true},
		{"127.0.0.1", true},
		{"127.9.9.9:80", true},
		{"[::1]:8765", true},
		{"[::1]", true},
		{"localhost", true},
		{"LocalHost:8765", true},
		{"whales.example:443", true},
		{"WHALES.EXAMPLE", true},
		{"proxy.internal:8080", true},
		{"[2001:db8::1]:443", true},
		{"", false},
		{"attacker.example:8765", false},
		{"localhost.attacker.example", false},
		{"127.0.0.1.nip.io:8765", false},
		{"proxy.internal:8081", false},
		{"proxy.internal", false},
		{"localhost:http", false},
		{"localhost:0", false},
		{"localhost:65536", false},
		{"user@localhost", false},
		{"localhost/x", false},
		{"[localhost]:80", false},
		{"[127.0.0.1]:80", false},
		{"2130706433", false},
		{"0x7f000001", false},
		{"10.0.0.1:8765", false},
		{"[::ffff:10.0.0.1]:80", false},
	}
	for _, tt := range tests {
		if got := allowed.allows(tt.host); got != tt.want {
			t.Errorf("allows(%q): got %v, want %v", tt.host, got, tt.want)
		}
	}
}

func TestCheckHosts(t *testing.T) {
	tests := []struct {
		hosts []string
		ok    bool
	}{
		{[]string{"whales.example", "a.example:8443", "10.0.0.1", "[2001:db8::1]:443"}, true},
		{[]string{"http://a.example"}, false},
		{[]string{"a.example/"}, false},
		{[]string{"*.example"}, false},
		{[]string{"*"}, false},
		{[]string{"a.example:x"}, false},
		{[]string{""}, false},
		{[]string{"a b"}, false},
	}
	for _, tt := range tests {
		if err := CheckHosts(tt.hosts); (err == nil) != tt.ok {
			t.Errorf("CheckHosts(%q): got %v, want ok %v", tt.hosts, err, tt.ok)
		}
	}
}

// FuzzHostAllows checks that whatever a client puts in Host, only a loopback name or an
// allowed host passes.
func FuzzHostAllows(f *testing.F) {
	for _, seed := range []string{"127.0.0.1:1", "localhost", "[::1]:80", "attacker.example",
		"localhost.", "[::ffff:127.0.0.1]:1", "whales.example:99", "127.1", "::1", "%00"} {
		f.Add(seed)
	}
	allowed := newHostList([]string{"whales.example"})
	f.Fuzz(func(t *testing.T, host string) {
		if !allowed.allows(host) {
			return
		}
		name, _, ok := splitHost(host)
		if !ok {
			t.Fatalf("allows(%q) with an unparsable host", host)
		}
		if name == "localhost" || name == "whales.example" {
			return
		}
		ip := net.ParseIP(name)
		if ip == nil || !ip.IsLoopback() {
			t.Fatalf("allows(%q): name %q is neither allowed nor loopback", host, name)
		}
	})
}

// TestDNSRebindingRefused plays a page of attacker.example whose name was rebound to the
// engine's loopback address: its requests carry Host and Origin attacker.example. A
// --no-auth engine on loopback must refuse every route with 421, and serve its own names.
func TestDNSRebindingRefused(t *testing.T) {
	ls := startLive(t, func(c *Config) { c.NoAuth = true }, nil)
	_, port, _ := net.SplitHostPort(ls.addr)
	evil := "attacker.example:" + port
	evilOrigin := "http://" + evil

	tests := []struct {
		name   string
		path   string
		host   string
		origin string
		want   int
	}{
		{"healthz, rebound", "/healthz", evil, "", 421},
		{"alerts, rebound", "/api/v1/alerts", evil, evilOrigin, 421},
		{"stats, rebound", "/api/v1/stats", evil, evilOrigin, 421},
		{"alerts, name ending in a loopback IP", "/api/v1/alerts",
			"127.0.0.1.attacker.example:" + port, "", 421},
		{"alerts, no port", "/api/v1/alerts", "attacker.example", "", 421},
		{"alerts by IP", "/api/v1/alerts", ls.addr, "", 200},
		{"alerts by localhost", "/api/v1/alerts", "localhost:" + port, "", 200},
		{"alerts by localhost without port", "/api/v1/alerts", "LOCALHOST", "", 200},
		{"alerts by IPv6 loopback", "/api/v1/alerts", "[::1]:" + port, "", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := getWithHost(t, ls, tt.path, tt.host, tt.origin)
			if status != tt.want {
				t.Fatalf("status: got %d %s, want %d", status, body, tt.want)
			}
			if tt.want == 421 && !strings.Contains(body, `"error":"misdirected_request"`) {
				t.Errorf("body: got %s, want a misdirected_request JSON error", body)
			}
		})
	}

	t.Run("websocket, rebound", func(t *testing.T) {
		h := http.Header{"Host": {evil}, "Origin": {evilOrigin}}
		if c, status, err := tryDialWS(ls, h); err == nil || status != 421 {
			if c != nil {
				_ = c.Close()
			}
			t.Fatalf("upgrade: got status %d (err %v), want 421", status, err)
		}
	})
	t.Run("websocket, own origin by localhost", func(t *testing.T) {
		own := "localhost:" + port
		c := dialWS(t, ls, http.Header{"Host": {own}, "Origin": {"http://" + own}})
		echo(t, c, "same origin")
	})
	t.Run("websocket, loopback Host but foreign Origin", func(t *testing.T) {
		h := http.Header{"Origin": {evilOrigin}}
		if c, status, err := tryDialWS(ls, h); err == nil || status != 403 {
			if c != nil {
				_ = c.Close()
			}
			t.Fatalf("upgrade: got status %d (err %v), want 403", status, err)
		}
	})
}

// TestAllowedHosts checks --allowed-hosts: a proxy's name is served besides the loopback
// names, and any other name is still refused.
func TestAllowedHosts(t *testing.T) {
	ls := startLive(t, func(c *Config) { c.AllowedHosts = []string{"whales.example"} }, nil)
	for host, want := range map[string]int{"whales.example": 200, "whales.example:443": 200,
		"localhost": 200, "other.example": 421} {
		if status, body := getWithHost(t, ls, "/healthz", host, ""); status != want {
			t.Errorf("Host %q: got %d %s, want %d", host, status, body, want)
		}
	}
}

// TestHostCheckFollowsTheListener serves on a listener that says it is bound to a public
// address: without --allowed-hosts the engine cannot know its own names, so it checks none.
func TestHostCheckFollowsTheListener(t *testing.T) {
	ls := startLive(t, nil, func(ln net.Listener) net.Listener {
		return publicListener{ln}
	})
	if status, body := getWithHost(t, ls, "/healthz", "whales.example", ""); status != 200 {
		t.Errorf("got %d %s, want 200", status, body)
	}
}

// publicListener reports a public address (192.0.2.1, TEST-NET-1) while it accepts on
// loopback.
type publicListener struct{ net.Listener }

func (publicListener) Addr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 8765}
}

// getWithHost sends GET path to ls with the given Host and Origin (none when empty) and
// returns the status and the body.
func getWithHost(tb testing.TB, ls *liveServer, path, host, origin string) (int, string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ls.url+path, nil)
	if err != nil {
		tb.Fatalf("request: %v", err)
	}
	req.Host = host
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		tb.Fatalf("read body: %v", err)
	}
	if resp.StatusCode >= 400 && !json.Valid(body) {
		tb.Errorf("error body %q is not JSON", body)
	}
	return resp.StatusCode, strings.TrimSpace(string(body))
}

// TestOriginCheckerTrustsOnlyCheckedHosts checks the upgrade's Origin rule on its own: the
// engine's own origin is the request's Host only when that Host passed the Host check.
func TestOriginCheckerTrustsOnlyCheckedHosts(t *testing.T) {
	loopbackOnly := newHostList(nil).allows
	anyHost := func(string) bool { return true }
	tests := []struct {
		name    string
		allowed []string
		trusted func(string) bool
		host    string
		origin  string
		want    bool
	}{
		{"no Origin", nil, loopbackOnly, "attacker.example:1", "", true},
		{"own origin by loopback", nil, loopbackOnly, "127.0.0.1:1", "http://127.0.0.1:1", true},
		{"rebound name as own origin", nil, loopbackOnly, "attacker.example:1",
			"http://attacker.example:1", false},
		{"own origin, check off", nil, anyHost, "whales.example", "https://whales.example",
			true},
		{"foreign origin", nil, anyHost, "whales.example", "https://attacker.example", false},
		{"listed origin", []string{"https://app.example"}, loopbackOnly, "127.0.0.1:1",
			"https://app.example", true},
		{"any origin", []string{"*"}, loopbackOnly, "127.0.0.1:1", "https://x.example", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := http.NewRequest(http.MethodGet, "http://"+tt.host+"/ws", nil)
			if err != nil {
				t.Fatal(err)
			}
			if tt.origin != "" {
				r.Header.Set("Origin", tt.origin)
			}
			if got := originChecker(tt.allowed, tt.trusted)(r); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}
