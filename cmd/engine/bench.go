package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/whalecast/whalecast/bench/load"
	"github.com/whalecast/whalecast/internal/auth"
)

const benchUsage = `Usage: engine bench [--url ws://127.0.0.1:8765/ws] --clients N --duration D
                    (--secret-file F | --data DIR | --token T | --no-auth) [flags]

Opens N WebSocket clients against --url (each authenticates and subscribes with
min_btc 0), holds them for D while publishing marked test alerts (detector "bench")
through POST /api/v1/admin/publish, and measures each alert's latency from its
first_seen to its receipt by each client, and what was lost or received twice.
It shows a line a second, then a table; --out DIR adds bench.json and report.html.

Tokens: --secret-file F (the engine's WEBSOCKET_SECRET_KEY, kept in a file) or
--data DIR (the engine's key ring, DIR/keys.json) mint one per client and an admin
one for publishing. --token T uses one token for every client, with --admin-token
(or $` + envAdminToken + `) for publishing. --no-auth sends none: for an engine run with
--no-auth (publishing still needs --admin-token) or for bench/floor.

The engine caps connections per IP: from one machine, start it with
--max-conns-per-ip and --conn-rate-per-ip above N. Ctrl-C stops the run early and
still prints the table. Only loopback URLs are loaded unless --allow-remote.

Flags:
`

// bench runs `engine bench`: a load test of a running engine (or bench/floor).
func bench(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, benchUsage)
		fs.PrintDefaults()
	}
	cfg := load.Config{}
	fs.StringVar(&cfg.URL, "url", "ws://127.0.0.1:8765/ws", "WebSocket endpoint, ws:// or wss://")
	fs.BoolVar(&cfg.AllowRemote, "allow-remote", false,
		"allow a --url that is not on this machine")
	fs.IntVar(&cfg.Clients, "clients", 100, fmt.Sprintf("clients to open, 1 to %d",
		load.MaxClients))
	fs.DurationVar(&cfg.Duration, "duration", 10*time.Second,
		"how long the run lasts, ramp included (1s to 24h)")
	ramp := fs.Float64("ramp", load.DefaultRamp,
		"clients started per second; 0 starts them as fast as the handshakes go")
	secretFile := fs.String("secret-file", "",
		"file holding the engine's HS256 secret (its WEBSOCKET_SECRET_KEY), mode 0600")
	data := fs.String("data", "", "the engine's data directory: mint from its key ring")
	token := fs.String("token", "", "one token for every client (read, and write to "+
		"subscribe)")
	adminToken := fs.String("admin-token", "", "token with the admin permission for "+
		"publishing (default $"+envAdminToken+", or minted)")
	noAuth := fs.Bool("no-auth", false, "send no token (engine --no-auth, bench/floor)")
	authMode := fs.String("auth", string(load.AuthMessage),
		"how clients send their token: message (first message) or header (Bearer)")
	fs.Float64Var(&cfg.PublishRate, "publish-rate", 1, "alerts published per second; 0 "+
		"publishes none")
	fs.DurationVar(&cfg.PublishEvery, "publish-every", load.DefaultPublishEvery,
		"interval between publish calls (each publishes what the rate owes, at most 100)")
	fs.DurationVar(&cfg.PublishDelay, "publish-delay", 0, "start publishing this long after "+
		"the run starts (after the ramp: N clients at R/s take N/R)")
	fs.StringVar(&cfg.PublishURL, "publish-url", "",
		"publish route (default: --url's host, /api/v1/admin/publish)")
	fs.DurationVar(&cfg.Drain, "drain", load.DefaultDrain,
		"wait after the last publish for deliveries in flight (ends early when all came)")
	fs.DurationVar(&cfg.HandshakeTimeout, "handshake-timeout", load.DefaultHandshakeTimeout,
		"bound on a client's connection, authentication and welcome")
	fs.IntVar(&cfg.Stalled, "stalled", 0, "clients (of --clients) that stop reading after "+
		"their welcome, to see whether the others' latency suffers")
	fs.IntVar(&cfg.PID, "pid", 0, "the server's process id: report its memory per connection")
	out := fs.String("out", "", "directory for bench.json and report.html")
	if err := fs.Parse(args); err != nil {
		return usageError(err)
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	cfg.Ramp = *ramp
	if *ramp == 0 {
		cfg.Ramp = -1
	}
	cfg.Auth = load.AuthMode(*authMode)
	if *adminToken == "" {
		*adminToken = os.Getenv(envAdminToken)
	}
	creds, err := benchCredentials(*secretFile, *data, *token, *adminToken, *noAuth,
		load.TokenTTL(cfg.Duration+cfg.Drain))
	if err != nil {
		return err
	}
	cfg.Credentials = creds
	if err := cfg.Check(); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if creds.AdminToken == "" && cfg.PublishRate > 0 && !*noAuth {
		return fmt.Errorf("%w: publishing needs an admin token: --admin-token or $%s",
			errUsage, envAdminToken)
	}
	return runBench(cfg, *out, stdout, stderr)
}

// benchCredentials returns the run's tokens from exactly one source.
func benchCredentials(secretFile, data, token, adminToken string, noAuth bool,
	ttl time.Duration) (load.Credentials, error) {
	given := 0
	for _, set := range []bool{secretFile != "", data != "", token != "", noAuth} {
		if set {
			given++
		}
	}
	if given != 1 {
		return load.Credentials{}, fmt.Errorf("%w: give exactly one of --secret-file, "+
			"--data, --token and --no-auth", errUsage)
	}

	var minter *load.Minter
	var err error
	switch {
	case noAuth:
		return load.Credentials{AdminToken: adminToken}, nil
	case token != "":
		return load.Credentials{AdminToken: adminToken,
			ClientToken: func(int) (string, error) { return token, nil }}, nil
	case secretFile != "":
		secret, rerr := load.ReadSecretFile(secretFile)
		if rerr != nil {
			return load.Credentials{}, rerr
		}
		minter, err = load.NewSecretMinter(secret, ttl)
		clear(secret)
	default:
		minter, err = load.NewRingMinter(data, os.Getenv(auth.EnvSecretKey), ttl)
	}
	if err != nil {
		return load.Credentials{}, err
	}
	creds, err := minter.Credentials()
	if err == nil && adminToken != "" {
		creds.AdminToken = adminToken
	}
	return creds, err
}

// runBench runs the load test until it ends or a signal stops it, then prints the table
// and writes the report. A second Ctrl-C kills the process as usual.
func runBench(cfg load.Config, out string, stdout, stderr io.Writer) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	context.AfterFunc(ctx, stop)
	cfg.Progress = stderr
	cfg.ProgressInPlace = isTerminal(stderr)

	fmt.Fprintf(stderr, "engine bench: %d clients on %s for %v, publishing %v alerts/s\n",
		cfg.Clients, cfg.URL, cfg.Duration, cfg.PublishRate)
	res, err := load.Run(ctx, cfg)
	if err != nil {
		return err
	}
	if err := res.WriteTable(stdout); err != nil {
		return err
	}
	if out == "" {
		return nil
	}
	if err := load.WriteReport(out, res); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "report: %s/%s and %s/%s\n", out, load.ReportHTML, out,
		load.ReportJSON)
	return nil
}

// isTerminal reports whether w is a terminal, where the progress line is rewritten in
// place.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}
