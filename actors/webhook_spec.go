package actors

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/whalecast/whalecast/internal/alert"
	"github.com/whalecast/whalecast/internal/notify"
	"github.com/whalecast/whalecast/persistence"
)

// Errors of the webhook actor's answers. An invalid spec's message is for the client: it
// names the field and never repeats the URL.
var (
	// ErrWebhookInvalid wraps a refused WebhookSpec; the text after the prefix says why.
	ErrWebhookInvalid = errors.New("invalid webhook")
	// ErrWebhookLimit means the engine or the client has as many webhooks as allowed.
	ErrWebhookLimit = errors.New("webhook limit reached")
	// ErrWebhookFull means a webhook's outbox has no room for a replay.
	ErrWebhookFull = errors.New("webhook outbox full")
	// ErrWebhooksStopped means the webhook actor is stopping or could not load its state.
	ErrWebhooksStopped = errors.New("webhooks unavailable")
	// ErrWebhookOwnerRevoked means the client, the token or the API key that created a
	// webhook has been revoked since; see OwnerRevokedError.
	ErrWebhookOwnerRevoked = errors.New("webhook owner no longer trusted")
	// ErrWebhookSuspended means a webhook no longer delivers because its owner is not
	// trusted: it can only be read and deleted.
	ErrWebhookSuspended = errors.New("webhook suspended")
)

// OwnerRevokedError is what WebhookDeps.OwnerValid returns for a webhook whose owner is no
// longer trusted. It wraps ErrWebhookOwnerRevoked.
type OwnerRevokedError struct {
	// Reason says which credential was revoked, for the webhook's owner: at most
	// persistence.MaxSuspendReason bytes, no secret.
	Reason string
}

// Error returns the reason.
func (e *OwnerRevokedError) Error() string {
	return ErrWebhookOwnerRevoked.Error() + ": " + e.Reason
}

// Unwrap returns ErrWebhookOwnerRevoked.
func (e *OwnerRevokedError) Unwrap() error { return ErrWebhookOwnerRevoked }

// WebhookSpec is what a client asks for when it creates a webhook: the URL records are
// posted to and the filter they must pass, with the fields of a WebSocket subscribe. Its
// String, Format and LogValue show the URL's scheme and host only.
type WebhookSpec struct {
	// URL is the absolute http or https URL to post to, without userinfo or fragment.
	URL string
	// MinBTC is the least value, in BTC, of the alerts (and their updates) posted.
	MinBTC float64
	// Detectors, when not nil, lists the detectors whose records are posted: 1 to
	// MaxDetectorFilter distinct names the engine knows.
	Detectors []string
	// Statuses, when not nil, lists the statuses posted: distinct known statuses.
	Statuses []string
}

// String returns "webhook spec <scheme>://<host>".
func (s WebhookSpec) String() string {
	target := "[redacted]"
	if u, err := url.Parse(s.URL); err == nil && u.Host != "" {
		target = u.Scheme + "://" + u.Host
	}
	return "webhook spec " + target
}

// Format writes String whatever the verb.
func (s WebhookSpec) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, s.String()) }

// LogValue returns String.
func (s WebhookSpec) LogValue() slog.Value { return slog.StringValue(s.String()) }

// invalid returns an ErrWebhookInvalid error with msg for the client.
func invalid(msg string) error {
	return fmt.Errorf("%w: %s", ErrWebhookInvalid, msg)
}

// checkSpec validates spec for owner and returns the webhook to store, with a new id and
// secret. A URL whose host is an IP literal in a range the guard refuses is refused now;
// names are checked when each delivery connects.
func checkSpec(spec WebhookSpec, detectors []string, guard *notify.Guard) (
	persistence.Webhook, error) {
	if err := checkWebhookURL(spec.URL, guard); err != nil {
		return persistence.Webhook{}, err
	}
	if !validMinBTC(spec.MinBTC) {
		return persistence.Webhook{}, invalid("min_btc must be a number from 0 to 21000000")
	}
	if spec.Detectors != nil {
		if len(spec.Detectors) == 0 || len(spec.Detectors) > MaxDetectorFilter {
			return persistence.Webhook{}, invalid("detectors must list 1 to " +
				strconv.Itoa(MaxDetectorFilter) + " detector names")
		}
		for i, d := range spec.Detectors {
			if !slices.Contains(detectors, d) || slices.Contains(spec.Detectors[:i], d) {
				return persistence.Webhook{}, invalid("detectors must be distinct names " +
					"from: " + strings.Join(detectors, ", "))
			}
		}
	}
	if spec.Statuses != nil {
		if len(spec.Statuses) == 0 || len(spec.Statuses) > len(alert.Statuses) {
			return persistence.Webhook{}, invalid("statuses must list distinct statuses: " +
				statusList)
		}
		for i, s := range spec.Statuses {
			if _, ok := alert.ParseStatus(s); !ok || slices.Contains(spec.Statuses[:i], s) {
				return persistence.Webhook{}, invalid("statuses must list distinct " +
					"statuses: " + statusList)
			}
		}
	}
	return persistence.Webhook{URL: spec.URL, MinSat: satFromBTC(spec.MinBTC),
		Detectors: slices.Clone(spec.Detectors), Statuses: slices.Clone(spec.Statuses)}, nil
}

// checkWebhookURL refuses anything but a plain absolute http or https URL.
func checkWebhookURL(raw string, guard *notify.Guard) error {
	if raw == "" || len(raw) > persistence.MaxWebhookURLLen || !utf8.ValidString(raw) {
		return invalid("url must be 1 to " + strconv.Itoa(persistence.MaxWebhookURLLen) +
			" bytes of text")
	}
	for i := 0; i < len(raw); i++ {
		if raw[i] <= ' ' || raw[i] == 0x7f {
			return invalid("url must not hold spaces or control characters")
		}
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil || !u.IsAbs() || u.Opaque != "":
		return invalid("url must be an absolute http or https URL")
	case u.Scheme != "http" && u.Scheme != "https":
		return invalid("url scheme must be http or https")
	case u.User != nil:
		return invalid("url must not hold a user name or password")
	case u.Hostname() == "":
		return invalid("url has no host")
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return invalid("url must not hold a fragment")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return invalid("url port must be 1 to 65535")
		}
	}
	if ip, err := netip.ParseAddr(u.Hostname()); err == nil && guard != nil {
		var blocked *notify.BlockedError
		if errors.As(guard.Check(ip), &blocked) {
			return invalid("url host is a " + blocked.Range + " address, which webhooks " +
				"may not reach")
		}
	}
	return nil
}

// webhookFilter returns the filter a stored webhook's records must pass.
func webhookFilter(w persistence.Webhook) Filter {
	f := Filter{MinSat: w.MinSat}
	if w.Detectors != nil {
		f.Detectors = DetectorFilter(slices.Clone(w.Detectors))
	}
	if w.Statuses != nil {
		f.Statuses = StatusFilter{}
		for _, s := range w.Statuses {
			if st, ok := alert.ParseStatus(s); ok {
				f.Statuses = append(f.Statuses, st)
			}
		}
	}
	return f
}
