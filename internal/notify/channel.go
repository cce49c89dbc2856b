package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// Notification is one message for operators (later, customers) to be delivered through
// every channel of a Dispatcher.
type Notification struct {
	// Kind names what happened, in snake case ("accuracy_degraded"); it is logged.
	Kind string
	// Subject is a one-line summary: the mail subject.
	Subject string
	// Text is the human-readable message: the mail body.
	Text string
	// Body is the JSON a webhook posts. When it is empty, the webhook channel posts a JSON
	// object of Kind, Subject, Text and At instead.
	Body []byte
	// Key is the idempotency key, the same for every attempt; webhook channels require it.
	Key string
	// At is when the event happened.
	At time.Time
}

// Channel delivers notifications to one destination. Deliver must honour ctx and return
// soon after it is done. An error whose Retryable method reports true (see the function
// Retryable) is retried by the Dispatcher; any other error ends the notification's delivery
// on that channel.
type Channel interface {
	// Name identifies the channel in logs and stats; unique within a Dispatcher.
	Name() string
	// Deliver makes one attempt to deliver n.
	Deliver(ctx context.Context, n Notification) error
}

// WebhookChannel returns a Channel named name that posts each notification with w, its Body
// (or the default JSON object) under its Key.
func WebhookChannel(name string, w *Webhook) Channel {
	return webhookChannel{name: name, w: w}
}

type webhookChannel struct {
	name string
	w    *Webhook
}

// Name returns the name given to WebhookChannel.
func (c webhookChannel) Name() string { return c.name }

// Deliver posts n once.
func (c webhookChannel) Deliver(ctx context.Context, n Notification) error {
	body := n.Body
	if len(body) == 0 {
		var err error
		if body, err = defaultBody(n); err != nil {
			return err
		}
	}
	return c.w.Post(ctx, n.Key, body)
}

// defaultBody is the JSON posted for a notification without a Body.
func defaultBody(n Notification) ([]byte, error) {
	body, err := json.Marshal(struct {
		Kind    string    `json:"kind"`
		Subject string    `json:"subject"`
		Text    string    `json:"text"`
		At      time.Time `json:"at"`
	}{n.Kind, n.Subject, n.Text, n.At.UTC()})
	if err != nil {
		return nil, fmt.Errorf("notify: encode %s notification: %w", n.Kind, err)
	}
	return body, nil
}

// MailChannel returns a Channel named name that mails each notification with m: its
// Subject, or its Kind when the subject is empty, and its Text.
func MailChannel(name string, m *Mailer) Channel {
	return mailChannel{name: name, m: m}
}

type mailChannel struct {
	name string
	m    *Mailer
}

// Name returns the name given to MailChannel.
func (c mailChannel) Name() string { return c.name }

// Deliver mails n once.
func (c mailChannel) Deliver(ctx context.Context, n Notification) error {
	subject := n.Subject
	if subject == "" {
		subject = n.Kind
	}
	return c.m.Send(ctx, subject, n.Text)
}
