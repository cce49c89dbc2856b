package system

import (
	"cmp"
	"fmt"
	"log/slog"
	"math"
	"net"
	"strings"

	"github.com/whalecast/whalecast/internal/accuracy"
	"github.com/whalecast/whalecast/internal/auth"
	"github.com/whalecast/whalecast/internal/notify"
)

// Defaults of OperatorConfig.
const (
	DefaultAccuracyThreshold = 0.70
	DefaultAccuracyWindow    = 200
	DefaultAccuracyMin       = 20
)

// OperatorConfig sets up the accuracy monitor and how the operator hears of it: admin
// sessions always get an operator_alert; a webhook and email are optional (docs/mempool.md).
// Start from DefaultConfig: a zero threshold or window is refused, not defaulted.
type OperatorConfig struct {
	// AccuracyThreshold is the rolling accuracy (the confirmed share of settled alerts)
	// below which the operator is alerted, more than 0 and at most 0.95: recovery needs 5
	// points more, and accuracy cannot exceed 1. Default DefaultAccuracyThreshold (0.70).
	AccuracyThreshold float64
	// AccuracyWindow is how many of the latest settled alerts the accuracy is computed
	// over, from 1 to accuracy.MaxWindow. Default DefaultAccuracyWindow (200).
	AccuracyWindow int
	// AccuracyMinSamples is how many settled alerts are needed before any verdict, capped
	// at AccuracyWindow. Default DefaultAccuracyMin (20), which zero also means.
	AccuracyMinSamples int

	// Webhook is the URL an operator notification is POSTed to, signed with the secret in
	// WebhookSecretFile (Whalecast-Signature header, docs/mempool.md).
	Webhook           string
	WebhookSecretFile string

	// SMTPAddr (host:port), SMTPFrom and SMTPTo (comma-separated) send notifications by
	// email; SMTPUser and SMTPPasswordFile authenticate (over TLS only); SMTPTLS is
	// starttls (default), tls or none (loopback servers only).
	SMTPAddr         string
	SMTPFrom         string
	SMTPTo           []string
	SMTPUser         string
	SMTPPasswordFile string
	SMTPTLS          string
}

// defaultOperator returns the operator defaults: an accuracy monitor, no webhook, no email.
func defaultOperator() OperatorConfig {
	return OperatorConfig{AccuracyThreshold: DefaultAccuracyThreshold,
		AccuracyWindow: DefaultAccuracyWindow, AccuracyMinSamples: DefaultAccuracyMin}
}

// Accuracy returns the accuracy monitor's configuration.
func (c OperatorConfig) Accuracy() accuracy.Config {
	return accuracy.Config{Window: c.AccuracyWindow, Threshold: c.AccuracyThreshold,
		MinSamples: min(cmp.Or(c.AccuracyMinSamples, DefaultAccuracyMin), c.AccuracyWindow)}
}

// validate checks everything that needs no file: files are read by notifier at start.
func (c OperatorConfig) validate() error {
	switch {
	case math.IsNaN(c.AccuracyThreshold) || c.AccuracyThreshold <= 0 ||
		c.AccuracyThreshold > 1:
		return fmt.Errorf("%w: --accuracy-threshold %v: want more than 0, at most 0.95",
			ErrConfig, c.AccuracyThreshold)
	case c.AccuracyWindow < 1 || c.AccuracyWindow > accuracy.MaxWindow:
		return fmt.Errorf("%w: --accuracy-window %d is outside 1..%d", ErrConfig,
			c.AccuracyWindow, accuracy.MaxWindow)
	}
	if _, err := accuracy.New(c.Accuracy()); err != nil {
		return fmt.Errorf("%w: --accuracy-threshold/--accuracy-window: %v", ErrConfig, err)
	}
	if (c.Webhook == "") != (c.WebhookSecretFile == "") {
		return fmt.Errorf("%w: --operator-webhook needs --operator-webhook-secret-file, "+
			"and the other way round", ErrConfig)
	}
	smtp := c.SMTPAddr != "" || c.SMTPFrom != "" || len(c.SMTPTo) > 0
	if smtp && (c.SMTPAddr == "" || c.SMTPFrom == "" || len(c.SMTPTo) == 0) {
		return fmt.Errorf("%w: email needs --smtp-addr, --smtp-from and --smtp-to", ErrConfig)
	}
	if (c.SMTPUser == "") != (c.SMTPPasswordFile == "") {
		return fmt.Errorf("%w: --smtp-user needs --smtp-password-file, and the other way "+
			"round", ErrConfig)
	}
	if !smtp && (c.SMTPUser != "" || c.SMTPTLS != "") {
		return fmt.Errorf("%w: --smtp-user and --smtp-tls need --smtp-addr", ErrConfig)
	}
	return nil
}

// notifier builds the dispatcher that delivers operator notifications, or nil when neither a
// webhook nor email is configured. Secrets are read from their files now, so that a missing
// or world-readable file stops the engine at start.
func (c OperatorConfig) notifier(log *slog.Logger) (*notify.Dispatcher, error) {
	var channels []notify.Channel
	if c.Webhook != "" {
		secret, err := auth.ReadCredentialFile(c.WebhookSecretFile, "operator webhook secret")
		if err != nil {
			return nil, fmt.Errorf("%w: --operator-webhook-secret-file: %w", ErrConfig, err)
		}
		w, err := notify.NewWebhook(notify.WebhookConfig{URL: c.Webhook, Secret: secret})
		clear(secret)
		if err != nil {
			return nil, fmt.Errorf("%w: --operator-webhook: %v", ErrConfig, err)
		}
		channels = append(channels, notify.WebhookChannel("operator_webhook", w))
	}
	if c.SMTPAddr != "" {
		mc := notify.MailConfig{Addr: c.SMTPAddr, From: c.SMTPFrom, To: c.SMTPTo,
			Username: c.SMTPUser, TLS: c.SMTPTLS}
		if c.SMTPPasswordFile != "" {
			pass, err := auth.ReadCredentialFile(c.SMTPPasswordFile, "smtp password")
			if err != nil {
				return nil, fmt.Errorf("%w: --smtp-password-file: %w", ErrConfig, err)
			}
			mc.Password = string(pass)
			clear(pass)
		}
		m, err := notify.NewMailer(mc)
		if err != nil {
			return nil, fmt.Errorf("%w: --smtp-*: %v", ErrConfig, err)
		}
		channels = append(channels, notify.MailChannel("operator_email", m))
	}
	if len(channels) == 0 {
		return nil, nil
	}
	d, err := notify.NewDispatcher(notify.DispatcherConfig{Logger: log}, channels...)
	if err != nil {
		return nil, fmt.Errorf("system: operator notifications: %w", err)
	}
	return d, nil
}

// LogValue describes the operator setup without secrets or addresses of people.
func (c OperatorConfig) LogValue() slog.Value {
	host := ""
	if c.SMTPAddr != "" {
		host, _, _ = net.SplitHostPort(c.SMTPAddr)
	}
	return slog.GroupValue(
		slog.Float64("accuracy_threshold", c.AccuracyThreshold),
		slog.Int("accuracy_window", c.AccuracyWindow),
		slog.Bool("webhook", c.Webhook != ""),
		slog.String("smtp_host", host),
		slog.Int("smtp_to", len(c.SMTPTo)),
		slog.String("smtp_tls", strings.ToLower(c.SMTPTLS)))
}
