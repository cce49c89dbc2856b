package transport

import (
	"strings"
	"testing"
	"time"

	"github.com/whalecast/whalecast/persistence"
)

func TestRedactWebhookURL(t *testing.T) {
	tests := []struct {
		raw, want string
	}{
		{"https://hooks.example", "https://hooks.example"},
		{"https://hooks.example/", "https://hooks.example/"},
		{"https://hooks.example:8443/services/T0/B0/pathtoken",
			"https://hooks.example:8443/[redacted]"},
		{"http://127.0.0.1:9000/hook?key=k1", "http://127.0.0.1:9000/[redacted]?[redacted]"},
		{"https://hooks.example/?token=querytoken", "https://hooks.example/?[redacted]"},
		{"https://hooks.example?", "https://hooks.example?[redacted]"},
		{"https://[2001:db8::1]:443/p%2Fq", "https://[2001:db8::1]:443/[redacted]"},
		{"::not a url", "[redacted]"},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			if got := redactURL(tt.raw); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestWebhookInfoStatus(t *testing.T) {
	at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	hook := persistence.Webhook{ID: "wh_0123456789abcdef", Owner: "alice",
		URL: "https://hooks.example/in/secret-path?k=secret-query", Created: at}
	active := webhookInfo(hook)
	hook.Suspended, hook.SuspendReason = at.Add(time.Hour), "the owner's client was revoked"
	suspended := webhookInfo(hook)

	if active.Status != WebhookActive || active.SuspendedAt != nil {
		t.Errorf("active webhook: got %q at %v, want active", active.Status, active.SuspendedAt)
	}
	if suspended.Status != WebhookSuspended || suspended.SuspendedAt == nil ||
		!suspended.SuspendedAt.Equal(hook.Suspended) ||
		suspended.SuspendReason != hook.SuspendReason {
		t.Errorf("suspended webhook: got %+v, want suspended with its time and reason",
			suspended)
	}
	if strings.Contains(active.URL, "secret") {
		t.Errorf("URL %q shows the path or the query", active.URL)
	}
}
