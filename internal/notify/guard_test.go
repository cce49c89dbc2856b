package notify

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeResolver answers from a table that a test may change, counting lookups. It never
// touches DNS.
type fakeResolver struct {
	mu      sync.Mutex
	names   map[string][]netip.Addr
	lookups int
}

func newFakeResolver(names map[string]string) *fakeResolver {
	r := &fakeResolver{names: map[string][]netip.Addr{}}
	for name, ips := range names {
		r.set(name, ips)
	}
	return r
}

// set makes name resolve to the comma-separated ips.
func (r *fakeResolver) set(name, ips string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var addrs []netip.Addr
	for ip := range strings.SplitSeq(ips, ",") {
		addrs = append(addrs, netip.MustParseAddr(ip))
	}
	r.names[name] = addrs
}

func (r *fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lookups++
	ips, ok := r.names[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return ips, nil
}

func newTestGuard(tb testing.TB, r Resolver, allow ...string) *Guard {
	tb.Helper()
	cfg := GuardConfig{Resolver: r}
	for _, a := range allow {
		p, err := ParseCIDR(a)
		if err != nil {
			tb.Fatalf("ParseCIDR(%q): %v", a, err)
		}
		cfg.Allow = append(cfg.Allow, p)
	}
	g, err := NewGuard(cfg)
	if err != nil {
		tb.Fatalf("NewGuard: %v", err)
	}
	return g
}

func TestGuardCheck(t *testing.T) {
	tests := []struct {
		ip        string
		wantRange string // empty: allowed
	}{
		{"169.254.169.254", "cloud metadata"},
		{"169.254.170.2", "cloud metadata"},
		{"fd00:ec2::254", "cloud metadata"},
		{"100.100.100.200", "cloud metadata"},
		{"192.0.0.192", "cloud metadata"},
		{"168.63.129.16", "cloud metadata"},
		{"0.0.0.0", "unspecified"},
		{"0.1.2.3", "unspecified"},
		{"10.0.0.1", "private"},
		{"10.255.255.255", "private"},
		{"100.64.0.1", "cgnat"},
		{"100.127.255.254", "cgnat"},
		{"127.0.0.1", "loopback"},
		{"127.1.2.3", "loopback"},
		{"169.254.1.1", "link-local"},
		{"172.16.0.1", "private"},
		{"172.31.255.255", "private"},
		{"192.0.0.8", "reserved"},
		{"192.0.2.10", "documentation"},
		{"192.168.1.1", "private"},
		{"198.18.0.1", "benchmarking"},
		{"198.51.100.7", "documentation"},
		{"203.0.113.9", "documentation"},
		{"224.0.0.1", "multicast"},
		{"239.255.255.250", "multicast"},
		{"240.0.0.1", "reserved"},
		{"255.255.255.255", "reserved"},
		{"::", "unspecified"},
		{"::1", "loopback"},
		{"::10.0.0.1", "ipv4-compatible"},
		{"::ffff:127.0.0.1", "loopback"},
		{"::ffff:10.1.2.3", "private"},
		{"::ffff:169.254.169.254", "cloud metadata"},
		{"::ffff:100.64.0.1", "cgnat"},
		{"::ffff:0:7f00:1", "ipv4-translated"},
		{"::ffff:0:a9fe:a9fe", "ipv4-translated"},
		{"::ffff:0:808:808", "ipv4-translated"},
		{"64:ff9b::a00:1", "nat64"},
		{"100::1", "discard"},
		{"2001::1", "teredo"},
		{"2001:db8::1", "documentation"},
		{"2002:a00:1::1", "6to4"},
		{"fc00::1", "private"},
		{"fd12:3456::1", "private"},
		{"fe80::1", "link-local"},
		{"fe80::1%eth0", "link-local"},
		{"fec0::1", "site-local"},
		{"ff02::1", "multicast"},
		{"8.8.8.8", ""},
		{"1.1.1.1", ""},
		{"100.63.255.255", ""},
		{"100.128.0.0", ""},
		{"172.15.255.255", ""},
		{"172.32.0.0", ""},
		{"::ffff:8.8.8.8", ""},
		{"2606:4700:4700::1111", ""},
	}
	g := newTestGuard(t, nil)
	for _, tt := range tests {
		t.Run(tt.ip, func(t *testing.T) {
			err := g.Check(netip.MustParseAddr(tt.ip))
			var blocked *BlockedError
			switch {
			case tt.wantRange == "" && err != nil:
				t.Errorf("Check: got %v, want allowed", err)
			case tt.wantRange == "":
			case !errors.As(err, &blocked):
				t.Errorf("Check: got %v, want a *BlockedError (%s)", err, tt.wantRange)
			case blocked.Range != tt.wantRange:
				t.Errorf("range: got %q, want %q", blocked.Range, tt.wantRange)
			case !errors.Is(err, ErrBlockedAddress) || Retryable(err):
				t.Errorf("got %v: want ErrBlockedAddress, not retryable", err)
			}
		})
	}
}

func TestGuardAllowList(t *testing.T) {
	g := newTestGuard(t, nil, "127.0.0.0/8", "10.1.0.0/16", "::ffff:192.168.7.0/120",
		"fd00:ec2::254")
	tests := []struct {
		ip    string
		allow bool
	}{
		{"127.0.0.1", true},
		{"::ffff:127.0.0.1", true},
		{"10.1.200.3", true},
		{"10.2.0.1", false},
		{"192.168.7.9", true},
		{"192.168.8.9", false},
		{"fd00:ec2::254", true},
		{"fd00:ec2::253", false},
		{"169.254.169.254", false},
		{"::1", false},
	}
	for _, tt := range tests {
		err := g.Check(netip.MustParseAddr(tt.ip))
		if (err == nil) != tt.allow {
			t.Errorf("Check(%s): got %v, want allowed %v", tt.ip, err, tt.allow)
		}
	}
}

func TestParseCIDR(t *testing.T) {
	tests := []struct {
		in, want string
		wantErr  bool
	}{
		{in: "127.0.0.1", want: "127.0.0.1/32"},
		{in: "10.1.2.3/16", want: "10.1.0.0/16"},
		{in: "::1", want: "::1/128"},
		{in: "::ffff:10.0.0.0/104", want: "10.0.0.0/8"},
		{in: "::ffff:10.0.0.1", want: "10.0.0.1/32"},
		{in: "::ffff:0:0/90", wantErr: true},
		{in: "example.com", wantErr: true},
		{in: "10.0.0.0/33", wantErr: true},
		{in: "", wantErr: true},
	}
	for _, tt := range tests {
		got, err := ParseCIDR(tt.in)
		switch {
		case tt.wantErr && err == nil:
			t.Errorf("ParseCIDR(%q): got %v, want an error", tt.in, got)
		case !tt.wantErr && (err != nil || got.String() != tt.want):
			t.Errorf("ParseCIDR(%q): got %v, %v; want %s", tt.in, got, err, tt.want)
		}
	}
}

func TestGuardControl(t *testing.T) {
	g := newTestGuard(t, nil, "127.0.0.2/32")
	tests := []struct {
		addr  string
		allow bool
	}{
		{"127.0.0.1:80", false},
		{"[::1]:443", false},
		{"[::ffff:127.0.0.1]:80", false},
		{"169.254.169.254:80", false},
		{"127.0.0.2:8080", true},
		{"8.8.8.8:443", true},
		{"not-an-address:80", false},
	}
	for _, tt := range tests {
		err := g.Control("tcp", tt.addr, nil)
		if (err == nil) != tt.allow {
			t.Errorf("Control(%s): got %v, want allowed %v", tt.addr, err, tt.allow)
		}
	}
}

// TestGuardDialerControlStopsConnect dials a real listener on 127.0.0.1 through a dialer
// whose Control hook is the guard's: the connection is refused before it is made.
func TestGuardDialerControlStopsConnect(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	d := net.Dialer{Control: newTestGuard(t, nil).Control, Timeout: testTimeout}

	conn, err := d.DialContext(testContext(t), "tcp", ln.Addr().String())
	if err == nil {
		conn.Close()
		t.Fatal("dial: connected, want refused by the guard")
	}
	if !errors.Is(err, ErrBlockedAddress) {
		t.Errorf("dial: got %v, want ErrBlockedAddress", err)
	}
}

func TestGuardDialResolvesThenChecks(t *testing.T) {
	r := newTestGuard(t, nil)
	res := newFakeResolver(map[string]string{
		"private.test":  "10.20.30.40",
		"metadata.test": "169.254.169.254",
		"mapped.test":   "::ffff:192.168.0.1",
		"mixed.test":    "172.16.5.5,fe80::1",
		"siit.test":     "::ffff:0:7f00:1",
	})
	r.resolver = res
	for _, host := range []string{"private.test", "metadata.test", "mapped.test",
		"mixed.test", "siit.test", "127.0.0.1", "[::1]", "[::ffff:0:7f00:1]"} {
		t.Run(host, func(t *testing.T) {
			conn, err := r.DialContext(testContext(t), "tcp", net.JoinHostPort(
				strings.Trim(host, "[]"), "80"))
			if err == nil {
				conn.Close()
				t.Fatal("dial: connected, want refused")
			}
			if !errors.Is(err, ErrBlockedAddress) {
				t.Errorf("dial: got %v, want ErrBlockedAddress", err)
			}
		})
	}
	if _, err := r.DialContext(testContext(t), "tcp", "unknown.test:80"); err == nil ||
		errors.Is(err, ErrBlockedAddress) {
		t.Errorf("unknown name: got %v, want a resolution error", err)
	}
}

// TestGuardedWebhookRebinding posts through a guarded webhook to a receiver on 127.0.0.1
// reached by name: allowed by the allow-list, then refused once the name resolves to a
// private address (DNS rebinding), then refused for a literal loopback URL when the
// allow-list does not name it.
func TestGuardedWebhookRebinding(t *testing.T) {
	rcv := newReceiver(t, 200)
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(rcv.srv.URL, "http://"))
	res := newFakeResolver(map[string]string{"hooks.test": "127.0.0.1"})
	guard := newTestGuard(t, res, "127.0.0.1/32")
	w, err := NewWebhook(WebhookConfig{URL: "http://hooks.test:" + port + "/in",
		Secret: testSecret, Timeout: time.Second, Guard: guard})
	if err != nil {
		t.Fatal(err)
	}
	defer w.CloseIdleConnections()

	if err := w.Post(testContext(t), "1", []byte(`{}`)); err != nil {
		t.Fatalf("first post: %v", err)
	}
	w.CloseIdleConnections()
	res.set("hooks.test", "10.0.0.7")
	err = w.Post(testContext(t), "2", []byte(`{}`))
	if !errors.Is(err, ErrBlockedAddress) || Retryable(err) {
		t.Errorf("post after rebinding: got %v, want a blocked address, not retryable", err)
	}
	if strings.Contains(err.Error(), "/in") {
		t.Errorf("error %q shows the URL's path", err)
	}
	if n := rcv.hits.Load(); n != 1 {
		t.Errorf("receiver hit %d times, want 1", n)
	}

	strict, err := NewWebhook(WebhookConfig{URL: rcv.srv.URL, Secret: testSecret,
		Guard: newTestGuard(t, res)})
	if err != nil {
		t.Fatal(err)
	}
	defer strict.CloseIdleConnections()
	if err := strict.Post(testContext(t), "3", []byte(`{}`)); !errors.Is(err,
		ErrBlockedAddress) {
		t.Errorf("post to loopback without allow-list: got %v, want blocked", err)
	}
	if n := rcv.hits.Load(); n != 1 {
		t.Errorf("receiver hit %d times, want still 1", n)
	}
}

func TestGuardedWebhookRefusesOwnTransport(t *testing.T) {
	_, err := NewWebhook(WebhookConfig{URL: "https://hooks.example/x", Secret: testSecret,
		Guard: newTestGuard(t, nil), Client: &http.Client{Transport: &http.Transport{}}})
	if !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("NewWebhook: got %v, want ErrInvalidConfig", err)
	}
}
