package persistence

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"time"
)

// Limits on webhook records. The caller (the webhook actor) bounds how many webhooks and
// pending deliveries there are; these bound what one record may hold and what is kept.
const (
	// WebhookIDLen is the length of a webhook id: "wh_" and 16 lowercase hex digits.
	WebhookIDLen = 3 + 16
	// MaxWebhookURLLen is the longest webhook URL, in bytes.
	MaxWebhookURLLen = 2048
	// WebhookSecretLen is the length of a signing secret: "whsec_" and 43 base64url
	// characters of 32 random bytes. The whole string is the HMAC key.
	WebhookSecretLen = 6 + 43
	// MaxWebhookFilter bounds the detectors and the statuses a webhook filters on.
	MaxWebhookFilter = 16
	// MaxWebhookError is the longest error text a delivery keeps, in bytes.
	MaxWebhookError = 256
	// DefaultWebhookLogKeep is how many delivery log entries each webhook keeps: the oldest
	// go when a new one is written.
	DefaultWebhookLogKeep = 1000
	// DefaultWebhookDeadKeep is how many dead letters each webhook keeps: the lowest seq goes
	// when another arrives.
	DefaultWebhookDeadKeep = 1000
)

// Outcomes of a delivery log entry.
const (
	// OutcomeDelivered: the receiver answered 2xx; the delivery left the outbox.
	OutcomeDelivered = "delivered"
	// OutcomeRetry: the attempt failed and another is scheduled.
	OutcomeRetry = "retry"
	// OutcomeDeadLetter: the attempt failed for good (not retryable, or the delivery is
	// older than the maximum age); the delivery moved to the dead letters.
	OutcomeDeadLetter = "dead_letter"
	// OutcomeReplayed: a dead letter was moved back to the outbox by a replay.
	OutcomeReplayed = "replayed"
)

// MaxSuspendReason is the longest reason a suspended webhook keeps, in bytes.
const MaxSuspendReason = 128

// WebhookSecret is a webhook's signing secret. It never prints: fmt, slog and JSON show
// "[redacted]". Reveal returns the bytes.
type WebhookSecret []byte

const redactedSecret = "[redacted]"

// String returns "[redacted]".
func (WebhookSecret) String() string { return redactedSecret }

// GoString returns "[redacted]".
func (WebhookSecret) GoString() string { return redactedSecret }

// Format writes "[redacted]" whatever the verb.
func (WebhookSecret) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, redactedSecret) }

// LogValue returns "[redacted]".
func (WebhookSecret) LogValue() slog.Value { return slog.StringValue(redactedSecret) }

// MarshalJSON returns "[redacted]" as a JSON string.
func (WebhookSecret) MarshalJSON() ([]byte, error) {
	return []byte(`"` + redactedSecret + `"`), nil
}

// Reveal returns the secret's bytes.
func (s WebhookSecret) Reveal() []byte { return s }

// NewWebhookSecret draws a random secret: "whsec_" and the base64url encoding (no padding)
// of 32 random bytes. Receivers key their HMAC with the whole string's bytes.
func NewWebhookSecret() WebhookSecret {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return WebhookSecret("whsec_" + base64.RawURLEncoding.EncodeToString(b))
}

// NewWebhookID draws a random webhook id: "wh_" and 16 lowercase hex digits.
func NewWebhookID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return "wh_" + hex.EncodeToString(b)
}

// ValidWebhookID reports whether id has the shape NewWebhookID makes.
func ValidWebhookID(id string) bool {
	if len(id) != WebhookIDLen || id[:3] != "wh_" {
		return false
	}
	for i := 3; i < len(id); i++ {
		c := id[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Webhook is a customer's subscription: where matching records are posted and how they are
// signed. Its String, Format and LogValue show the id, the owner and the URL's scheme and
// host only: the secret and the URL's path and query (which may hold a credential) never
// print.
type Webhook struct {
	// ID is the webhook's public id (NewWebhookID).
	ID string
	// Owner is the client (token subject or API key client) that created it.
	Owner string
	// TokenID is the jti of the token that created it; empty when an API key did (or the
	// engine ran without authentication).
	TokenID string
	// APIKeyID is the id of the API key that created it; empty when a token did.
	APIKeyID string
	// URL is the absolute http or https URL records are posted to, without userinfo.
	URL string
	// Secret signs every post.
	Secret WebhookSecret
	// MinSat is the least value, in satoshis, of the alerts (and their updates) posted.
	MinSat int64
	// Detectors, when not nil, lists the detectors whose records are posted.
	Detectors []string
	// Statuses, when not nil, lists the statuses posted.
	Statuses []string
	// Created is when it was made, in UTC.
	Created time.Time
	// Suspended is when the engine stopped delivering it because its owner is no longer
	// trusted (see SuspendWebhook); zero while it is active.
	Suspended time.Time
	// SuspendReason says why, for its owner; empty while it is active.
	SuspendReason string
}

// String returns "webhook <id> of <owner> to <scheme>://<host>".
func (w Webhook) String() string {
	target := redactedSecret
	if u, err := url.Parse(w.URL); err == nil && u.Host != "" {
		target = u.Scheme + "://" + u.Host
	}
	return "webhook " + w.ID + " of " + w.Owner + " to " + target
}

// GoString returns String.
func (w Webhook) GoString() string { return w.String() }

// Format writes String whatever the verb.
func (w Webhook) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, w.String()) }

// LogValue returns String.
func (w Webhook) LogValue() slog.Value { return slog.StringValue(w.String()) }

// Delivery is one record on its way to one webhook: an outbox entry, or a dead letter once
// it failed for good.
type Delivery struct {
	// Seq is the record's seq: the idempotency key of every attempt.
	Seq uint64
	// Attempts counts the attempts made.
	Attempts int
	// Created is when the delivery entered the outbox (or was replayed into it); its
	// maximum age counts from here.
	Created time.Time
	// Next is when the next attempt is due.
	Next time.Time
	// LastStatus is the HTTP status of the last attempt, 0 when none came back.
	LastStatus int
	// LastError says why the last attempt failed (at most MaxWebhookError bytes); empty
	// when none was made or it succeeded.
	LastError string
	// DeadAt is when it became a dead letter; zero in the outbox.
	DeadAt time.Time
}

// DeliveryLogEntry is one line of a webhook's delivery log.
type DeliveryLogEntry struct {
	// N numbers the webhook's log entries densely from 1.
	N uint64
	// Time is when it was written, in UTC.
	Time time.Time
	// Seq is the record delivered.
	Seq uint64
	// Attempt is the attempt's number (1 for the first); 0 for a replay.
	Attempt int
	// Outcome is OutcomeDelivered, OutcomeRetry, OutcomeDeadLetter or OutcomeReplayed.
	Outcome string
	// Status is the HTTP status received, 0 when none came back.
	Status int
	// Error says why the attempt failed; empty on success.
	Error string
	// DurationMS is how long the attempt took, in milliseconds.
	DurationMS int64
}

// WebhookKeep bounds what a webhook keeps of its history; zero fields mean the defaults.
type WebhookKeep struct {
	// Log is how many delivery log entries are kept (DefaultWebhookLogKeep).
	Log int
	// Dead is how many dead letters are kept (DefaultWebhookDeadKeep).
	Dead int
}

func (k WebhookKeep) withDefaults() WebhookKeep {
	if k.Log <= 0 {
		k.Log = DefaultWebhookLogKeep
	}
	if k.Dead <= 0 {
		k.Dead = DefaultWebhookDeadKeep
	}
	return k
}

// WebhookEnqueue is what one scan of the record log adds for one webhook: the new cursor
// (every record up to it has been considered) and the deliveries of the records that
// matched.
type WebhookEnqueue struct {
	ID         string
	Cursor     uint64
	Deliveries []Delivery
}

// AttemptResult is one attempt's outcome to record: the webhook, the delivery as the
// attempt left it and its log entry (Entry.Outcome says what happens to the delivery).
type AttemptResult struct {
	ID       string
	Delivery Delivery
	Entry    DeliveryLogEntry
}

// WebhookStore keeps webhooks, their cursors over the record log, their outboxes, dead
// letters and delivery logs. *Badger implements it. Every method may be called from any
// goroutine; writes are durable (fsynced) before they return and share the store's failure
// state, like SecurityStore's. A write naming a webhook that is not stored (deleted
// meanwhile) writes nothing for it.
type WebhookStore interface {
	// PutWebhook stores a new webhook whose cursor starts at cursor: records with a seq
	// above it are delivered. ErrExists when the id is taken, ErrInvalidRecord for an
	// invalid w.
	PutWebhook(w Webhook, cursor uint64) error
	// Webhooks returns every webhook, ordered by id.
	Webhooks() ([]Webhook, error)
	// Webhook returns one webhook, or ErrNotFound.
	Webhook(id string) (Webhook, error)
	// DeleteWebhook removes the webhook with its cursor, outbox, dead letters and log;
	// ErrNotFound when there is none.
	DeleteWebhook(id string) error
	// WebhookCursor returns the webhook's cursor, or ErrNotFound.
	WebhookCursor(id string) (uint64, error)
	// Enqueue writes, in one transaction, each item's deliveries into its webhook's outbox
	// and its new cursor; items of webhooks not stored are skipped.
	Enqueue(items []WebhookEnqueue) error
	// Outbox returns the webhook's outbox, by seq.
	Outbox(id string) ([]Delivery, error)
	// ResolveAttempt records an attempt's outcome in one transaction: OutcomeDelivered
	// removes d from the outbox, OutcomeRetry rewrites it, OutcomeDeadLetter moves it to
	// the dead letters (dropping the lowest seqs past keep.Dead); each appends entry to the
	// log (N and Time are set here, entries past keep.Log are dropped) and returns it.
	// ErrNotFound when the webhook is gone.
	ResolveAttempt(id string, d Delivery, entry DeliveryLogEntry, keep WebhookKeep) (
		DeliveryLogEntry, error)
	// ResolveAttempts records many attempts' outcomes, of one webhook or several, as
	// ResolveAttempt does each, in order, in one transaction and one sync (several when
	// they do not fit in one; each outcome is written whole). It returns one entry per
	// item: N is 0 for an item whose webhook is not stored (deleted meanwhile), which is
	// skipped. At most MaxResolveBatch items; an item with an unknown outcome refuses the
	// whole call, which then writes nothing.
	ResolveAttempts(items []AttemptResult, keep WebhookKeep) ([]DeliveryLogEntry, error)
	// DeadLetters returns up to limit dead letters with seq > after, by seq.
	DeadLetters(id string, after uint64, limit int) ([]Delivery, error)
	// ReplayDeadLetters moves dead letters back to the outbox, attempts reset and due at
	// now: those with the seqs given, or the lowest ones when seqs is nil; at most limit.
	// It logs each as OutcomeReplayed and returns the moved deliveries. ErrNotFound when
	// the webhook is gone.
	ReplayDeadLetters(id string, seqs []uint64, limit int, now time.Time, keep WebhookKeep) (
		[]Delivery, error)
	// DeliveryLog returns up to limit log entries with N > after, by N.
	DeliveryLog(id string, after uint64, limit int) ([]DeliveryLogEntry, error)
	// WebhookCounts returns how many deliveries the webhook has in its outbox and in its
	// dead letters.
	WebhookCounts(id string) (outbox, dead int, err error)
	// SuspendWebhook marks the webhook suspended at at, for reason (at most
	// MaxSuspendReason bytes): it keeps its outbox, dead letters and log, and the engine
	// no longer delivers it. A webhook suspended already keeps its first time and reason.
	// ErrNotFound when there is none.
	SuspendWebhook(id string, at time.Time, reason string) error
}

// checkWebhook validates a webhook before it is stored.
func checkWebhook(w Webhook) error {
	bad := func(why string) error {
		return fmt.Errorf("persistence: webhook %s: %s: %w", w.ID, why, ErrInvalidRecord)
	}
	u, err := url.Parse(w.URL)
	switch {
	case !ValidWebhookID(w.ID):
		return fmt.Errorf("persistence: malformed webhook id: %w", ErrInvalidRecord)
	case w.Owner == "" || len(w.Owner) > MaxAuditFieldLen:
		return bad("owner is empty or too long")
	case len(w.TokenID) > MaxAuditFieldLen || len(w.APIKeyID) > MaxAPIKeyIDLen:
		return bad("creating credential id is too long")
	case len(w.SuspendReason) > MaxSuspendReason:
		return bad("suspension reason is too long")
	case len(w.URL) > MaxWebhookURLLen || err != nil || u.Host == "" || u.User != nil ||
		(u.Scheme != "http" && u.Scheme != "https"):
		return bad("URL is not an http or https URL without userinfo")
	case len(w.Secret) < WebhookSecretLen:
		return bad("secret is too short")
	case w.MinSat < 0:
		return bad("negative minimum")
	case len(w.Detectors) > MaxWebhookFilter || len(w.Statuses) > MaxWebhookFilter:
		return bad("too many filters")
	case w.Created.IsZero():
		return bad("no creation time")
	}
	return nil
}

// clipError shortens an error text to MaxWebhookError bytes.
func clipError(s string) string {
	if len(s) <= MaxWebhookError {
		return s
	}
	return s[:MaxWebhookError]
}
