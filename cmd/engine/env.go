package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"time"
)

// Environment variables the engine reads. A flag given on the command line wins over them.
const (
	envSecret      = "WEBSOCKET_SECRET_KEY"
	envTokenExpiry = "TOKEN_EXPIRY_HOURS"
	envRateLimit   = "RATE_LIMIT_REQUESTS"
	envRateWindow  = "RATE_LIMIT_WINDOW"
)

// envInt reads a whole number from the environment, or returns def when unset.
func envInt(name string, def int) (int, error) {
	v, ok := os.LookupEnv(name)
	if !ok || v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%w: %s=%q: want a positive whole number", errUsage, name, v)
	}
	return n, nil
}

// envHours reads a number of hours, envSeconds a number of seconds.
func envHours(name string, def time.Duration) (time.Duration, error) {
	n, err := envInt(name, int(def/time.Hour))
	return time.Duration(n) * time.Hour, err
}

func envSeconds(name string, def time.Duration) (time.Duration, error) {
	n, err := envInt(name, int(def/time.Second))
	return time.Duration(n) * time.Second, err
}

// setFlags returns the names of the flags given on the command line.
func setFlags(fs *flag.FlagSet) map[string]bool {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return set
}
