package system

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"strings"
	"time"

	"github.com/whalecast/whalecast/actors"
	"github.com/whalecast/whalecast/internal/alert"
	"github.com/whalecast/whalecast/internal/auth"
	"github.com/whalecast/whalecast/transport"
)

// Defaults of Config. docs/operations.md and `engine serve --help` show the same values.
const (
	DefaultAddr        = "127.0.0.1:8765"
	DefaultDataDir     = "./data"
	DefaultSource      = "sim"
	DefaultSimRate     = 7
	DefaultReplayRate  = 50
	DefaultMinBTC      = 100
	DefaultAuthTimeout = 5 * time.Second
	DefaultTokenExpiry = 24 * time.Hour
	DefaultRateLimit   = 100
	DefaultRateWindow  = 60 * time.Second
	DefaultRetention   = 90 * 24 * time.Hour

	DefaultRefreshWindow = time.Hour

	DefaultDetectors           = "large_value"
	DefaultLargeOutputBTC      = 100
	DefaultConsolidationMinBTC = 10
)

// Config is the engine's whole configuration. cmd/engine fills it from flags and the
// environment; Validate checks it before anything starts.
type Config struct {
	// Addr is the listen address, host:port.
	Addr string
	// DataDir holds Badger (DataDir/badger) and the token key ring (DataDir/keys.json).
	DataDir string
	// Source is "sim", "replay:PATH[,PATH...]" (globs allowed) or "zmq:tcp://HOST:PORT"
	// (Bitcoin Core's ZMQ publisher of rawtx, rawblock and sequence).
	Source string
	// RPC is Bitcoin Core's JSON-RPC URL, http://HOST:PORT (or https), read by a zmq source
	// for fees and to resync after a gap; empty turns both off. Only with a zmq source.
	RPC string
	// RPCCookieFile is the node's .cookie file, the usual way to log in to RPC.
	RPCCookieFile string
	// RPCUser logs in to RPC with RPCPassword, instead of RPCCookieFile.
	RPCUser string
	// RPCPassword is RPCUser's password; it shows as [redacted] in fmt and logs.
	RPCPassword Redacted
	// Rate is transactions per second from the source; negative picks the source's default
	// (7 for sim, 50 for replay, 0 for zmq); 0 feeds as fast as the pipeline takes them.
	Rate float64
	// Loop repeats a replay forever.
	Loop bool
	// Seed makes the simulator deterministic; 0 picks a new seed at each start (logged), so
	// that a restart on the same data directory does not replay transactions already
	// alerted, which the store would drop as repeats.
	Seed int64
	// MinBTC is the whale threshold on a transaction's total output: the threshold of the
	// large_value and value_moved detectors.
	MinBTC float64
	// Detectors names the enabled detectors (default large_value). They are asked in the
	// fixed order of actors.BuiltinRegistry, whatever the order given here.
	Detectors []string
	// LargeOutputBTC is large_output's threshold on the largest single output (default 100).
	LargeOutputBTC float64
	// ConsolidationMinInputs is the fewest inputs of a consolidation (default 20).
	ConsolidationMinInputs int
	// ConsolidationMaxOutputs is the most outputs of a consolidation (default 2).
	ConsolidationMaxOutputs int
	// ConsolidationMinBTC is a consolidation's threshold on its total output (default 10).
	ConsolidationMinBTC float64
	// FeeSpikeFactor is fee_spike's trigger: the recent median fee rate over the baseline
	// median (default 2).
	FeeSpikeFactor float64
	// SettleBlocks is K: an alert's outcome is final, and the engine stops following it, K
	// blocks after it was mined, replaced, conflicted or dropped (default 6).
	SettleBlocks int64
	// NoAuth serves clients without authentication; refused unless Addr is loopback.
	NoAuth bool
	// TestAlerts sends a marked test alert every 10 s.
	TestAlerts bool
	// AuthTimeout is how long a new connection may take to send its auth message.
	AuthTimeout time.Duration
	// TokenExpiry is the lifetime of tokens minted by `engine token` by default.
	TokenExpiry time.Duration
	// RateLimit is how many messages a client may send per RateWindow.
	RateLimit int
	// RateWindow is the rate limit's window.
	RateWindow time.Duration
	// Retention is how long alerts are kept; 0 keeps them forever.
	Retention time.Duration
	// LogLevel is the lowest level logged.
	LogLevel slog.Level
	// Secret is WEBSOCKET_SECRET_KEY when set; empty means the key ring in DataDir/keys.json.
	Secret string

	// MaxTokenLifetime is the longest exp - iat a token may have (default 7 days).
	MaxTokenLifetime time.Duration
	// TokenIssuer, when set, is the iss every token must carry (and refreshed ones get).
	TokenIssuer string
	// TokenAudience, when set, is the aud every token must carry.
	TokenAudience string
	// TokenLeeway is the clock skew tolerated on exp, iat and nbf (at most 30 s).
	TokenLeeway time.Duration
	// RefreshWindow is how long before expiry a session may refresh its token in-band.
	RefreshWindow time.Duration
	// AllowedOrigins lists the browser origins (scheme://host[:port]) allowed to open a
	// WebSocket besides the engine's own; "*" allows any. Clients that send no Origin (not
	// browsers) are always allowed.
	AllowedOrigins []string
	// AllowedHosts lists Host header values (name or IP, optionally :port) served besides
	// localhost and loopback IPs. An engine listening on loopback refuses every other Host
	// with 421, against DNS rebinding; a non-empty list does the same on any address. Empty:
	// loopback names only on a loopback address, no check elsewhere.
	AllowedHosts []string
	// TrustedProxies lists the proxies (IPs or CIDRs, comma-separated) whose
	// X-Forwarded-For names the client; empty trusts none.
	TrustedProxies string
	// Guard caps connections and bans IPs after repeated auth failures.
	Guard transport.GuardConfig
	// TLSCert and TLSKey, both set, serve https and wss only (TLS 1.2 at least).
	TLSCert, TLSKey string
	// Operator sets up the accuracy monitor and the operator's notifications.
	Operator OperatorConfig
	// Webhooks bounds customer webhooks and names the ranges they may reach.
	Webhooks WebhooksConfig
}

// DefaultConfig returns the configuration of a bare `engine serve`.
func DefaultConfig() Config {
	return Config{
		Addr:        DefaultAddr,
		DataDir:     DefaultDataDir,
		Source:      DefaultSource,
		Rate:        -1,
		MinBTC:      DefaultMinBTC,
		AuthTimeout: DefaultAuthTimeout,
		TokenExpiry: DefaultTokenExpiry,
		RateLimit:   DefaultRateLimit,
		RateWindow:  DefaultRateWindow,
		Retention:   DefaultRetention,
		LogLevel:    slog.LevelInfo,

		Detectors:               []string{DefaultDetectors},
		LargeOutputBTC:          DefaultLargeOutputBTC,
		ConsolidationMinInputs:  actors.DefaultConsolidationMinInputs,
		ConsolidationMaxOutputs: actors.DefaultConsolidationMaxOutputs,
		ConsolidationMinBTC:     DefaultConsolidationMinBTC,
		SettleBlocks:            actors.DefaultSettleBlocks,
		Operator:                defaultOperator(),
		FeeSpikeFactor:          actors.DefaultFeeSpikeFactor,

		MaxTokenLifetime: auth.DefaultMaxLifetime,
		RefreshWindow:    DefaultRefreshWindow,
		Guard: transport.GuardConfig{
			MaxConns:      transport.DefaultMaxConns,
			MaxConnsPerIP: transport.DefaultMaxConnsPerIP,
			AttemptsPerIP: transport.DefaultAttemptsPerIP,
			BanAfter:      transport.DefaultBanAfter,
			BanWindow:     transport.DefaultBanWindow,
			BanFor:        transport.DefaultBanFor,
		},
	}
}

// maxSettleBlocks bounds --settle-blocks: a day of blocks.
const maxSettleBlocks = 144

// ErrConfig is wrapped by every configuration error.
var ErrConfig = errors.New("system: invalid configuration")

// Validate reports the first problem of c, or nil.
func (c Config) Validate() error {
	host, port, err := net.SplitHostPort(c.Addr)
	switch {
	case err != nil:
		return fmt.Errorf("%w: --addr %q: %v", ErrConfig, c.Addr, err)
	case port == "":
		return fmt.Errorf("%w: --addr %q has no port", ErrConfig, c.Addr)
	case c.NoAuth && !IsLoopback(host):
		return fmt.Errorf("%w: --no-auth is refused on %q: it serves alerts to anyone, so "+
			"it only runs on a loopback address such as 127.0.0.1", ErrConfig, c.Addr)
	case c.DataDir == "":
		return fmt.Errorf("%w: --data is empty", ErrConfig)
	case math.IsNaN(c.FeeSpikeFactor) || c.FeeSpikeFactor <= 1 || c.FeeSpikeFactor > 100:
		return fmt.Errorf("%w: --fee-spike-factor %v: want more than 1, at most 100",
			ErrConfig, c.FeeSpikeFactor)
	case c.SettleBlocks < 1 || c.SettleBlocks > maxSettleBlocks:
		return fmt.Errorf("%w: --settle-blocks %d is outside 1..%d", ErrConfig, c.SettleBlocks,
			maxSettleBlocks)
	case c.MinBTC < 0 || c.MinBTC > 21_000_000:
		return fmt.Errorf("%w: --min-btc %v is outside 0..21000000", ErrConfig, c.MinBTC)
	case c.AuthTimeout <= 0:
		return fmt.Errorf("%w: --auth-timeout must be positive", ErrConfig)
	case c.TokenExpiry <= 0:
		return fmt.Errorf("%w: TOKEN_EXPIRY_HOURS must be positive", ErrConfig)
	case c.RateLimit <= 0 || c.RateWindow <= 0:
		return fmt.Errorf("%w: RATE_LIMIT_REQUESTS and RATE_LIMIT_WINDOW must be positive",
			ErrConfig)
	case c.Retention < 0:
		return fmt.Errorf("%w: --retention must not be negative", ErrConfig)
	case c.MaxTokenLifetime <= 0:
		return fmt.Errorf("%w: --max-token-lifetime must be positive", ErrConfig)
	case c.TokenExpiry > c.MaxTokenLifetime:
		return fmt.Errorf("%w: TOKEN_EXPIRY_HOURS (%v) is over --max-token-lifetime (%v)",
			ErrConfig, c.TokenExpiry, c.MaxTokenLifetime)
	case c.TokenLeeway < 0 || c.TokenLeeway > auth.MaxLeeway:
		return fmt.Errorf("%w: --token-leeway must be from 0 to %v", ErrConfig, auth.MaxLeeway)
	case c.RefreshWindow <= 0:
		return fmt.Errorf("%w: --refresh-window must be positive", ErrConfig)
	case (c.TLSCert == "") != (c.TLSKey == ""):
		return fmt.Errorf("%w: --tls-cert and --tls-key go together", ErrConfig)
	}
	if err := c.validateGuard(); err != nil {
		return err
	}
	if err := c.Operator.validate(); err != nil {
		return err
	}
	if err := c.Webhooks.validate(); err != nil {
		return err
	}
	if _, err := c.Rules(); err != nil {
		return err
	}
	if _, err := transport.ParseProxyList(c.TrustedProxies); err != nil {
		return fmt.Errorf("%w: --trusted-proxies: %v", ErrConfig, err)
	}
	if err := transport.CheckOrigins(c.AllowedOrigins); err != nil {
		return fmt.Errorf("%w: --allowed-origins: %v", ErrConfig, err)
	}
	if err := transport.CheckHosts(c.AllowedHosts); err != nil {
		return fmt.Errorf("%w: --allowed-hosts: %v", ErrConfig, err)
	}
	if _, _, err := ParseSource(c.Source); err != nil {
		return err
	}
	return c.validateRPC()
}

// validateGuard refuses negative guard settings; zero means the guard's default.
func (c Config) validateGuard() error {
	g := c.Guard
	for _, f := range []struct {
		flag string
		bad  bool
	}{
		{"--max-conns", g.MaxConns < 0},
		{"--max-conns-per-ip", g.MaxConnsPerIP < 0},
		{"--conn-rate-per-ip", g.AttemptsPerIP < 0},
		{"--ban-after", g.BanAfter < 0},
		{"--ban-window", g.BanWindow < 0},
		{"--ban-for", g.BanFor < 0},
	} {
		if f.bad {
			return fmt.Errorf("%w: %s must not be negative", ErrConfig, f.flag)
		}
	}
	if g.MaxConns > 0 && g.MaxConnsPerIP > g.MaxConns {
		return fmt.Errorf("%w: --max-conns-per-ip (%d) is over --max-conns (%d)", ErrConfig,
			g.MaxConnsPerIP, g.MaxConns)
	}
	return nil
}

// DetectorConfig returns the thresholds of the built-in detectors, in satoshis.
func (c Config) DetectorConfig() actors.DetectorConfig {
	return actors.DetectorConfig{
		MinSat:                  alert.SatFromBTC(c.MinBTC),
		LargeOutputSat:          alert.SatFromBTC(c.LargeOutputBTC),
		ConsolidationMinInputs:  c.ConsolidationMinInputs,
		ConsolidationMaxOutputs: c.ConsolidationMaxOutputs,
		ConsolidationMinSat:     alert.SatFromBTC(c.ConsolidationMinBTC),
		FeeSpikeFactor:          c.FeeSpikeFactor,
	}
}

// Rules checks the detector settings and returns the enabled rules in priority order.
func (c Config) Rules() ([]actors.Rule, error) {
	const maxBTC = 21_000_000
	switch {
	case len(c.Detectors) == 0:
		return nil, fmt.Errorf("%w: --detectors is empty", ErrConfig)
	case c.LargeOutputBTC < 0 || c.LargeOutputBTC > maxBTC:
		return nil, fmt.Errorf("%w: --large-output-btc %v is outside 0..21000000", ErrConfig,
			c.LargeOutputBTC)
	case c.ConsolidationMinBTC < 0 || c.ConsolidationMinBTC > maxBTC:
		return nil, fmt.Errorf("%w: --consolidation-min-btc %v is outside 0..21000000",
			ErrConfig, c.ConsolidationMinBTC)
	case c.ConsolidationMinInputs < 1:
		return nil, fmt.Errorf("%w: --consolidation-min-inputs must be at least 1", ErrConfig)
	case c.ConsolidationMaxOutputs < 1:
		return nil, fmt.Errorf("%w: --consolidation-max-outputs must be at least 1", ErrConfig)
	}
	rules, err := actors.BuiltinRegistry().Build(c.Detectors, c.DetectorConfig())
	if err != nil {
		return nil, fmt.Errorf("%w: --detectors: %v", ErrConfig, err)
	}
	return rules, nil
}

// IsLoopback reports whether host names only the local machine.
func IsLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// ParseSource splits --source into its kind ("sim", "replay" or "zmq") and its argument.
// A zmq endpoint must be tcp://HOST:PORT.
func ParseSource(s string) (kind, arg string, err error) {
	switch {
	case strings.HasPrefix(s, "zmq:"):
		arg = strings.TrimPrefix(s, "zmq:")
		if err := actors.ValidateZMQEndpoint(arg); err != nil {
			return "", "", fmt.Errorf("%w: --source %q: %w", ErrConfig, s, err)
		}
		return "zmq", arg, nil
	case s == "sim":
		return "sim", "", nil
	case strings.HasPrefix(s, "replay:") && len(s) > len("replay:"):
		return "replay", strings.TrimPrefix(s, "replay:"), nil
	}
	return "", "", fmt.Errorf("%w: --source %q: want sim, replay:PATH[,PATH...] "+
		"or zmq:tcp://HOST:PORT", ErrConfig, s)
}

// Lifecycle returns the configuration of the alert lifecycle.
func (c Config) Lifecycle() actors.LifecycleConfig {
	return actors.LifecycleConfig{SettleBlocks: c.SettleBlocks}
}

// SourceRate returns the effective rate: c.Rate, or the source's default when negative.
func (c Config) SourceRate() float64 {
	if c.Rate >= 0 {
		return c.Rate
	}
	switch kind, _, _ := ParseSource(c.Source); kind {
	case "replay":
		return DefaultReplayRate
	case "zmq":
		return 0
	}
	return DefaultSimRate
}

// LogValue keeps the secret out of logs.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("addr", c.Addr),
		slog.String("data", c.DataDir),
		slog.String("source", c.Source),
		slog.Attr{Key: "rpc", Value: c.rpcLogValue()},
		slog.Float64("rate", c.SourceRate()),
		slog.Int64("seed", c.Seed),
		slog.Float64("min_btc", c.MinBTC),
		slog.String("detectors", strings.Join(c.Detectors, ",")),
		slog.Bool("no_auth", c.NoAuth),
		slog.Bool("test_alerts", c.TestAlerts),
		slog.Bool("secret_from_env", c.Secret != ""),
		slog.Bool("tls", c.TLSCert != ""),
		slog.Int("allowed_origins", len(c.AllowedOrigins)),
		slog.Int("allowed_hosts", len(c.AllowedHosts)),
		slog.Bool("trusted_proxies", c.TrustedProxies != ""),
		slog.Int("max_conns", c.Guard.MaxConns),
		slog.Int("max_conns_per_ip", c.Guard.MaxConnsPerIP),
		slog.Int64("settle_blocks", c.SettleBlocks),
		slog.Any("operator", c.Operator),
		slog.Any("webhooks", c.Webhooks),
	)
}
