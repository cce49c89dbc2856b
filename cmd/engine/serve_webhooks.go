package main

import (
	"flag"
	"strings"

	"github.com/whalecast/whalecast/system"
)

// webhookFlags adds the flags of customer webhooks (docs/webhooks.md). Zero values take
// the defaults that docs/webhooks.md lists.
func webhookFlags(fs *flag.FlagSet, cfg *system.Config) {
	w := &cfg.Webhooks
	fs.Var((*appendFlag)(&w.AllowCIDRs), "webhook-allow-cidr",
		"`CIDR` (or address) that webhooks may reach although it is loopback, private, "+
			"link-local, CGNAT or cloud metadata; repeatable, or comma-separated")
	fs.DurationVar(&w.Timeout, "webhook-timeout", 0, "bound of one webhook attempt (0: 5s)")
	fs.DurationVar(&w.MinBackoff, "webhook-min-backoff", 0,
		"first webhook retry's backoff ceiling, doubling per attempt, full jitter (0: 5s)")
	fs.DurationVar(&w.MaxBackoff, "webhook-max-backoff", 0,
		"largest webhook retry backoff ceiling (0: 1h)")
	fs.DurationVar(&w.MaxAge, "webhook-max-age", 0,
		"how long a webhook delivery is retried before it becomes a dead letter (0: 24h)")
	fs.IntVar(&w.Concurrency, "webhook-concurrency", 0,
		"webhook attempts in flight per webhook (0: 4)")
	fs.IntVar(&w.MaxPending, "webhook-max-pending", 0,
		"deliveries a webhook's outbox holds; later records wait in the log (0: 1000)")
	fs.IntVar(&w.MaxWebhooks, "webhooks-max", 0, "webhooks of the engine (0: 100)")
	fs.IntVar(&w.MaxPerClient, "webhooks-per-client", 0, "webhooks of one client (0: 10)")
}

// appendFlag is a repeatable list flag: each use adds its comma-separated items.
type appendFlag []string

// String implements flag.Value.
func (l *appendFlag) String() string {
	if l == nil {
		return ""
	}
	return strings.Join(*l, ",")
}

// Set implements flag.Value.
func (l *appendFlag) Set(s string) error {
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			*l = append(*l, item)
		}
	}
	return nil
}
