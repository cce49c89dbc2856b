package notify

import (
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// MinSecretLen is the shortest accepted webhook secret, in bytes: HMAC-SHA256 wants a key
// at least as long as its 256-bit hash.
const MinSecretLen = 32

// DefaultWebhookTimeout bounds one webhook attempt when WebhookConfig.Timeout is zero.
const DefaultWebhookTimeout = 5 * time.Second

// MaxKeyLen is the longest accepted idempotency key, in bytes.
const MaxKeyLen = 255

// maxResponseBody is how much of a response body Post reads before closing it.
const maxResponseBody = 4 << 10

// Bounds of the transport of a webhook's own client.
const (
	// maxResponseHeader bounds a response's status line and headers, in bytes: a receiver
	// sending more fails the attempt, as a retryable error, instead of costing memory.
	maxResponseHeader = 8 << 10
	// maxConnsPerHost bounds the connections one webhook opens (the most attempts in
	// flight to one webhook).
	maxConnsPerHost = 64
	// maxIdleConns is how many connections a webhook keeps open between posts.
	maxIdleConns = 2
	// idleConnTimeout closes a kept connection unused for this long.
	idleConnTimeout = 30 * time.Second
)

// errAttemptTimeout is wrapped by a Post that its own timeout (or the caller's deadline)
// ended.
var errAttemptTimeout = errors.New("attempt timed out")

// userAgent is the User-Agent of every webhook request.
const userAgent = "whalecast"

// redacted stands for a secret, a password or a URL path in every formatting path.
const redacted = "[redacted]"

// WebhookConfig tells NewWebhook where and how to post. Its String, GoString, Format and
// LogValue methods show only the URL's scheme and host: the secret, any userinfo and the
// URL's path and query (which some receivers use as a credential) never print.
type WebhookConfig struct {
	// URL is the absolute http or https URL posted to; it must not hold userinfo.
	URL string
	// Secret keys the HMAC of SignatureHeader; at least MinSecretLen bytes. NewWebhook
	// copies it.
	Secret []byte
	// Timeout bounds one attempt, from dialling to reading the response. Zero means
	// DefaultWebhookTimeout (5s); it cannot be turned off.
	Timeout time.Duration
	// Client, when set, sends the requests instead of a client of the webhook's own. It
	// is copied with redirects disabled, and with a transport that ignores proxy settings
	// when its Transport is nil; any other Transport is used as it is. Meant for tests.
	Client *http.Client
	// Guard, when set, makes every connection itself and refuses blocked addresses (see
	// Guard): customer webhooks have one, the operator's own webhook has none. It cannot go
	// with a Client that brings its own Transport, which would bypass it.
	Guard *Guard
}

// String returns the scheme and host of the URL, nothing secret.
func (c WebhookConfig) String() string {
	return "webhook " + safeURL(c.URL)
}

// GoString returns the same as String.
func (c WebhookConfig) GoString() string { return c.String() }

// Format writes String whatever the verb.
func (c WebhookConfig) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, c.String()) }

// LogValue returns String as a slog string.
func (c WebhookConfig) LogValue() slog.Value { return slog.StringValue(c.String()) }

// MarshalJSON returns String as a JSON string, so that a config logged inside another
// value keeps its secret.
func (c WebhookConfig) MarshalJSON() ([]byte, error) { return json.Marshal(c.String()) }

// safeURL returns scheme://host of raw, or "[redacted]" if it does not parse.
func safeURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return redacted
	}
	return u.Scheme + "://" + u.Host
}

// Webhook posts signed JSON bodies to one URL. It is safe for concurrent use and holds its
// secret where no formatting path reaches it.
type Webhook struct {
	url     hidden[string] // the whole URL: its path or query may be a credential
	target  string         // scheme://host, for errors and logs
	sign    func(ts time.Time, body []byte) string
	timeout time.Duration
	client  *http.Client
}

// NewWebhook validates cfg and returns a Webhook; errors wrap ErrInvalidConfig. It makes no
// connection.
func NewWebhook(cfg WebhookConfig) (*Webhook, error) {
	u, err := url.Parse(cfg.URL)
	switch {
	case err != nil:
		return nil, fmt.Errorf("%w: webhook URL does not parse", ErrInvalidConfig)
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("%w: webhook URL scheme %q is not http or https",
			ErrInvalidConfig, u.Scheme)
	case u.User != nil:
		return nil, fmt.Errorf("%w: webhook URL holds userinfo", ErrInvalidConfig)
	case u.Host == "" || u.Hostname() == "":
		return nil, fmt.Errorf("%w: webhook URL has no host", ErrInvalidConfig)
	case len(cfg.Secret) < MinSecretLen:
		return nil, fmt.Errorf("%w: webhook secret is %d bytes, need at least %d",
			ErrInvalidConfig, len(cfg.Secret), MinSecretLen)
	case cfg.Timeout < 0:
		return nil, fmt.Errorf("%w: webhook timeout %v is negative", ErrInvalidConfig,
			cfg.Timeout)
	case cfg.Guard != nil && cfg.Client != nil && cfg.Client.Transport != nil:
		return nil, fmt.Errorf("%w: a guarded webhook cannot use its own transport",
			ErrInvalidConfig)
	}

	timeout := cmp.Or(cfg.Timeout, DefaultWebhookTimeout)
	secret := bytes.Clone(cfg.Secret)
	return &Webhook{
		url:     hide(u.String()),
		target:  u.Scheme + "://" + u.Host,
		sign:    func(ts time.Time, body []byte) string { return Sign(secret, ts, body) },
		timeout: timeout,
		client:  webhookClient(cfg.Client, cfg.Guard, timeout),
	}, nil
}

// webhookClient returns a copy of c (or a new client) that never follows redirects and,
// with a guard, dials through it.
func webhookClient(c *http.Client, guard *Guard, timeout time.Duration) *http.Client {
	var client http.Client
	if c != nil {
		client = *c
	}
	if client.Transport == nil {
		dial := (&net.Dialer{Timeout: timeout}).DialContext
		if guard != nil {
			dial = guard.DialContext
		}
		// ExpectContinueTimeout stays zero: no request carries "Expect: 100-continue".
		client.Transport = &http.Transport{
			Proxy:                  nil,
			DialContext:            dial,
			TLSClientConfig:        &tls.Config{MinVersion: tls.VersionTLS12},
			TLSHandshakeTimeout:    timeout,
			ResponseHeaderTimeout:  timeout,
			MaxResponseHeaderBytes: maxResponseHeader,
			DisableCompression:     true, // the answer is discarded: never inflate it
			ForceAttemptHTTP2:      true,
			MaxConnsPerHost:        maxConnsPerHost,
			MaxIdleConns:           maxIdleConns,
			MaxIdleConnsPerHost:    maxIdleConns,
			IdleConnTimeout:        idleConnTimeout,
		}
	}
	client.CheckRedirect = func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}
	return &client
}

// String returns "webhook <scheme>://<host>".
func (w *Webhook) String() string { return "webhook " + w.target }

// GoString returns the same as String.
func (w *Webhook) GoString() string { return w.String() }

// Format writes String whatever the verb.
func (w *Webhook) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, w.String()) }

// LogValue returns String as a slog string.
func (w *Webhook) LogValue() slog.Value { return slog.StringValue(w.String()) }

// Post sends body with the headers SignatureHeader (signed at the time of this attempt),
// Idempotency-Key (key: 1 to MaxKeyLen printable ASCII bytes, no spaces; the same for every
// retry of one notification), Content-Type application/json and User-Agent whalecast.
//
// A 2xx response is success. Anything else is a *DeliveryError: a redirect (never followed)
// and any other status but 429 and 5xx are not retryable; 429, 5xx, network errors and the
// timeout are. An invalid key fails with ErrInvalidKey before anything is sent. At most 4
// KiB of the response body is read, and discarded.
func (w *Webhook) Post(ctx context.Context, key string, body []byte) error {
	if err := validKey(key); err != nil {
		return err
	}

	ctx, cancel := context.WithTimeout(ctx, w.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url(), bytes.NewReader(body))
	if err != nil {
		return w.fail(0, fmt.Errorf("build request: %w", transportCause(err)), false)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set("Idempotency-Key", key)
	req.Header.Set(SignatureHeader, w.sign(time.Now(), body))

	resp, err := w.client.Do(req)
	switch {
	case err != nil && isTimeout(ctx):
		return w.fail(0, fmt.Errorf("%w: %w", errAttemptTimeout, transportCause(err)), true)
	case err != nil:
		return w.fail(0, transportCause(err), ctx.Err() == nil)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseBody))
	_ = resp.Body.Close()

	code := resp.StatusCode
	if code >= 200 && code < 300 {
		return nil
	}
	return w.fail(code, nil, code == http.StatusTooManyRequests || code >= 500 && code < 600)
}

// CloseIdleConnections closes the connections kept open for later posts; the webhook can
// still post afterwards. Call it when the webhook is no longer used.
func (w *Webhook) CloseIdleConnections() { w.client.CloseIdleConnections() }

// fail returns a *DeliveryError for this webhook. A certificate that does not verify and an
// address the guard refused are never retryable: they will not fix themselves.
func (w *Webhook) fail(code int, cause error, retryable bool) error {
	var certErr *tls.CertificateVerificationError
	if errors.As(cause, &certErr) || errors.Is(cause, ErrBlockedAddress) {
		retryable = false
	}
	return &DeliveryError{Op: "webhook", Target: w.target, StatusCode: code, Err: cause,
		retryable: retryable}
}

// transportCause strips the *url.Error that net/http wraps around transport errors: its
// message holds the whole URL, path and query included.
func transportCause(err error) error {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		return uerr.Err
	}
	return err
}

// isTimeout reports whether ctx ended by its deadline: the attempt's own timeout, or the
// caller's deadline, which a later attempt may not hit.
func isTimeout(ctx context.Context) bool {
	return errors.Is(ctx.Err(), context.DeadlineExceeded)
}

// validKey checks an idempotency key: 1 to MaxKeyLen bytes from '!' to '~'.
func validKey(key string) error {
	if key == "" || len(key) > MaxKeyLen {
		return fmt.Errorf("%w: %d bytes, want 1 to %d", ErrInvalidKey, len(key), MaxKeyLen)
	}
	for i := 0; i < len(key); i++ {
		if key[i] < '!' || key[i] > '~' {
			return fmt.Errorf("%w: byte %d is not printable ASCII", ErrInvalidKey, i)
		}
	}
	return nil
}

// PublicReason describes a failed Post in a few words that may be shown to the webhook's
// owner, such as a customer reading its delivery log: the HTTP status received, or the
// kind of failure ("dns lookup failed", "address refused by the engine's policy",
// "connection refused", "timed out", ...). Unlike err's own text it never names an
// address a host name resolved to, the resolver, or anything else of the engine's network.
func PublicReason(err error) string {
	if err == nil {
		return ""
	}
	var de *DeliveryError
	if errors.As(err, &de) && de.StatusCode != 0 {
		if de.StatusCode >= 300 && de.StatusCode < 400 {
			return "redirect not followed (http " + strconv.Itoa(de.StatusCode) + ")"
		}
		return "http " + strconv.Itoa(de.StatusCode)
	}

	var dnsErr *net.DNSError
	var certErr *tls.CertificateVerificationError
	var recordErr tls.RecordHeaderError
	var alertErr tls.AlertError
	var netErr net.Error
	msg := err.Error()
	switch {
	case errors.Is(err, ErrBlockedAddress):
		return "address refused by the engine's policy"
	case errors.Is(err, errAttemptTimeout), errors.Is(err, context.DeadlineExceeded),
		errors.As(err, &netErr) && netErr.Timeout():
		return "timed out"
	case errors.As(err, &dnsErr), errors.Is(err, errNoAddress):
		return "dns lookup failed"
	case errors.Is(err, ErrInvalidKey):
		return "invalid idempotency key"
	case strings.Contains(msg, "response headers exceeded"),
		strings.Contains(msg, "header list larger"):
		return "response headers too large"
	case errors.As(err, &certErr):
		return "certificate not verified"
	case errors.As(err, &recordErr), errors.As(err, &alertErr):
		return "tls handshake failed"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF),
		errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed before an answer"
	case errors.Is(err, context.Canceled):
		return "cancelled"
	}
	return "connection failed"
}
