package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/whalecast/whalecast/internal/clock"
	"github.com/whalecast/whalecast/system"
)

// shutdownTimeout bounds a graceful stop after SIGINT or SIGTERM (issue 5: 5 s). A normal
// stop takes a few milliseconds, or about transport.CloseGrace (2 s) when a client does not
// answer its close frame. A stop that is not done in time ends the process anyway, with an
// error: the store is then left as after a crash, which loses nothing that was durable.
const shutdownTimeout = 5 * time.Second

// shutdownMargin is the part of shutdownTimeout kept for the process to exit after the
// engine's Shutdown gave up on its context.
const shutdownMargin = 500 * time.Millisecond

// serveFlags parses the flags of `engine serve` (and the environment) into a Config.
func serveFlags(args []string, stderr io.Writer) (system.Config, error) {
	cfg := system.DefaultConfig()
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.Addr, "addr", cfg.Addr, "listen address host:port")
	host := fs.String("host", "", "listen host (with --port, instead of --addr)")
	port := fs.Int("port", 0, "listen port (with --host, instead of --addr)")
	fs.StringVar(&cfg.DataDir, "data", cfg.DataDir,
		"data directory: Badger store and the key ring keys.json")
	fs.StringVar(&cfg.Source, "source", cfg.Source,
		"transaction source: sim, replay:PATH[,PATH...] (globs allowed), or "+
			"zmq:tcp://HOST:PORT (live from Bitcoin Core's -zmqpubrawtx, -zmqpubrawblock "+
			"and -zmqpubsequence, all on that address)")
	passwordFile := rpcFlags(fs, &cfg)
	fs.Var((*rateFlag)(&cfg.Rate), "rate",
		"transactions per second from the source: auto is 7 for sim, 50 for replay, "+
			"0 for zmq; 0 = as fast as the pipeline takes them")
	fs.BoolVar(&cfg.Loop, "loop", false, "repeat a replay forever")
	fs.Int64Var(&cfg.Seed, "seed", 0,
		"simulator seed: the same seed gives the same transactions (0: a new seed each start)")
	fs.Float64Var(&cfg.MinBTC, "min-btc", cfg.MinBTC,
		"whale threshold on total output, BTC (large_value and value_moved)")
	detectorFlags(fs, &cfg)
	fs.Int64Var(&cfg.SettleBlocks, "settle-blocks", cfg.SettleBlocks,
		"blocks after which an alert's outcome is final (confirmed, replaced, conflicted, "+
			"dropped) and it is no longer followed")
	fs.BoolVar(&cfg.NoAuth, "no-auth", false,
		"development mode: no auth message needed (refused unless --addr is loopback)")
	fs.BoolVar(&cfg.TestAlerts, "test", false, "send a marked test alert every 10 s")
	fs.DurationVar(&cfg.AuthTimeout, "auth-timeout", cfg.AuthTimeout,
		"time a client has to send its auth message")
	fs.DurationVar(&cfg.Retention, "retention", cfg.Retention,
		"how long alerts are kept (0 = forever)")
	tokenExpiry := fs.Duration("token-expiry", cfg.TokenExpiry,
		"default token lifetime of minted tokens (env "+envTokenExpiry+", in hours)")
	rateLimit := fs.Int("rate-limit-requests", cfg.RateLimit,
		"client messages allowed per window (env "+envRateLimit+")")
	rateWindow := fs.Duration("rate-limit-window", cfg.RateWindow,
		"rate limit window (env "+envRateWindow+", in seconds)")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn or error")
	securityFlags(fs, &cfg)
	operatorFlags(fs, &cfg)
	webhookFlags(fs, &cfg)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: engine serve [flags]\n\nFlags:\n")
		fs.PrintDefaults()
		fmt.Fprintf(stderr, "\nEnvironment:\n"+
			"  %s  extra HS256 signing key, at least 32 bytes "+
			"(default: the key ring DATA/keys.json)\n"+
			"  %s    default token lifetime in hours (24)\n"+
			"  %s   client messages per window (100)\n"+
			"  %s     rate limit window in seconds (60)\n"+
			"  %s  password of --rpc-user, unless --rpc-password-file is given\n"+
			"\nThe rate limit applies to each WebSocket session's messages and to each API\n"+
			"key's and each token client's REST calls.\n",
			envSecret, envTokenExpiry, envRateLimit, envRateWindow, envRPCPassword)
	}
	if err := fs.Parse(args); err != nil {
		return cfg, usageError(err)
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}

	set := setFlags(fs)
	if err := applyEnv(&cfg, set, *tokenExpiry, *rateLimit, *rateWindow); err != nil {
		return cfg, err
	}
	if err := readRPCPassword(&cfg, *passwordFile); err != nil {
		return cfg, err
	}
	if set["host"] || set["port"] {
		if set["addr"] {
			return cfg, fmt.Errorf("%w: give --addr or --host/--port, not both", errUsage)
		}
		h, p, _ := net.SplitHostPort(system.DefaultAddr)
		if set["host"] {
			h = *host
		}
		if set["port"] {
			p = strconv.Itoa(*port)
		}
		cfg.Addr = net.JoinHostPort(h, p)
	}
	if err := cfg.LogLevel.UnmarshalText([]byte(*logLevel)); err != nil {
		return cfg, fmt.Errorf("%w: --log-level %q: want debug, info, warn or error", errUsage,
			*logLevel)
	}
	return cfg, nil
}

// securityFlags adds the flags of the access layer: tokens, origins, proxies, connection
// guards and TLS.
func securityFlags(fs *flag.FlagSet, cfg *system.Config) {
	fs.DurationVar(&cfg.MaxTokenLifetime, "max-token-lifetime", cfg.MaxTokenLifetime,
		"longest token lifetime (exp - iat) accepted")
	fs.StringVar(&cfg.TokenIssuer, "token-issuer", "",
		"iss every token must carry (and refreshed tokens get); empty: not checked")
	fs.StringVar(&cfg.TokenAudience, "token-audience", "",
		"aud every token must carry; empty: not checked")
	fs.DurationVar(&cfg.TokenLeeway, "token-leeway", cfg.TokenLeeway,
		"clock skew tolerated on exp, iat and nbf (at most 30s)")
	fs.DurationVar(&cfg.RefreshWindow, "refresh-window", cfg.RefreshWindow,
		"how long before expiry a session may refresh its token in-band")
	fs.Var((*listFlag)(&cfg.AllowedOrigins), "allowed-origins",
		"browser `origins` allowed to open a WebSocket besides the engine's own, "+
			"comma-separated scheme://host[:port], or *; clients without Origin pass")
	fs.Var((*listFlag)(&cfg.AllowedHosts), "allowed-hosts",
		"Host `names` (name or IP, optionally :port, comma-separated) served besides "+
			"localhost and loopback IPs, e.g. behind a proxy; a loopback engine refuses "+
			"other Hosts with 421 (DNS rebinding), and a list refuses them on any address")
	fs.StringVar(&cfg.TrustedProxies, "trusted-proxies", "",
		"proxies (IPs or CIDRs, comma-separated) whose X-Forwarded-For names the client; "+
			"empty: the socket's peer is the client")
	g := &cfg.Guard
	fs.IntVar(&g.MaxConns, "max-conns", g.MaxConns, "WebSocket connections in total")
	fs.IntVar(&g.MaxConnsPerIP, "max-conns-per-ip", g.MaxConnsPerIP,
		"WebSocket connections per client IP")
	fs.IntVar(&g.AttemptsPerIP, "conn-rate-per-ip", g.AttemptsPerIP,
		"WebSocket connection attempts per client IP per second")
	fs.IntVar(&g.BanAfter, "ban-after", g.BanAfter,
		"auth failures from one IP within --ban-window that ban it")
	fs.DurationVar(&g.BanWindow, "ban-window", g.BanWindow, "window of --ban-after")
	fs.DurationVar(&g.BanFor, "ban-for", g.BanFor, "how long a ban lasts")
	fs.StringVar(&cfg.TLSCert, "tls-cert", "",
		"PEM certificate chain: serve https and wss only (with --tls-key; see engine cert)")
	fs.StringVar(&cfg.TLSKey, "tls-key", "", "PEM private key of --tls-cert, mode 0600")
}

// detectorFlags adds the flags that enable detectors and set their thresholds.
func detectorFlags(fs *flag.FlagSet, cfg *system.Config) {
	fs.Var((*listFlag)(&cfg.Detectors), "detectors",
		"enabled `detectors`, comma-separated, asked in the order fee_spike, consolidation, "+
			"value_moved, large_output, large_value (see docs/extending.md)")
	fs.Float64Var(&cfg.FeeSpikeFactor, "fee-spike-factor", cfg.FeeSpikeFactor,
		"fee_spike fires when the median fee rate of the last 200 transactions reaches this "+
			"many times the median of the last 5000 (needs --rpc for fees)")
	fs.Float64Var(&cfg.LargeOutputBTC, "large-output-btc", cfg.LargeOutputBTC,
		"large_output threshold on the largest single output, BTC")
	fs.IntVar(&cfg.ConsolidationMinInputs, "consolidation-min-inputs",
		cfg.ConsolidationMinInputs, "consolidation: fewest inputs")
	fs.IntVar(&cfg.ConsolidationMaxOutputs, "consolidation-max-outputs",
		cfg.ConsolidationMaxOutputs, "consolidation: most outputs")
	fs.Float64Var(&cfg.ConsolidationMinBTC, "consolidation-min-btc", cfg.ConsolidationMinBTC,
		"consolidation threshold on total output, BTC")
}

// listFlag is a comma-separated list; empty items are dropped.
type listFlag []string

// String implements flag.Value.
func (l *listFlag) String() string {
	if l == nil {
		return ""
	}
	return strings.Join(*l, ",")
}

// Set implements flag.Value.
func (l *listFlag) Set(s string) error {
	*l = nil
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			*l = append(*l, item)
		}
	}
	return nil
}

// applyEnv fills what the environment gives, unless the matching flag was set.
func applyEnv(cfg *system.Config, set map[string]bool, expiry time.Duration, limit int,
	window time.Duration) error {
	var err error
	cfg.Secret = os.Getenv(envSecret)
	cfg.TokenExpiry, cfg.RateLimit, cfg.RateWindow = expiry, limit, window
	if !set["token-expiry"] {
		if cfg.TokenExpiry, err = envHours(envTokenExpiry, expiry); err != nil {
			return err
		}
	}
	if !set["rate-limit-requests"] {
		if cfg.RateLimit, err = envInt(envRateLimit, limit); err != nil {
			return err
		}
	}
	if !set["rate-limit-window"] {
		if cfg.RateWindow, err = envSeconds(envRateWindow, window); err != nil {
			return err
		}
	}
	return nil
}

// serve runs the engine until SIGINT or SIGTERM, then stops it gracefully.
func serve(args []string, stderr io.Writer) error {
	cfg, err := serveFlags(args, stderr)
	if err != nil {
		return err
	}
	log := system.NewLogger(stderr, cfg.LogLevel)

	engine, err := system.Open(cfg, log, clock.Real{})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		_ = engine.Shutdown(context.Background())
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	if err := engine.Start(); err != nil {
		_ = ln.Close()
		_ = engine.Shutdown(context.Background())
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	served := make(chan error, 1)
	go func() { served <- engine.Serve(ln) }()
	select {
	case <-ctx.Done():
		log.Info("shutting down", "signal", "received")
	case err := <-served:
		if err != nil {
			log.Error("server failed", "err", err)
		}
	}
	// A second signal now ends the process at once.
	stop()
	return shutdown(engine, log)
}

// shutdown stops the engine within shutdownTimeout. Should its Shutdown hang past its
// context (a disk that does not answer), it returns an error without waiting any longer.
func shutdown(engine *system.Engine, log *slog.Logger) error {
	deadline := time.Now().Add(shutdownTimeout)
	sctx, cancel := context.WithDeadline(context.Background(), deadline.Add(-shutdownMargin))
	defer cancel()
	stopped := make(chan error, 1)
	go func() { stopped <- engine.Shutdown(sctx) }()
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	select {
	case err := <-stopped:
		return err
	case <-timer.C:
		log.Error("shutdown not done in time: exiting anyway", "after", shutdownTimeout)
		return fmt.Errorf("shutdown not done within %v", shutdownTimeout)
	}
}

// rateFlag is --rate: a non-negative number, or "auto" (negative inside) for the source's
// default.
type rateFlag float64

// String implements flag.Value: "auto" for the source's default.
func (r *rateFlag) String() string {
	if r == nil || *r < 0 {
		return "auto"
	}
	return strconv.FormatFloat(float64(*r), 'f', -1, 64)
}

// Set implements flag.Value.
func (r *rateFlag) Set(s string) error {
	if s == "auto" {
		*r = -1
		return nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
		return fmt.Errorf("want auto or a number of transactions per second, 0 or more")
	}
	*r = rateFlag(v)
	return nil
}
