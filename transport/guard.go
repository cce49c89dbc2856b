package transport

import (
	"net/netip"
	"sync"
	"time"

	"github.com/whalecast/whalecast/internal/clock"
)

// Defaults of GuardConfig, which `engine serve --help` shows too.
const (
	DefaultMaxConns      = 20_000
	DefaultMaxConnsPerIP = 100
	DefaultAttemptsPerIP = 20
	DefaultBanAfter      = 10
	DefaultBanWindow     = time.Minute
	DefaultBanFor        = 15 * time.Minute
	DefaultMaxTrackedIPs = 100_000
)

// GuardConfig sets the connection guards. A zero count or duration means the default beside
// it; no field turns a guard off.
type GuardConfig struct {
	// MaxConns caps WebSocket connections in total (default 20,000).
	MaxConns int
	// MaxConnsPerIP caps connections from one client IP (default 100).
	MaxConnsPerIP int
	// AttemptsPerIP caps upgrade attempts per IP per second (default 20).
	AttemptsPerIP int
	// BanAfter is how many auth failures from one IP within BanWindow ban it (default 10).
	BanAfter int
	// BanWindow is the window of BanAfter (default 1 minute).
	BanWindow time.Duration
	// BanFor is how long a ban lasts (default 15 minutes).
	BanFor time.Duration
	// MaxTrackedIPs bounds the per-IP tables; past it the oldest idle entries go (default
	// 100,000), so spoofed sources cannot grow memory without bound.
	MaxTrackedIPs int
}

func (c GuardConfig) withDefaults() GuardConfig {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.MaxConns, DefaultMaxConns)
	def(&c.MaxConnsPerIP, DefaultMaxConnsPerIP)
	def(&c.AttemptsPerIP, DefaultAttemptsPerIP)
	def(&c.BanAfter, DefaultBanAfter)
	def(&c.MaxTrackedIPs, DefaultMaxTrackedIPs)
	if c.BanWindow <= 0 {
		c.BanWindow = DefaultBanWindow
	}
	if c.BanFor <= 0 {
		c.BanFor = DefaultBanFor
	}
	return c
}

// Verdict is a guard's answer to a new connection.
type Verdict uint8

// Verdicts, each with the HTTP status the upgrade gets.
const (
	Admit       Verdict = iota
	Banned              // 429: the IP is banned after repeated auth failures
	TooFast             // 429: too many attempts from the IP this second
	TooManyConn         // 503: the engine or the IP is at its connection cap
)

// String names the verdict for logs.
func (v Verdict) String() string {
	switch v {
	case Admit:
		return "admit"
	case Banned:
		return "banned"
	case TooFast:
		return "too_fast"
	case TooManyConn:
		return "too_many_connections"
	}
	return "unknown"
}

// ipState is what the guard knows of one IP.
type ipState struct {
	conns       int
	attempts    int
	attemptSec  int64
	failures    int
	failureFrom time.Time
	bannedUntil time.Time
	seen        time.Time
}

// Guard admits or refuses connections by IP. It is safe for concurrent use.
type Guard struct {
	cfg   GuardConfig
	clock clock.Clock

	mu    sync.Mutex
	total int
	ips   map[netip.Addr]*ipState
}

// NewGuard returns a guard with cfg (defaults filled in).
func NewGuard(cfg GuardConfig, clk clock.Clock) *Guard {
	return &Guard{cfg: cfg.withDefaults(), clock: clk, ips: map[netip.Addr]*ipState{}}
}

// Admit decides on a new connection from ip; on Admit the caller must call Release when the
// connection ends.
func (g *Guard) Admit(ip netip.Addr) Verdict {
	now := g.clock.Now()
	g.mu.Lock()
	defer g.mu.Unlock()
	st := g.state(ip, now)
	switch {
	case now.Before(st.bannedUntil):
		return Banned
	case !g.attempt(st, now):
		return TooFast
	case g.total >= g.cfg.MaxConns || st.conns >= g.cfg.MaxConnsPerIP:
		return TooManyConn
	}
	g.total++
	st.conns++
	return Admit
}

// attempt counts one attempt in the IP's current second.
func (g *Guard) attempt(st *ipState, now time.Time) bool {
	if sec := now.Unix(); sec != st.attemptSec {
		st.attemptSec, st.attempts = sec, 0
	}
	st.attempts++
	return st.attempts <= g.cfg.AttemptsPerIP
}

// Release ends a connection admitted for ip.
func (g *Guard) Release(ip netip.Addr) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.total--
	if st, ok := g.ips[ip]; ok && st.conns > 0 {
		st.conns--
	}
}

// AuthFailed records an auth failure from ip and reports whether it banned the IP now.
func (g *Guard) AuthFailed(ip netip.Addr) bool {
	now := g.clock.Now()
	g.mu.Lock()
	defer g.mu.Unlock()
	st := g.state(ip, now)
	if now.Sub(st.failureFrom) > g.cfg.BanWindow {
		st.failures, st.failureFrom = 0, now
	}
	st.failures++
	if st.failures < g.cfg.BanAfter || now.Before(st.bannedUntil) {
		return false
	}
	st.bannedUntil = now.Add(g.cfg.BanFor)
	st.failures = 0
	return true
}

// IsBanned reports whether ip is banned now.
func (g *Guard) IsBanned(ip netip.Addr) bool {
	return g.BannedFor(ip) > 0
}

// BannedFor returns how long ip stays banned: zero when it is not banned. It records no
// attempt, so REST calls may ask on every request.
func (g *Guard) BannedFor(ip netip.Addr) time.Duration {
	now := g.clock.Now()
	g.mu.Lock()
	defer g.mu.Unlock()
	st, ok := g.ips[ip]
	if !ok || !now.Before(st.bannedUntil) {
		return 0
	}
	return st.bannedUntil.Sub(now)
}

// Conns returns the number of admitted connections.
func (g *Guard) Conns() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.total
}

// state returns ip's entry, making room by dropping idle entries when the table is full.
// Called with mu held.
func (g *Guard) state(ip netip.Addr, now time.Time) *ipState {
	st, ok := g.ips[ip]
	if !ok {
		if len(g.ips) >= g.cfg.MaxTrackedIPs {
			g.evict(now)
		}
		st = &ipState{}
		g.ips[ip] = st
	}
	st.seen = now
	return st
}

// evict drops entries with no connection and no ban, oldest first when many; it keeps
// banned and connected IPs, so an attacker cannot flush its own ban by spraying addresses.
func (g *Guard) evict(now time.Time) {
	idle := now.Add(-g.cfg.BanWindow)
	for ip, st := range g.ips {
		if st.conns == 0 && !now.Before(st.bannedUntil) && st.seen.Before(idle) {
			delete(g.ips, ip)
		}
	}
	if len(g.ips) < g.cfg.MaxTrackedIPs {
		return
	}
	for ip, st := range g.ips {
		if st.conns == 0 && !now.Before(st.bannedUntil) {
			delete(g.ips, ip)
			if len(g.ips) < g.cfg.MaxTrackedIPs*9/10 {
				return
			}
		}
	}
}
