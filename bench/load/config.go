package load

import (
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/url"
	"time"

	"github.com/whalecast/whalecast/transport"
)

// Defaults and bounds of Config.
const (
	// MaxClients bounds Config.Clients.
	MaxClients = 100_000
	// MaxDuration bounds Config.Duration.
	MaxDuration = 24 * time.Hour
	// DefaultRamp is the connection rate when Config.Ramp is zero, per second.
	DefaultRamp = 500
	// DefaultPublishEvery is the interval of publish calls when Config.PublishEvery is zero.
	DefaultPublishEvery = time.Second
	// MaxPublishRate bounds Config.PublishRate, in alerts per second.
	MaxPublishRate = 10_000
	// MaxPublished bounds the alerts one run publishes; publishing stops there.
	MaxPublished = 1 << 20
	// DefaultHandshakeTimeout bounds a client's dial, upgrade and wait for its welcome.
	DefaultHandshakeTimeout = 10 * time.Second
	// DefaultDrain is how long the run waits, after the last publish call, for the
	// deliveries still in flight.
	DefaultDrain = 3 * time.Second
	// MaxDialsInFlight bounds the handshakes in progress at once.
	MaxDialsInFlight = 256
)

// ErrConfig is wrapped by the errors of Config.Check.
var ErrConfig = errors.New("load: invalid configuration")

// AuthMode says how a client presents its token.
type AuthMode string

// The ways a client authenticates.
const (
	// AuthMessage sends the token as the first message, as browsers do (the default).
	AuthMessage AuthMode = "message"
	// AuthHeader sends it as Authorization: Bearer on the upgrade request.
	AuthHeader AuthMode = "header"
)

// Config is one run of the load tool. The zero value of an optional field is its default.
type Config struct {
	// URL is the WebSocket endpoint, ws:// or wss://. Required.
	URL string
	// AllowRemote lets URL name a host that is not a loopback address (127.0.0.0/8, ::1,
	// localhost); without it such a URL is refused, so that a typo cannot load a server
	// nobody meant to load.
	AllowRemote bool
	// PublishURL is the admin publish route. Empty derives it from URL: the same host with
	// http(s) and /api/v1/admin/publish.
	PublishURL string
	// Clients is how many WebSocket clients to open, 1 to MaxClients. Required.
	Clients int
	// Duration is how long the run lasts from its first dial, ramp included; the clients
	// stay until then, plus Drain. 1 s to MaxDuration. Required.
	Duration time.Duration
	// Ramp is how many clients start per second; 0 means DefaultRamp, and negative starts
	// them as fast as MaxDialsInFlight handshakes allow.
	Ramp float64
	// Credentials are the tokens of the clients and of the publish calls; the zero value
	// sends none.
	Credentials Credentials
	// Auth says how clients present their token; empty means AuthMessage.
	Auth AuthMode
	// PublishRate is how many alerts per second the run publishes; 0 publishes none.
	PublishRate float64
	// PublishEvery is the interval between publish calls; 0 means DefaultPublishEvery.
	// Each call publishes what the rate owes since the last one, at most
	// transport.MaxPublishCount.
	PublishEvery time.Duration
	// PublishDelay is how long after the run's start publishing begins, so that a run can
	// measure with every client connected: a ramp of N clients at R a second takes N/R.
	// Below Duration; 0 publishes from the start.
	PublishDelay time.Duration
	// HandshakeTimeout bounds a client's connection and wait for its welcome; 0 means
	// DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration
	// Drain is how long to wait after the last publish for deliveries still in flight; the
	// wait ends early once every client has what it is owed. 0 means DefaultDrain.
	Drain time.Duration
	// Stalled is how many of the clients (the first ones) stop reading once they have their
	// welcome, as a client whose network or process hangs would: the run shows whether the
	// others' latency suffers. They are left out of the delivery and latency figures; the
	// result counts how the server ended them (a 4009 close is expected). 0 to Clients-1.
	Stalled int
	// PID is the server's process id, to read its resident memory from /proc; 0 reads none.
	PID int
	// Progress receives a line a second while the run goes; nil shows none.
	Progress io.Writer
	// ProgressInPlace rewrites the progress line in place (a terminal) instead of adding
	// one line a second.
	ProgressInPlace bool
}

// withDefaults returns c with the zero optional fields set to their defaults.
func (c Config) withDefaults() Config {
	if c.Ramp == 0 {
		c.Ramp = DefaultRamp
	}
	if c.Auth == "" {
		c.Auth = AuthMessage
	}
	if c.PublishEvery == 0 {
		c.PublishEvery = DefaultPublishEvery
	}
	if c.HandshakeTimeout == 0 {
		c.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if c.Drain == 0 {
		c.Drain = DefaultDrain
	}
	return c
}

// Check reports the first problem of c (with its defaults applied), or nil.
func (c Config) Check() error {
	c = c.withDefaults()
	u, err := url.Parse(c.URL)
	switch {
	case err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "":
		return fmt.Errorf("%w: url %q: want ws://HOST:PORT/PATH or wss://…", ErrConfig, c.URL)
	case !c.AllowRemote && !isLoopbackHost(u.Hostname()):
		return fmt.Errorf("%w: url %q is not on this machine (a loopback address); "+
			"allow it explicitly to load a remote server", ErrConfig, c.URL)
	case c.Clients < 1 || c.Clients > MaxClients:
		return fmt.Errorf("%w: clients %d: want 1 to %d", ErrConfig, c.Clients, MaxClients)
	case c.Duration < time.Second || c.Duration > MaxDuration:
		return fmt.Errorf("%w: duration %v: want 1s to %v", ErrConfig, c.Duration,
			MaxDuration)
	case math.IsNaN(c.Ramp) || math.IsInf(c.Ramp, 0):
		return fmt.Errorf("%w: ramp %v", ErrConfig, c.Ramp)
	case c.Auth != AuthMessage && c.Auth != AuthHeader:
		return fmt.Errorf("%w: auth %q: want message or header", ErrConfig, c.Auth)
	case math.IsNaN(c.PublishRate) || c.PublishRate < 0 || c.PublishRate > MaxPublishRate:
		return fmt.Errorf("%w: publish rate %v: want 0 to %d alerts/s", ErrConfig,
			c.PublishRate, MaxPublishRate)
	case c.PublishEvery < 10*time.Millisecond || c.PublishEvery > time.Minute:
		return fmt.Errorf("%w: publish every %v: want 10ms to 1m", ErrConfig, c.PublishEvery)
	case c.PublishRate*c.PublishEvery.Seconds() > transport.MaxPublishCount:
		return fmt.Errorf("%w: %v alerts/s every %v is over %d alerts a call: publish "+
			"more often", ErrConfig, c.PublishRate, c.PublishEvery, transport.MaxPublishCount)
	case c.PublishDelay < 0 || c.PublishDelay >= c.Duration:
		return fmt.Errorf("%w: publish delay %v: want 0 up to the duration %v", ErrConfig,
			c.PublishDelay, c.Duration)
	case c.HandshakeTimeout < 0 || c.Drain < 0 || c.Drain > time.Minute:
		return fmt.Errorf("%w: negative timeout, or drain over 1m", ErrConfig)
	case c.Stalled < 0 || (c.Stalled > 0 && c.Stalled >= c.Clients):
		return fmt.Errorf("%w: stalled %d: want 0 to clients-1 (%d)", ErrConfig, c.Stalled,
			c.Clients-1)
	case c.PID < 0:
		return fmt.Errorf("%w: pid %d", ErrConfig, c.PID)
	}
	if c.PublishURL != "" {
		p, err := url.Parse(c.PublishURL)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			return fmt.Errorf("%w: publish url %q: want http(s)://HOST:PORT/PATH", ErrConfig,
				c.PublishURL)
		}
		if !c.AllowRemote && !isLoopbackHost(p.Hostname()) {
			return fmt.Errorf("%w: publish url %q is not on this machine", ErrConfig,
				c.PublishURL)
		}
	}
	return nil
}

// publishURL returns the publish route: PublishURL, or the one of URL's host.
func (c Config) publishURL() string {
	if c.PublishURL != "" {
		return c.PublishURL
	}
	u, _ := url.Parse(c.URL)
	scheme := "http"
	if u.Scheme == "wss" {
		scheme = "https"
	}
	return (&url.URL{Scheme: scheme, Host: u.Host, Path: "/api/v1/admin/publish"}).String()
}

// statsURL returns the engine's stats route on the publish route's host.
func (c Config) statsURL() string {
	u, _ := url.Parse(c.publishURL())
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: "/api/v1/stats"}).String()
}

// isLoopbackHost reports whether host is localhost or a loopback IP address.
func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
