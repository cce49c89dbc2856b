package main

import (
	"errors"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/whalecast/whalecast/system"
)

func TestWebhookFlags(t *testing.T) {
	tests := []struct {
		name      string
		args      []string
		wantAllow []string
		wantErr   bool // from Validate
	}{
		{name: "defaults", args: nil},
		{name: "repeated and comma-separated allow-list",
			args: []string{"--webhook-allow-cidr", "127.0.0.1", "--webhook-allow-cidr",
				"10.0.0.0/8, ::1"},
			wantAllow: []string{"127.0.0.1", "10.0.0.0/8", "::1"}},
		{name: "not a CIDR", args: []string{"--webhook-allow-cidr", "hooks.example"},
			wantAllow: []string{"hooks.example"}, wantErr: true},
		{name: "max age over a week", args: []string{"--webhook-max-age", "200h"},
			wantErr: true},
		{name: "backoff inverted", args: []string{"--webhook-min-backoff", "1m",
			"--webhook-max-backoff", "1s"}, wantErr: true},
		{name: "negative concurrency", args: []string{"--webhook-concurrency", "-1"},
			wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := serveFlags(tt.args, io.Discard)
			if err != nil {
				t.Fatalf("serveFlags: %v", err)
			}
			if !slices.Equal(cfg.Webhooks.AllowCIDRs, tt.wantAllow) {
				t.Errorf("allow-list: got %q, want %q", cfg.Webhooks.AllowCIDRs, tt.wantAllow)
			}
			err = cfg.Validate()
			if tt.wantErr != (err != nil) || (err != nil && !errors.Is(err, system.ErrConfig)) {
				t.Errorf("Validate: got %v, want error %v", err, tt.wantErr)
			}
		})
	}

	cfg, err := serveFlags([]string{"--webhook-max-age", "90m", "--webhook-timeout", "2s",
		"--webhooks-per-client", "3"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	w := cfg.Webhooks
	if w.MaxAge != 90*time.Minute || w.Timeout != 2*time.Second || w.MaxPerClient != 3 {
		t.Errorf("webhook config: got %+v", w)
	}
}
