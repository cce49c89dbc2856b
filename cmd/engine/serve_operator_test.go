package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/whalecast/whalecast/internal/btcdtest"
	"github.com/whalecast/whalecast/system"
)

func TestServeOperatorFlags(t *testing.T) {
	defaults := system.DefaultConfig().Operator
	tests := []struct {
		name string
		args []string
		want func(op *system.OperatorConfig) // edits the defaults into what args give
	}{
		{name: "defaults", want: func(*system.OperatorConfig) {}},
		{name: "accuracy", args: []string{"--accuracy-threshold", "0.8", "--accuracy-window",
			"50"},
			want: func(op *system.OperatorConfig) {
				op.AccuracyThreshold, op.AccuracyWindow = 0.8, 50
			}},
		{name: "webhook", args: []string{"--operator-webhook", "https://hooks.example/ops",
			"--operator-webhook-secret-file", "/run/secrets/hook"},
			want: func(op *system.OperatorConfig) {
				op.Webhook, op.WebhookSecretFile = "https://hooks.example/ops", "/run/secrets/hook"
			}},
		{name: "email", args: []string{"--smtp-addr", "mail.example.com:465", "--smtp-from",
			"Whalecast <whalecast@example.com>", "--smtp-to",
			" oncall@example.com, ,second@example.org", "--smtp-user", "ops",
			"--smtp-password-file", "/run/secrets/smtp", "--smtp-tls", "tls"},
			want: func(op *system.OperatorConfig) {
				op.SMTPAddr, op.SMTPFrom = "mail.example.com:465",
					"Whalecast <whalecast@example.com>"
				op.SMTPTo = []string{"oncall@example.com", "second@example.org"}
				op.SMTPUser, op.SMTPPasswordFile = "ops", "/run/secrets/smtp"
				op.SMTPTLS = "tls"
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			want := defaults
			tt.want(&want)

			cfg, err := serveFlags(tt.args, io.Discard)

			if err != nil {
				t.Fatalf("serveFlags: %v", err)
			}
			if err := cfg.Validate(); err != nil {
				t.Errorf("validate: %v", err)
			}
			if !reflect.DeepEqual(cfg.Operator, want) {
				t.Errorf("operator config: got %+v, want %+v", cfg.Operator, want)
			}
		})
	}
}

func TestServeOperatorRefusals(t *testing.T) {
	missing := "replay:" + filepath.Join(t.TempDir(), "missing.dat")
	tests := []struct {
		name       string
		args       []string
		wantStderr string
	}{
		{"window 0", []string{"--accuracy-window", "0"}, "--accuracy-window 0"},
		{"threshold over 1", []string{"--accuracy-threshold", "1.5"}, "--accuracy-threshold"},
		{"threshold not a number", []string{"--accuracy-threshold", "high"},
			"-accuracy-threshold"},
		{"webhook without secret file", []string{"--operator-webhook",
			"https://hooks.example/ops"}, "--operator-webhook-secret-file"},
		{"smtp address alone", []string{"--smtp-addr", "127.0.0.1:25"}, "--smtp-to"},
		{"smtp-user without password file", []string{"--smtp-addr", "127.0.0.1:25",
			"--smtp-from", "a@example.com", "--smtp-to", "b@example.com", "--smtp-user",
			"ops"}, "--smtp-password-file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			args := append([]string{"serve", "--addr", "127.0.0.1:0", "--data", t.TempDir(),
				"--source", missing}, tt.args...)

			code, stdout, stderr := runCmd(t, args...)

			if code != 2 || !strings.Contains(stderr, tt.wantStderr) || stdout != "" {
				t.Errorf("got exit %d, stdout %q, stderr %q; want 2 and a mention of %q",
					code, stdout, lastLine(stderr), tt.wantStderr)
			}
		})
	}
}

// TestServeRefusesOpenSecretFiles runs `engine serve` as a process with a secret file that
// others may read: it must refuse to start and say how to fix it. The process is killed at
// a deadline, should it serve instead.
func TestServeRefusesOpenSecretFiles(t *testing.T) {
	const secret = "operator-secret-for-the-cmd-tests-0123456789"
	tests := []struct {
		name string
		perm os.FileMode
		args func(file string) []string
		want []string
	}{
		{name: "world-readable webhook secret", perm: 0o644,
			args: func(f string) []string {
				return []string{"--operator-webhook", "http://127.0.0.1:9/hook",
					"--operator-webhook-secret-file", f}
			},
			want: []string{"--operator-webhook-secret-file", "mode 0644", "chmod 600"}},
		{name: "world-readable smtp password", perm: 0o604,
			args: func(f string) []string {
				return []string{"--smtp-addr", "127.0.0.1:9", "--smtp-from",
					"whalecast@example.com", "--smtp-to", "oncall@example.com", "--smtp-user",
					"ops", "--smtp-password-file", f}
			},
			want: []string{"--smtp-password-file", "mode 0604", "chmod 600"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			file := filepath.Join(t.TempDir(), "secret")
			if err := os.WriteFile(file, []byte(secret), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(file, tt.perm); err != nil {
				t.Fatal(err)
			}
			args := append([]string{"serve", "--addr", "127.0.0.1:0", "--data", t.TempDir(),
				"--source", "replay:" + btcdtest.Block277647(t)}, tt.args(file)...)

			code, stderr := runChild(t, args)

			if code != 2 {
				t.Errorf("exit code %d, want 2 (stderr ends %q)", code, lastLine(stderr))
			}
			for _, s := range tt.want {
				if !strings.Contains(stderr, s) {
					t.Errorf("stderr %q, want it to mention %q", lastLine(stderr), s)
				}
			}
			if strings.Contains(stderr, secret) {
				t.Errorf("stderr shows the secret")
			}
		})
	}
}

// runChild runs the engine's command line args in a child process (the test binary
// re-executed), killed after waitTimeout, and returns its exit code and stderr.
func runChild(tb testing.TB, args []string) (int, string) {
	tb.Helper()
	raw, err := json.Marshal(args)
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childArgsEnv+"="+string(raw), envSecret+"="+testSecret)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr

	err = cmd.Run()

	var exit *exec.ExitError
	switch {
	case ctx.Err() != nil:
		tb.Fatalf("engine still running after %v: it served instead of refusing", waitTimeout)
	case err == nil:
		return 0, stderr.String()
	case !errors.As(err, &exit):
		tb.Fatalf("run engine process: %v", err)
	}
	return exit.ExitCode(), stderr.String()
}
