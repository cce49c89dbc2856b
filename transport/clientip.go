package transport

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// ProxyList is the set of networks whose X-Forwarded-For header is believed
// (--trusted-proxies). The zero value trusts nobody: the client is the socket's peer.
type ProxyList struct {
	prefixes []netip.Prefix
}

// ParseProxyList parses a comma-separated list of IPs and CIDR prefixes.
func ParseProxyList(s string) (ProxyList, error) {
	var pl ProxyList
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if !strings.Contains(part, "/") {
			addr, err := netip.ParseAddr(part)
			if err != nil {
				return ProxyList{}, fmt.Errorf("transport: trusted proxy %q: %w", part, err)
			}
			part = netip.PrefixFrom(addr.Unmap(), addr.Unmap().BitLen()).String()
		}
		p, err := netip.ParsePrefix(part)
		if err != nil {
			return ProxyList{}, fmt.Errorf("transport: trusted proxy %q: %w", part, err)
		}
		pl.prefixes = append(pl.prefixes, p.Masked())
	}
	return pl, nil
}

func (pl ProxyList) trusts(a netip.Addr) bool {
	for _, p := range pl.prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ClientIP returns the address a request comes from. It is the socket's peer, unless that
// peer is a trusted proxy: then it is the right-most address of X-Forwarded-For that is not
// itself a trusted proxy. Entries left of it were written by the client and are ignored, so
// a forged header moves nothing.
func (pl ProxyList) ClientIP(r *http.Request) netip.Addr {
	peer := peerAddr(r.RemoteAddr)
	if !peer.IsValid() || !pl.trusts(peer) {
		return peer
	}
	hops := forwardedHops(r.Header.Values("X-Forwarded-For"))
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return peer
		}
		a = a.Unmap()
		if !pl.trusts(a) {
			return a
		}
	}
	return peer
}

func forwardedHops(values []string) []string {
	var hops []string
	for _, v := range values {
		hops = append(hops, strings.Split(v, ",")...)
	}
	return hops
}

// peerAddr parses a host:port remote address; the zero Addr when it cannot.
func peerAddr(remote string) netip.Addr {
	ap, err := netip.ParseAddrPort(remote)
	if err == nil {
		return ap.Addr().Unmap()
	}
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		return netip.Addr{}
	}
	a, _ := netip.ParseAddr(host)
	return a.Unmap()
}
