// Package notify delivers notifications to operators, by signed webhook and by mail, through
// a bounded asynchronous dispatcher. Signing and posting are kept apart from operator
// concerns so that customer webhooks can reuse them.
//
// # Tour
//
// [Sign] and [Verify] are the two ends of the webhook signature. A request carries it in the
// [SignatureHeader] header as "t=<unix seconds>,v1=<hex>", the hex being HMAC-SHA256 keyed
// with the shared secret over the timestamp, a dot and the body. A receiver recomputes it,
// compares in constant time, and refuses a timestamp further than a tolerance from its own
// clock either way ([DefaultTolerance], 5 minutes, is recommended), which bounds replays.
// Several v1 entries may be sent while a secret is being rotated; one match is enough.
//
// A [Webhook] posts a JSON body to one http or https URL with that signature, made afresh
// for each attempt, an Idempotency-Key header the caller chooses (the same on every retry,
// so the receiver can drop duplicates), Content-Type application/json and User-Agent
// whalecast. It never follows a redirect, ignores proxy settings from the environment, and
// reads at most 4 KiB of a response.
//
// A [Guard] is the webhook's dialer: it resolves the target at every connection and refuses
// loopback, private, link-local, shared, multicast, reserved and cloud-metadata addresses
// unless an operator allow-list names them, checking the address actually dialed, so a name
// that resolves differently between two lookups (DNS rebinding) gains nothing. [Backoff] is
// the retry schedule that the dispatcher and the customer webhooks share.
//
// A [Mailer] sends a plain-text RFC 5322 message through one SMTP server, over STARTTLS
// (required when chosen: a server that does not offer it gets nothing), implicit TLS, or in
// clear text to a loopback IP only. Credentials go with AUTH PLAIN over TLS only. Subjects
// and addresses holding CR, LF or other control characters are refused, so no header can be
// forged.
//
// A [Dispatcher] owns a bounded queue and a goroutine per [Channel]; [WebhookChannel] and
// [MailChannel] adapt a Webhook and a Mailer. [Dispatcher.Notify] never blocks: when a queue
// is full it drops and counts. Each channel delivers its queue in order, retrying errors that
// are [Retryable] with exponential backoff and full jitter. [Dispatcher.Stats] serves the
// counters.
//
// # Failures
//
// A failed delivery is a [*DeliveryError]: its StatusCode is the HTTP status or SMTP reply
// code (0 when none came back), and its Retryable method says whether a later attempt may
// succeed. Retryable: network errors, timeouts, HTTP 429 and 5xx, SMTP 4xx. Not retryable:
// redirects and other HTTP statuses, SMTP 5xx, certificates that do not verify, a missing
// STARTTLS or AUTH PLAIN, and invalid input (ErrInvalidKey, ErrHeaderInjection,
// ErrInvalidMessage), which fails before anything is sent.
//
// # Secrets
//
// Neither the webhook secret nor the mail password appears in an error, a log line or any
// formatting of [WebhookConfig], [Webhook], [MailConfig] or [Mailer]. Webhook errors and
// logs name the URL's scheme and host only, never its path or query, which some receivers
// use as a credential.
//
// # Concurrency
//
// Sign and Verify are pure. Webhook and Mailer are immutable after construction and safe
// for concurrent use; Post and Send block for at most their timeout or their context,
// whichever ends first. Dispatcher methods are safe from any goroutine: Notify and Stats
// never block; Close blocks until the queues are drained or its context ends. A Channel's
// Deliver is only ever called from that channel's goroutine, one call at a time.
package notify
