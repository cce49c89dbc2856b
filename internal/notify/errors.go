package notify

import (
	"errors"
	"fmt"
	"net/http"
)

// Sentinel errors. Wrapping messages add the offending field or value, never a secret, a
// password or a webhook URL's path or query.
var (
	// ErrInvalidConfig means a WebhookConfig, MailConfig or DispatcherConfig field is out of
	// range; the message names the field.
	ErrInvalidConfig = errors.New("notify: invalid config")
	// ErrInvalidKey means an idempotency key is empty, too long or not printable ASCII.
	ErrInvalidKey = errors.New("notify: invalid idempotency key")
	// ErrHeaderInjection means a mail subject or address holds CR, LF or another control
	// character, which could forge extra headers.
	ErrHeaderInjection = errors.New("notify: control character in a mail header")
	// ErrInvalidMessage means a mail subject or text is not valid UTF-8 or too long.
	ErrInvalidMessage = errors.New("notify: invalid mail message")
	// ErrStartTLSUnavailable means the mail server does not offer STARTTLS, which the
	// "starttls" mode requires.
	ErrStartTLSUnavailable = errors.New("notify: mail server does not offer STARTTLS")
	// ErrAuthUnavailable means the mail server does not offer AUTH PLAIN.
	ErrAuthUnavailable = errors.New("notify: mail server does not offer AUTH PLAIN")

	// ErrSignatureMalformed means a signature header is not t=<unix seconds>,v1=<hex>,...
	ErrSignatureMalformed = errors.New("notify: malformed signature header")
	// ErrSignatureExpired means a signature's timestamp is older than the tolerance.
	ErrSignatureExpired = errors.New("notify: signature timestamp too old")
	// ErrSignatureFuture means a signature's timestamp is ahead of the receiver's clock by
	// more than the tolerance.
	ErrSignatureFuture = errors.New("notify: signature timestamp in the future")
	// ErrSignatureMismatch means no v1 signature matches the secret and the body.
	ErrSignatureMismatch = errors.New("notify: signature mismatch")
)

// DeliveryError is a failed attempt to deliver through a webhook or by mail. Retryable tells
// whether the same attempt may succeed later; the Dispatcher retries only those.
type DeliveryError struct {
	// Op names the channel kind: "webhook" or "mail".
	Op string
	// Target is the webhook URL's scheme and host, or the mail server's host:port; never a
	// URL path, a query or a credential.
	Target string
	// StatusCode is the HTTP status (webhook) or SMTP reply code (mail) that failed the
	// attempt, or 0 when none was received (network error, timeout, refused locally).
	StatusCode int
	// Err is the cause, if any.
	Err error

	retryable bool
}

// Error describes the failure with its target, status and cause.
func (e *DeliveryError) Error() string {
	msg := "notify: " + e.Op + " to " + e.Target
	switch {
	case e.Op == "webhook" && e.StatusCode >= 300 && e.StatusCode < 400:
		msg += fmt.Sprintf(": redirect not followed (status %d)", e.StatusCode)
	case e.Op == "webhook" && e.StatusCode != 0:
		msg += fmt.Sprintf(": status %d %s", e.StatusCode, http.StatusText(e.StatusCode))
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the cause.
func (e *DeliveryError) Unwrap() error { return e.Err }

// Retryable reports whether a later attempt may succeed: network errors, timeouts, HTTP 429
// and 5xx, and SMTP 4xx replies are; anything else is not.
func (e *DeliveryError) Retryable() bool { return e.retryable }

// Retryable reports whether err, or an error it wraps, has a Retryable method that returns
// true. Errors without one are not retried.
func Retryable(err error) bool {
	var r interface{ Retryable() bool }
	return errors.As(err, &r) && r.Retryable()
}
