package system_test

import (
	"context"
	"errors"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/whalecast/whalecast/internal/accuracy"
	"github.com/whalecast/whalecast/internal/auth"
	"github.com/whalecast/whalecast/internal/clock"
	"github.com/whalecast/whalecast/system"
)

// smtpPassword is a mail password that must never show in an error.
const smtpPassword = "smtp-pass-4e2a-never-shown"

// withMail sets a complete email setup on op.
func withMail(op *system.OperatorConfig) {
	op.SMTPAddr, op.SMTPFrom = "127.0.0.1:2525", "whalecast@example.com"
	op.SMTPTo = []string{"oncall@example.com"}
}

func TestOperatorConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(op *system.OperatorConfig)
		wantErr string // "" for a valid configuration
	}{
		{"defaults", func(*system.OperatorConfig) {}, ""},
		{"webhook with its secret file", func(op *system.OperatorConfig) {
			op.Webhook, op.WebhookSecretFile = "https://hooks.example/ops", "/run/secret"
		}, ""},
		{"email with a login", func(op *system.OperatorConfig) {
			withMail(op)
			op.SMTPUser, op.SMTPPasswordFile, op.SMTPTLS = "ops", "/run/pass", "tls"
		}, ""},
		{"window of 1", func(op *system.OperatorConfig) { op.AccuracyWindow = 1 }, ""},
		{"min samples 0 with a small window", func(op *system.OperatorConfig) {
			op.AccuracyWindow, op.AccuracyMinSamples = 3, 0
		}, ""},
		{"threshold of 0.95", func(op *system.OperatorConfig) {
			op.AccuracyThreshold = 0.95
		}, ""},
		{"webhook without secret file", func(op *system.OperatorConfig) {
			op.Webhook = "https://hooks.example/ops"
		}, "--operator-webhook needs --operator-webhook-secret-file"},
		{"secret file without webhook", func(op *system.OperatorConfig) {
			op.WebhookSecretFile = "/run/secret"
		}, "--operator-webhook needs --operator-webhook-secret-file"},
		{"smtp address alone", func(op *system.OperatorConfig) {
			op.SMTPAddr = "127.0.0.1:2525"
		}, "email needs --smtp-addr, --smtp-from and --smtp-to"},
		{"smtp without recipients", func(op *system.OperatorConfig) {
			withMail(op)
			op.SMTPTo = nil
		}, "email needs"},
		{"smtp without sender", func(op *system.OperatorConfig) {
			withMail(op)
			op.SMTPFrom = ""
		}, "email needs"},
		{"smtp-user without password file", func(op *system.OperatorConfig) {
			withMail(op)
			op.SMTPUser = "ops"
		}, "--smtp-user needs --smtp-password-file"},
		{"password file without smtp-user", func(op *system.OperatorConfig) {
			withMail(op)
			op.SMTPPasswordFile = "/run/pass"
		}, "--smtp-user needs --smtp-password-file"},
		{"smtp-user without smtp", func(op *system.OperatorConfig) {
			op.SMTPUser, op.SMTPPasswordFile = "ops", "/run/pass"
		}, "need --smtp-addr"},
		{"smtp-tls without smtp", func(op *system.OperatorConfig) { op.SMTPTLS = "none" },
			"need --smtp-addr"},
		{"threshold 0", func(op *system.OperatorConfig) { op.AccuracyThreshold = 0 },
			"--accuracy-threshold 0"},
		{"threshold negative", func(op *system.OperatorConfig) {
			op.AccuracyThreshold = -0.1
		}, "--accuracy-threshold"},
		{"threshold over 1", func(op *system.OperatorConfig) { op.AccuracyThreshold = 1.5 },
			"--accuracy-threshold 1.5"},
		{"threshold NaN", func(op *system.OperatorConfig) {
			op.AccuracyThreshold = math.NaN()
		}, "--accuracy-threshold"},
		{"threshold leaving no room to recover", func(op *system.OperatorConfig) {
			op.AccuracyThreshold = 0.97
		}, "could never recover"},
		{"window 0", func(op *system.OperatorConfig) { op.AccuracyWindow = 0 },
			"--accuracy-window 0"},
		{"window negative", func(op *system.OperatorConfig) { op.AccuracyWindow = -5 },
			"--accuracy-window -5"},
		{"window over the maximum", func(op *system.OperatorConfig) {
			op.AccuracyWindow = accuracy.MaxWindow + 1
		}, "--accuracy-window"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := replayConfig(t)
			tt.edit(&cfg.Operator)

			err := cfg.Validate()

			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate: %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, system.ErrConfig) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Validate: %v, want an ErrConfig mentioning %q", err, tt.wantErr)
			}
		})
	}
}

// TestOperatorOpenRefuses checks what Open reads or builds: the secret files, the webhook
// and the mailer. None of these cases sends anything.
func TestOperatorOpenRefuses(t *testing.T) {
	tests := []struct {
		name     string
		edit     func(tb testing.TB, op *system.OperatorConfig)
		wantIs   error
		wantText []string
	}{
		{"webhook secret readable by others", func(tb testing.TB, op *system.OperatorConfig) {
			op.Webhook = "http://127.0.0.1:9/hook"
			op.WebhookSecretFile = writeSecretFile(tb, operatorSecret, 0o644)
		}, auth.ErrSecretPerms, []string{"--operator-webhook-secret-file", "0644", "chmod 600"}},
		{"webhook secret missing", func(tb testing.TB, op *system.OperatorConfig) {
			op.Webhook = "http://127.0.0.1:9/hook"
			op.WebhookSecretFile = filepath.Join(tb.TempDir(), "none")
		}, nil, []string{"--operator-webhook-secret-file", "no such file"}},
		{"webhook secret too short", func(tb testing.TB, op *system.OperatorConfig) {
			op.Webhook = "http://127.0.0.1:9/hook"
			op.WebhookSecretFile = writeSecretFile(tb, "short", 0o600)
		}, nil, []string{"--operator-webhook"}},
		{"webhook not http", func(tb testing.TB, op *system.OperatorConfig) {
			op.Webhook = "ftp://127.0.0.1/hook"
			op.WebhookSecretFile = writeSecretFile(tb, operatorSecret, 0o600)
		}, nil, []string{"--operator-webhook"}},
		{"smtp password readable by the group", func(tb testing.TB,
			op *system.OperatorConfig) {
			withMail(op)
			op.SMTPUser = "ops"
			op.SMTPPasswordFile = writeSecretFile(tb, smtpPassword, 0o640)
		}, auth.ErrSecretPerms, []string{"--smtp-password-file", "0640"}},
		{"clear text to a remote server", func(tb testing.TB, op *system.OperatorConfig) {
			withMail(op)
			op.SMTPAddr, op.SMTPTLS = "mail.example.com:25", "none"
		}, nil, []string{"--smtp-", "loopback"}},
		{"login in clear text", func(tb testing.TB, op *system.OperatorConfig) {
			withMail(op)
			op.SMTPUser, op.SMTPTLS = "ops", "none"
			op.SMTPPasswordFile = writeSecretFile(tb, smtpPassword, 0o600)
		}, nil, []string{"--smtp-", "TLS"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := replayConfig(t)
			tt.edit(t, &cfg.Operator)

			eng, err := system.Open(cfg, testLogger(t), clock.Real{})

			if err == nil {
				_ = eng.Shutdown(context.Background())
				t.Fatal("Open: got no error, want one")
			}
			if !errors.Is(err, system.ErrConfig) ||
				(tt.wantIs != nil && !errors.Is(err, tt.wantIs)) {
				t.Errorf("Open: %v, want an ErrConfig wrapping %v", err, tt.wantIs)
			}
			for _, s := range tt.wantText {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("Open: %q, want it to mention %q", err, s)
				}
			}
			for _, secret := range []string{operatorSecret, smtpPassword} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("Open: %q shows a secret", err)
				}
			}
		})
	}
}
