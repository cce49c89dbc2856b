package notify

import (
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// secretForms are the ways a secret could leak into output.
var secretForms = []string{
	testPassword,
	string(testSecret),
	hex.EncodeToString(testSecret),
	strings.Trim(fmt.Sprint(testSecret), "[]"),
	"pathtoken",
	"querytoken",
}

func TestNothingSecretPrints(t *testing.T) {
	webhookCfg := WebhookConfig{URL: "https://hooks.example.com/s/pathtoken?k=querytoken",
		Secret: testSecret}
	webhook, err := NewWebhook(webhookCfg)
	if err != nil {
		t.Fatalf("NewWebhook: %v", err)
	}
	mailCfg := MailConfig{Addr: "127.0.0.1:587", From: "ops@example.com",
		To: []string{"oncall@example.com"}, Username: "ops", Password: testPassword}
	mailer, err := NewMailer(mailCfg)
	if err != nil {
		t.Fatalf("NewMailer: %v", err)
	}
	values := map[string]any{
		"webhook config": webhookCfg,
		"webhook":        webhook,
		"webhook value":  *webhook,
		"mail config":    mailCfg,
		"mailer":         mailer,
		"mailer value":   *mailer,
		"nested":         struct{ W, M any }{webhookCfg, mailCfg},
	}
	for name, v := range values {
		t.Run(name, func(t *testing.T) {
			var out strings.Builder
			for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d"} {
				fmt.Fprintf(&out, verb+"\n", v)
			}
			slog.New(slog.NewJSONHandler(&out, nil)).Info("config", "value", v)
			slog.New(slog.NewTextHandler(&out, nil)).Info("config", "value", v)

			for _, form := range secretForms {
				if strings.Contains(out.String(), form) {
					t.Errorf("output holds %q:\n%s", form, out.String())
				}
			}
		})
	}
}
