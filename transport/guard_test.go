package transport

import (
	"net/http"
	"net/netip"
	"testing"
	"time"

	"github.com/whalecast/whalecast/internal/clock"
)

func newTestGuard(cfg GuardConfig) (*Guard, *clock.Fake) {
	clk := clock.NewFake(time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC))
	return NewGuard(cfg, clk), clk
}

func TestGuardCaps(t *testing.T) {
	a, b := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	tests := []struct {
		name  string
		cfg   GuardConfig
		admit []netip.Addr
		last  netip.Addr
		want  Verdict
	}{
		{"under every cap", GuardConfig{MaxConns: 3, MaxConnsPerIP: 2}, []netip.Addr{a}, b, Admit},
		{"per-IP cap", GuardConfig{MaxConns: 10, MaxConnsPerIP: 2}, []netip.Addr{a, a}, a,
			TooManyConn},
		{"total cap", GuardConfig{MaxConns: 2, MaxConnsPerIP: 5}, []netip.Addr{a, b}, b,
			TooManyConn},
		{"attempts per second", GuardConfig{AttemptsPerIP: 2}, []netip.Addr{a, a}, a, TooFast},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, _ := newTestGuard(tt.cfg)
			for _, ip := range tt.admit {
				if v := g.Admit(ip); v != Admit {
					t.Fatalf("setup Admit(%v) = %v, want Admit", ip, v)
				}
			}
			if got := g.Admit(tt.last); got != tt.want {
				t.Errorf("Admit(%v) = %v, want %v", tt.last, got, tt.want)
			}
		})
	}
}

func TestGuardReleaseAndNextSecond(t *testing.T) {
	ip := netip.MustParseAddr("192.0.2.7")
	g, clk := newTestGuard(GuardConfig{MaxConnsPerIP: 1, AttemptsPerIP: 2})
	if v := g.Admit(ip); v != Admit {
		t.Fatalf("first Admit = %v", v)
	}
	if v := g.Admit(ip); v != TooManyConn {
		t.Fatalf("second Admit = %v, want TooManyConn", v)
	}
	g.Release(ip)
	if v := g.Admit(ip); v != TooFast {
		t.Fatalf("third attempt in one second = %v, want TooFast", v)
	}
	clk.Advance(time.Second)
	if v := g.Admit(ip); v != Admit {
		t.Fatalf("Admit in the next second = %v, want Admit", v)
	}
	if got := g.Conns(); got != 1 {
		t.Errorf("Conns = %d, want 1", got)
	}
}

func TestGuardBan(t *testing.T) {
	ip := netip.MustParseAddr("198.51.100.9")
	g, clk := newTestGuard(GuardConfig{BanAfter: 3, BanWindow: time.Minute,
		BanFor: 10 * time.Minute})
	for i := 1; i <= 2; i++ {
		if g.AuthFailed(ip) {
			t.Fatalf("failure %d banned the IP", i)
		}
	}
	if !g.AuthFailed(ip) {
		t.Fatal("third failure did not ban the IP")
	}
	if v := g.Admit(ip); v != Banned {
		t.Errorf("Admit while banned = %v, want Banned", v)
	}
	clk.Advance(10*time.Minute - time.Second)
	if !g.IsBanned(ip) {
		t.Error("ban lifted early")
	}
	clk.Advance(time.Second)
	if v := g.Admit(ip); v != Admit {
		t.Errorf("Admit after the ban = %v, want Admit", v)
	}
}

func TestGuardFailuresOutsideWindowDoNotBan(t *testing.T) {
	ip := netip.MustParseAddr("198.51.100.10")
	g, clk := newTestGuard(GuardConfig{BanAfter: 2, BanWindow: time.Minute})
	g.AuthFailed(ip)
	clk.Advance(2 * time.Minute)
	if g.AuthFailed(ip) {
		t.Error("failures two minutes apart banned the IP")
	}
}

func TestGuardEvictionKeepsBans(t *testing.T) {
	g, clk := newTestGuard(GuardConfig{MaxTrackedIPs: 10, BanAfter: 1})
	banned := netip.MustParseAddr("203.0.113.1")
	g.AuthFailed(banned)
	clk.Advance(2 * time.Minute)
	for i := range 50 {
		ip := netip.AddrFrom4([4]byte{10, 0, byte(i / 256), byte(i % 256)})
		g.Admit(ip)
		g.Release(ip)
	}
	if !g.IsBanned(banned) {
		t.Error("spraying addresses flushed a ban")
	}
	g.mu.Lock()
	n := len(g.ips)
	g.mu.Unlock()
	if n > 10 {
		t.Errorf("tracked IPs = %d, want at most 10", n)
	}
}

func TestClientIP(t *testing.T) {
	trusted, err := ParseProxyList("10.0.0.0/8, 127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		proxies ProxyList
		remote  string
		xff     []string
		want    string
	}{
		{"no proxy trusted: header ignored", ProxyList{}, "192.0.2.1:5000",
			[]string{"1.2.3.4"}, "192.0.2.1"},
		{"untrusted peer spoofing", trusted, "192.0.2.1:5000", []string{"10.1.1.1"},
			"192.0.2.1"},
		{"trusted proxy", trusted, "10.0.0.5:443", []string{"198.51.100.7"}, "198.51.100.7"},
		{"client-forged left entries skipped", trusted, "10.0.0.5:443",
			[]string{"6.6.6.6, 198.51.100.7"}, "198.51.100.7"},
		{"chain of trusted proxies", trusted, "127.0.0.1:80",
			[]string{"198.51.100.7, 10.2.2.2"}, "198.51.100.7"},
		{"garbage entry falls back to peer", trusted, "10.0.0.5:443", []string{"nonsense"},
			"10.0.0.5"},
		{"trusted proxy without header", trusted, "10.0.0.5:443", nil, "10.0.0.5"},
		{"ipv6 peer", ProxyList{}, "[2001:db8::1]:443", nil, "2001:db8::1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &http.Request{RemoteAddr: tt.remote, Header: http.Header{}}
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := tt.proxies.ClientIP(r).String(); got != tt.want {
				t.Errorf("ClientIP = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestParseProxyListRejectsGarbage(t *testing.T) {
	for _, s := range []string{"10.0.0.0/33", "not-an-ip", "10.0.0.1/x"} {
		if _, err := ParseProxyList(s); err == nil {
			t.Errorf("ParseProxyList(%q) succeeded", s)
		}
	}
}
