package actors

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/whalecast/whalecast/internal/alert"
	"github.com/whalecast/whalecast/internal/notify"
	"github.com/whalecast/whalecast/persistence"
)

func TestCheckWebhookSpec(t *testing.T) {
	guard, err := notify.NewGuard(notify.GuardConfig{
		Allow: []netip.Prefix{netip.MustParsePrefix("10.9.0.0/16")}})
	if err != nil {
		t.Fatal(err)
	}
	known := []string{"large_value", "fee_spike"}
	ok := WebhookSpec{URL: "https://hooks.example:8443/in?k=v", MinBTC: 12.5}
	tests := []struct {
		name    string
		edit    func(*WebhookSpec)
		wantErr string // empty: accepted
	}{
		{"plain", func(*WebhookSpec) {}, ""},
		{"filters", func(s *WebhookSpec) {
			s.Detectors, s.Statuses = []string{"fee_spike"}, []string{"confirmed", "mempool"}
		}, ""},
		{"allowed private address", func(s *WebhookSpec) { s.URL = "http://10.9.1.1/x" }, ""},
		{"loopback", func(s *WebhookSpec) { s.URL = "http://127.0.0.1:9/x" }, "loopback"},
		{"metadata", func(s *WebhookSpec) { s.URL = "http://169.254.169.254/" },
			"cloud metadata"},
		{"ipv6 metadata", func(s *WebhookSpec) { s.URL = "http://[fd00:ec2::254]/" },
			"cloud metadata"},
		{"mapped private", func(s *WebhookSpec) { s.URL = "http://[::ffff:192.168.1.1]/" },
			"private"},
		{"ftp", func(s *WebhookSpec) { s.URL = "ftp://hooks.example/" }, "scheme"},
		{"relative", func(s *WebhookSpec) { s.URL = "/hooks" }, "absolute"},
		{"opaque", func(s *WebhookSpec) { s.URL = "https:hooks.example" }, "absolute"},
		{"userinfo", func(s *WebhookSpec) { s.URL = "https://u@hooks.example/" }, "user"},
		{"fragment", func(s *WebhookSpec) { s.URL = "https://hooks.example/#x" }, "fragment"},
		{"space", func(s *WebhookSpec) { s.URL = "https://hooks.example/a b" }, "spaces"},
		{"no host", func(s *WebhookSpec) { s.URL = "https:///x" }, "host"},
		{"bad port", func(s *WebhookSpec) { s.URL = "https://hooks.example:0/" }, "port"},
		{"too long", func(s *WebhookSpec) {
			s.URL = "https://hooks.example/" + strings.Repeat("a", persistence.MaxWebhookURLLen)
		}, "bytes"},
		{"negative", func(s *WebhookSpec) { s.MinBTC = -1 }, "min_btc"},
		{"over supply", func(s *WebhookSpec) { s.MinBTC = 21_000_001 }, "min_btc"},
		{"unknown detector", func(s *WebhookSpec) { s.Detectors = []string{"nope"} },
			"detectors"},
		{"empty detectors", func(s *WebhookSpec) { s.Detectors = []string{} }, "detectors"},
		{"repeated detector", func(s *WebhookSpec) {
			s.Detectors = []string{"fee_spike", "fee_spike"}
		}, "detectors"},
		{"unknown status", func(s *WebhookSpec) { s.Statuses = []string{"lost"} },
			"statuses"},
		{"repeated status", func(s *WebhookSpec) {
			s.Statuses = []string{"dropped", "dropped"}
		}, "statuses"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := ok
			tt.edit(&spec)
			w, err := checkSpec(spec, known, guard)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("checkSpec: got %v, want accepted", err)
			case tt.wantErr == "":
				if w.URL != spec.URL || w.MinSat != alert.SatFromBTC(spec.MinBTC) {
					t.Errorf("webhook: got %+v", w)
				}
			case !errors.Is(err, ErrWebhookInvalid) || !strings.Contains(err.Error(),
				tt.wantErr):
				t.Errorf("checkSpec: got %v, want ErrWebhookInvalid about %q", err,
					tt.wantErr)
			case strings.Contains(err.Error(), "hooks.example"):
				t.Errorf("error %q repeats the URL", err)
			}
		})
	}
}

func TestWebhookFilter(t *testing.T) {
	f := webhookFilter(persistence.Webhook{MinSat: 100, Detectors: []string{"fee_spike"},
		Statuses: []string{"confirmed"}})
	tests := []struct {
		name string
		meta Meta
		want bool
	}{
		{"matches", Meta{ValueSat: 100, Detector: "fee_spike", Status: "confirmed"}, true},
		{"too small", Meta{ValueSat: 99, Detector: "fee_spike", Status: "confirmed"}, false},
		{"other detector", Meta{ValueSat: 500, Detector: "large_value",
			Status: "confirmed"}, false},
		{"other status", Meta{ValueSat: 500, Detector: "fee_spike", Status: "mempool"},
			false},
		{"test alert", Meta{Test: true, Detector: "test", Status: "mempool"}, true},
	}
	for _, tt := range tests {
		if got := f.Wants(tt.meta); got != tt.want {
			t.Errorf("%s: Wants = %v, want %v", tt.name, got, tt.want)
		}
	}
	if all := webhookFilter(persistence.Webhook{}); !all.Wants(Meta{Detector: "x",
		Status: "dropped"}) {
		t.Error("a webhook without filters refuses a record")
	}
}
