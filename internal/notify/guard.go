package notify

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"syscall"
)

// ErrBlockedAddress is wrapped by every connection a Guard refuses; see BlockedError.
var ErrBlockedAddress = errors.New("notify: address refused by the webhook guard")

// errNoAddress is wrapped when a host name resolves to no address at all.
var errNoAddress = errors.New("resolves to no address")

// maxDialAddrs bounds how many of a host's addresses one connection attempt tries.
const maxDialAddrs = 4

// blockedRange is a range of addresses a guarded webhook never connects to, with the name
// its refusals give.
type blockedRange struct {
	prefix netip.Prefix
	name   string
}

// blockedRanges lists what a Guard refuses unless its allow-list names it. Cloud metadata
// endpoints come first so that a refusal names them rather than the wider range holding
// them. IPv4-mapped IPv6 addresses are unmapped before the check, so ::ffff:127.0.0.1 is
// refused as loopback.
var blockedRanges = func() []blockedRange {
	table := []struct{ cidr, name string }{
		{"169.254.169.254/32", "cloud metadata"}, // AWS, GCP, Azure, OpenStack, ...
		{"169.254.170.2/32", "cloud metadata"},   // AWS ECS task metadata
		{"fd00:ec2::254/128", "cloud metadata"},  // AWS over IPv6
		{"100.100.100.200/32", "cloud metadata"}, // Alibaba Cloud
		{"192.0.0.192/32", "cloud metadata"},     // Oracle Cloud
		{"168.63.129.16/32", "cloud metadata"},   // Azure wire server (a public address)

		{"0.0.0.0/8", "unspecified"},
		{"10.0.0.0/8", "private"},
		{"100.64.0.0/10", "cgnat"},
		{"127.0.0.0/8", "loopback"},
		{"169.254.0.0/16", "link-local"},
		{"172.16.0.0/12", "private"},
		{"192.0.0.0/24", "reserved"},
		{"192.0.2.0/24", "documentation"},
		{"192.88.99.0/24", "reserved"},
		{"192.168.0.0/16", "private"},
		{"198.18.0.0/15", "benchmarking"},
		{"198.51.100.0/24", "documentation"},
		{"203.0.113.0/24", "documentation"},
		{"224.0.0.0/4", "multicast"},
		{"240.0.0.0/4", "reserved"}, // 255.255.255.255 (broadcast) included

		{"::/128", "unspecified"},
		{"::1/128", "loopback"},
		{"::/96", "ipv4-compatible"},
		{"::ffff:0:0:0/96", "ipv4-translated"}, // SIIT (RFC 7915): ::ffff:0:a.b.c.d
		{"64:ff9b::/96", "nat64"},
		{"64:ff9b:1::/48", "nat64"},
		{"100::/64", "discard"},
		{"2001::/32", "teredo"},
		{"2001:db8::/32", "documentation"},
		{"2002::/16", "6to4"},
		{"fc00::/7", "private"},
		{"fe80::/10", "link-local"},
		{"fec0::/10", "site-local"},
		{"ff00::/8", "multicast"},
	}
	out := make([]blockedRange, len(table))
	for i, r := range table {
		out[i] = blockedRange{prefix: netip.MustParsePrefix(r.cidr), name: r.name}
	}
	return out
}()

// Resolver resolves a host name to its addresses; *net.Resolver implements it. Tests pass
// their own to make a name resolve to any address without DNS.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// GuardConfig configures NewGuard. The zero value refuses every blocked range and resolves
// names with net.DefaultResolver.
type GuardConfig struct {
	// Allow lists ranges a webhook may reach although they are blocked: the operator's
	// allow-list (--webhook-allow-cidr). An address inside one of them is allowed whatever
	// blocked range also holds it, cloud metadata included.
	Allow []netip.Prefix
	// Resolver resolves host names; nil means net.DefaultResolver.
	Resolver Resolver
}

// Guard keeps webhooks off the engine's own network: loopback, private, link-local, CGNAT,
// unspecified, multicast, reserved and cloud metadata addresses are refused unless the
// allow-list names them. It checks the address actually dialled, after resolution, on every
// connection, so a name that resolves to a public address when a webhook is created and to
// a private one later (DNS rebinding) is refused then. It is immutable and safe for
// concurrent use.
type Guard struct {
	allow    []netip.Prefix
	resolver Resolver
}

// NewGuard returns a Guard; errors wrap ErrInvalidConfig.
func NewGuard(cfg GuardConfig) (*Guard, error) {
	allow := make([]netip.Prefix, 0, len(cfg.Allow))
	for _, p := range cfg.Allow {
		if !p.IsValid() {
			return nil, fmt.Errorf("%w: invalid allow-list range", ErrInvalidConfig)
		}
		allow = append(allow, p.Masked())
	}
	g := &Guard{allow: allow, resolver: cfg.Resolver}
	if g.resolver == nil {
		g.resolver = net.DefaultResolver
	}
	return g, nil
}

// ParseCIDR reads one allow-list entry: a CIDR ("10.1.0.0/16") or a single address, which
// stands for itself alone. IPv4-mapped IPv6 entries are unmapped.
func ParseCIDR(s string) (netip.Prefix, error) {
	if ip, err := netip.ParseAddr(s); err == nil && ip.Zone() == "" {
		ip = ip.Unmap()
		return netip.PrefixFrom(ip, ip.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%w: %q is not an address or a CIDR",
			ErrInvalidConfig, s)
	}
	if p.Addr().Is4In6() {
		bits := p.Bits() - 96
		if bits < 0 {
			return netip.Prefix{}, fmt.Errorf("%w: %q is wider than the IPv4-mapped range",
				ErrInvalidConfig, s)
		}
		p = netip.PrefixFrom(p.Addr().Unmap(), bits)
	}
	return p.Masked(), nil
}

// BlockedError is a connection the Guard refused: the address and the name of the blocked
// range that holds it. It wraps ErrBlockedAddress and is not retryable.
type BlockedError struct {
	// Addr is the refused address, unmapped.
	Addr netip.Addr
	// Range names the blocked range: "loopback", "private", "cloud metadata", ...
	Range string
}

// Error names the address and its range.
func (e *BlockedError) Error() string {
	return fmt.Sprintf("notify: address %s is %s: refused (allow it with the allow-list)",
		e.Addr, e.Range)
}

// Unwrap returns ErrBlockedAddress.
func (e *BlockedError) Unwrap() error { return ErrBlockedAddress }

// Retryable returns false: the same address will be refused again.
func (e *BlockedError) Retryable() bool { return false }

// Check returns nil when ip may be reached, or a *BlockedError. An IPv4-mapped IPv6 address
// is checked as the IPv4 address it maps; a zone is ignored.
func (g *Guard) Check(ip netip.Addr) error {
	if !ip.IsValid() {
		return &BlockedError{Addr: ip, Range: "invalid"}
	}
	ip = ip.Unmap().WithZone("")
	for _, p := range g.allow {
		if p.Contains(ip) {
			return nil
		}
	}
	for _, r := range blockedRanges {
		if r.prefix.Contains(ip) {
			return &BlockedError{Addr: ip, Range: r.name}
		}
	}
	return nil
}

// Control checks the address a socket is about to connect to; it fits net.Dialer.Control,
// so that whatever resolved the name, the address actually dialled is the one checked.
func (g *Guard) Control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: dial address %q does not parse", ErrBlockedAddress, address)
	}
	return g.Check(ap.Addr())
}

// DialContext resolves address's host, keeps the addresses Check allows (the first
// maxDialAddrs of them) and connects to them in turn, through a dialer whose Control hook
// checks each again. When every address is refused it returns the first refusal. It fits
// http.Transport.DialContext; the connection's deadline comes from ctx.
func (g *Guard) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	host, portText, err := net.SplitHostPort(address)
	if err != nil {
		return nil, fmt.Errorf("notify: dial %q: %w", address, err)
	}
	port, err := strconv.ParseUint(portText, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("notify: dial port %q: %w", portText, err)
	}

	ips, err := g.resolve(ctx, host)
	if err != nil {
		return nil, err
	}
	var allowed []netip.Addr
	var refused error
	for _, ip := range ips {
		if err := g.Check(ip); err != nil {
			if refused == nil {
				refused = err
			}
			continue
		}
		allowed = append(allowed, ip.Unmap())
	}
	if len(allowed) == 0 {
		if refused == nil {
			refused = fmt.Errorf("notify: %s %w", host, errNoAddress)
		}
		return nil, refused
	}

	d := net.Dialer{Control: g.Control}
	var errs []error
	for _, ip := range allowed[:min(len(allowed), maxDialAddrs)] {
		target := netip.AddrPortFrom(ip, uint16(port)).String()
		conn, err := d.DialContext(ctx, network, target)
		if err == nil {
			return conn, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, errors.Join(errs...)
}

// resolve returns host's addresses: host itself when it is an IP literal.
func (g *Guard) resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	if ip, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{ip}, nil
	}
	ips, err := g.resolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, fmt.Errorf("notify: resolve %s: %w", host, err)
	}
	return ips, nil
}
