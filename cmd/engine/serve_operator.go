package main

import (
	"flag"

	"github.com/whalecast/whalecast/system"
)

// operatorFlags adds the flags of the accuracy monitor and of the operator's notifications.
func operatorFlags(fs *flag.FlagSet, cfg *system.Config) {
	op := &cfg.Operator
	fs.Float64Var(&op.AccuracyThreshold, "accuracy-threshold", op.AccuracyThreshold,
		"rolling accuracy (confirmed share of settled alerts) below which the operator "+
			"is alerted, 0 to 1")
	fs.IntVar(&op.AccuracyWindow, "accuracy-window", op.AccuracyWindow,
		"settled alerts the rolling accuracy is computed over")
	fs.StringVar(&op.Webhook, "operator-webhook", "",
		"`URL` that operator alerts are POSTed to, signed (Whalecast-Signature)")
	fs.StringVar(&op.WebhookSecretFile, "operator-webhook-secret-file", "",
		"`file` holding the operator webhook's signing secret (mode 0600)")
	fs.StringVar(&op.SMTPAddr, "smtp-addr", "", "SMTP server `host:port` for operator email")
	fs.StringVar(&op.SMTPFrom, "smtp-from", "", "sender `address` of operator email")
	fs.Var((*listFlag)(&op.SMTPTo), "smtp-to", "operator email `recipients`, comma-separated")
	fs.StringVar(&op.SMTPUser, "smtp-user", "", "SMTP user name (AUTH PLAIN, over TLS only)")
	fs.StringVar(&op.SMTPPasswordFile, "smtp-password-file", "",
		"`file` holding the SMTP password (mode 0600)")
	fs.StringVar(&op.SMTPTLS, "smtp-tls", "",
		"starttls (default), tls (implicit, port 465) or none (loopback servers only)")
}
