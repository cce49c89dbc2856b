package notify

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/whalecast/whalecast/internal/notify/notifytest"
)

// channelUnderTest is a Channel and a way to read back what its destination received.
type channelUnderTest struct {
	ch       Channel
	received func() int
}

// channelImpls builds each Channel implementation against a fresh local destination.
var channelImpls = map[string]func(testing.TB) channelUnderTest{
	"webhook": func(tb testing.TB) channelUnderTest {
		r := newReceiver(tb, http.StatusOK)
		return channelUnderTest{
			ch:       WebhookChannel("webhook", newTestWebhook(tb, r.srv.URL, time.Second)),
			received: func() int { return len(r.got()) },
		}
	},
	"mail": func(tb testing.TB) channelUnderTest {
		s := newMailSetup(tb, notifytest.Options{StartTLS: true}, MailConfig{}, false)
		return channelUnderTest{
			ch:       MailChannel("mail", s.mailer),
			received: func() int { return len(s.srv.Received()) },
		}
	},
}

// TestChannelContract runs the behaviour every Channel must have against each
// implementation.
func TestChannelContract(t *testing.T) {
	for name, build := range channelImpls {
		t.Run(name+"/delivers once", func(t *testing.T) {
			c := build(t)

			if err := c.ch.Deliver(testContext(t), testNotification("n-1")); err != nil {
				t.Fatalf("Deliver: %v", err)
			}

			if got := c.received(); got != 1 {
				t.Errorf("destination received %d, want 1", got)
			}
		})
		t.Run(name+"/cancelled context", func(t *testing.T) {
			c := build(t)
			ctx, cancel := context.WithCancel(context.Background())
			cancel()

			err := c.ch.Deliver(ctx, testNotification("n-1"))

			if err == nil || Retryable(err) {
				t.Errorf("Deliver: %v, want a non-retryable error", err)
			}
			if got := c.received(); got != 0 {
				t.Errorf("destination received %d, want 0", got)
			}
		})
		t.Run(name+"/has its name", func(t *testing.T) {
			if got := build(t).ch.Name(); got != name {
				t.Errorf("Name() = %q", got)
			}
		})
	}
}

func TestWebhookChannelDefaultBody(t *testing.T) {
	r := newReceiver(t, http.StatusOK)
	ch := WebhookChannel("hook", newTestWebhook(t, r.srv.URL, time.Second))
	n := testNotification("n-1")
	n.Body = nil

	if err := ch.Deliver(testContext(t), n); err != nil {
		t.Fatalf("Deliver: %v", err)
	}

	var got map[string]string
	if err := json.Unmarshal(r.got()[0].body, &got); err != nil {
		t.Fatalf("body: %v", err)
	}
	want := map[string]string{"kind": "accuracy_degraded", "subject": "Accuracy degraded",
		"text": "Accuracy 61% < 70%", "at": "2025-06-01T12:00:00Z"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("body %s = %q, want %q", k, got[k], v)
		}
	}
}

func TestMailChannelSubjectFallsBackToKind(t *testing.T) {
	s := newMailSetup(t, notifytest.Options{StartTLS: true}, MailConfig{}, false)
	n := testNotification("n-1")
	n.Subject = ""

	if err := MailChannel("mail", s.mailer).Deliver(testContext(t), n); err != nil {
		t.Fatalf("Deliver: %v", err)
	}

	if data := onlyMail(t, s.srv).Data; !strings.Contains(data, "Subject: accuracy_degraded\n") {
		t.Errorf("message lacks the kind as subject:\n%s", data)
	}
}
