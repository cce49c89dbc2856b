package transport

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/whalecast/whalecast/actors"
	"github.com/whalecast/whalecast/internal/alert"
	"github.com/whalecast/whalecast/internal/auth"
	"github.com/whalecast/whalecast/internal/notify"
	"github.com/whalecast/whalecast/persistence"
)

// webhookCallTimeout bounds a webhook route's wait for the webhook actor.
const webhookCallTimeout = 10 * time.Second

// Webhooks manages customer webhooks for the /api/v1/webhooks routes: changes go through
// the engine's webhook actor, reads to the store; see system.
type Webhooks interface {
	// Create validates spec and stores a new webhook of owner; see actors.CreateWebhook.
	Create(ctx context.Context, owner actors.WebhookOwner, spec actors.WebhookSpec) (
		persistence.Webhook, error)
	// Delete removes a webhook with everything it holds.
	Delete(ctx context.Context, id string) error
	// Replay moves dead letters back to the outbox (all when seqs is nil, as room allows)
	// and returns their seqs.
	Replay(ctx context.Context, id string, seqs []uint64) ([]uint64, error)

	Webhooks() ([]persistence.Webhook, error)
	Webhook(id string) (persistence.Webhook, error)
	DeliveryLog(id string, after uint64, limit int) ([]persistence.DeliveryLogEntry, error)
	DeadLetters(id string, after uint64, limit int) ([]persistence.Delivery, error)
	WebhookCounts(id string) (outbox, dead int, err error)
}

// WebhookRequest is the body of POST /api/v1/webhooks. Its fields are those of a WebSocket
// subscribe, and URL.
type WebhookRequest struct {
	// URL is the absolute http or https URL records are POSTed to.
	URL string `json:"url"`
	// MinBTC is the least value, in BTC, of the alerts posted (and of their updates);
	// required, 0 to 21000000.
	MinBTC *float64 `json:"min_btc"`
	// Detectors, when given, lists the detectors whose alerts are posted.
	Detectors []string `json:"detectors,omitempty"`
	// Statuses, when given, lists the statuses posted.
	Statuses []string `json:"statuses,omitempty"`
}

// Webhook statuses, in WebhookInfo.Status.
const (
	// WebhookActive: matching records are delivered.
	WebhookActive = "active"
	// WebhookSuspended: its owner is no longer trusted (the client, the token or the API
	// key that created it was revoked); nothing is delivered any more.
	WebhookSuspended = "suspended"
)

// WebhookInfo is a webhook as the routes show it: never its secret, and its URL's path
// and query each replaced by "[redacted]" (see redactURL).
type WebhookInfo struct {
	ID        string    `json:"id"`
	Owner     string    `json:"owner"`
	URL       string    `json:"url"`
	MinBTC    float64   `json:"min_btc"`
	Detectors []string  `json:"detectors,omitempty"`
	Statuses  []string  `json:"statuses,omitempty"`
	Created   time.Time `json:"created"`
	// Status is WebhookActive or WebhookSuspended; a suspended webhook has SuspendedAt
	// and SuspendReason too.
	Status        string     `json:"status"`
	SuspendedAt   *time.Time `json:"suspended_at,omitempty"`
	SuspendReason string     `json:"suspend_reason,omitempty"`
	// Pending and DeadLetters count the outbox and the dead letters; on GET of one
	// webhook only.
	Pending     *int `json:"pending,omitempty"`
	DeadLetters *int `json:"dead_letters,omitempty"`
}

// NewWebhookResponse answers POST /api/v1/webhooks with 201. Secret is shown this once.
type NewWebhookResponse struct {
	WebhookInfo
	// Secret keys the HMAC-SHA256 of the Whalecast-Signature header (docs/webhooks.md).
	Secret string `json:"secret"`
	// SignatureHeader names that header.
	SignatureHeader string `json:"signature_header"`
}

// WebhookList is the body of GET /api/v1/webhooks.
type WebhookList struct {
	Webhooks []WebhookInfo `json:"webhooks"`
}

// DeliveryLogEntry is one line of GET /api/v1/webhooks/{id}/deliveries.
type DeliveryLogEntry struct {
	N          uint64    `json:"n"`
	Time       time.Time `json:"time"`
	Seq        uint64    `json:"seq"`
	Attempt    int       `json:"attempt"`
	Outcome    string    `json:"outcome"`
	Status     int       `json:"status,omitempty"`
	Error      string    `json:"error,omitempty"`
	DurationMS int64     `json:"duration_ms"`
}

// DeliveryLogPage is the body of GET /api/v1/webhooks/{id}/deliveries.
type DeliveryLogPage struct {
	Deliveries []DeliveryLogEntry `json:"deliveries"`
	// Next is the since value that fetches the following page.
	Next uint64 `json:"next"`
}

// DeadLetter is one entry of GET /api/v1/webhooks/{id}/dead-letters.
type DeadLetter struct {
	Seq        uint64    `json:"seq"`
	Attempts   int       `json:"attempts"`
	Created    time.Time `json:"created"`
	DeadAt     time.Time `json:"dead_at"`
	LastStatus int       `json:"last_status,omitempty"`
	LastError  string    `json:"last_error,omitempty"`
}

// DeadLetterPage is the body of GET /api/v1/webhooks/{id}/dead-letters.
type DeadLetterPage struct {
	DeadLetters []DeadLetter `json:"dead_letters"`
	// Next is the since value that fetches the following page.
	Next uint64 `json:"next"`
}

// ReplayRequest is the optional body of POST /api/v1/webhooks/{id}/dead-letters/replay:
// the seqs of the dead letters to replay; without a body, the oldest ones are replayed.
type ReplayRequest struct {
	Seqs []uint64 `json:"seqs"`
}

// ReplayResponse answers a replay: the seqs moved back to the outbox.
type ReplayResponse struct {
	Replayed int      `json:"replayed"`
	Seqs     []uint64 `json:"seqs"`
}

// webhookRoutes registers the webhook routes on mux. Each needs the write or the admin
// permission; a client sees only its own webhooks, an admin every one.
func (s *Server) webhookRoutes(mux *http.ServeMux) {
	route := func(h apiHandler) http.HandlerFunc { return s.api("", s.webhookAccess(h)) }
	mux.HandleFunc("POST /api/v1/webhooks", route(s.handleCreateWebhook))
	mux.HandleFunc("GET /api/v1/webhooks", route(s.handleWebhooks))
	mux.HandleFunc("GET /api/v1/webhooks/{id}", route(s.handleWebhook))
	mux.HandleFunc("DELETE /api/v1/webhooks/{id}", route(s.handleDeleteWebhook))
	mux.HandleFunc("GET /api/v1/webhooks/{id}/deliveries", route(s.handleDeliveryLog))
	mux.HandleFunc("GET /api/v1/webhooks/{id}/dead-letters", route(s.handleDeadLetters))
	mux.HandleFunc("POST /api/v1/webhooks/{id}/dead-letters/replay", route(s.handleReplay))
}

// webhookAccess refuses callers without the write or admin permission (403) and answers
// 503 when the engine has no webhooks.
func (s *Server) webhookAccess(h apiHandler) apiHandler {
	return func(w http.ResponseWriter, r *http.Request, p principal) {
		if !p.has(auth.PermWrite) && !p.has(auth.PermAdmin) {
			writeError(w, http.StatusForbidden, "forbidden",
				"the write permission is required")
			return
		}
		if s.cfg.Webhooks == nil {
			writeError(w, http.StatusServiceUnavailable, "unavailable", "webhooks are off")
			return
		}
		h(w, r, p)
	}
}

// ownWebhook reads the webhook of the route's {id} if p may see it: its owner or an admin.
// Anyone else gets the same 404 as for an unknown id. On failure it has answered.
func (s *Server) ownWebhook(w http.ResponseWriter, r *http.Request, p principal) (
	persistence.Webhook, bool) {
	id := r.PathValue("id")
	if !persistence.ValidWebhookID(id) {
		writeError(w, http.StatusNotFound, "not_found", "no webhook has this id")
		return persistence.Webhook{}, false
	}
	hook, err := s.cfg.Webhooks.Webhook(id)
	switch {
	case errors.Is(err, persistence.ErrNotFound):
		writeError(w, http.StatusNotFound, "not_found", "no webhook has this id")
		return persistence.Webhook{}, false
	case err != nil:
		s.storeError(w, "read webhook", err)
		return persistence.Webhook{}, false
	case hook.Owner != p.Client && !p.has(auth.PermAdmin):
		writeError(w, http.StatusNotFound, "not_found", "no webhook has this id")
		return persistence.Webhook{}, false
	}
	return hook, true
}

func (s *Server) handleCreateWebhook(w http.ResponseWriter, r *http.Request, p principal) {
	if !noParams(w, r) {
		return
	}
	var req WebhookRequest
	if !decodeStrict(w, r, &req, false, "url", "min_btc", "detectors", "statuses") {
		return
	}
	if req.MinBTC == nil {
		writeError(w, http.StatusBadRequest, "bad_request",
			"min_btc is required: a number from 0 to 21000000")
		return
	}

	ctx, cancel := context.WithTimeout(r.Context(), webhookCallTimeout)
	defer cancel()
	owner := actors.WebhookOwner{Client: p.Client, TokenID: p.TokenID, APIKeyID: p.KeyID}
	hook, err := s.cfg.Webhooks.Create(ctx, owner, actors.WebhookSpec{URL: req.URL,
		MinBTC: *req.MinBTC, Detectors: req.Detectors, Statuses: req.Statuses})
	if err != nil {
		s.webhookError(w, "create webhook", err)
		return
	}
	s.audit(persistence.AuditEvent{Type: "webhook_created", Client: p.Client,
		Detail: hook.ID + " to " + targetOf(hook.URL)})
	w.Header().Set("Location", "/api/v1/webhooks/"+hook.ID)
	writeJSON(w, http.StatusCreated, NewWebhookResponse{WebhookInfo: webhookInfo(hook),
		Secret: string(hook.Secret.Reveal()), SignatureHeader: notify.SignatureHeader})
}

// webhookError answers a failed webhook call.
func (s *Server) webhookError(w http.ResponseWriter, op string, err error) {
	switch {
	case errors.Is(err, actors.ErrWebhookInvalid):
		writeError(w, http.StatusBadRequest, "bad_request", err.Error())
	case errors.Is(err, actors.ErrWebhookLimit):
		writeError(w, http.StatusConflict, "limit_reached", err.Error())
	case errors.Is(err, actors.ErrWebhookFull):
		writeError(w, http.StatusConflict, "outbox_full",
			"the webhook's outbox is full: replay later")
	case errors.Is(err, actors.ErrWebhookSuspended):
		writeError(w, http.StatusConflict, "suspended",
			"the webhook is suspended: its owner is no longer trusted")
	case errors.Is(err, persistence.ErrNotFound):
		writeError(w, http.StatusNotFound, "not_found", "no webhook has this id")
	case errors.Is(err, actors.ErrWebhooksStopped):
		writeError(w, http.StatusServiceUnavailable, "unavailable",
			"webhooks did not answer in time")
	default:
		s.storeError(w, op, err)
	}
}

func (s *Server) handleWebhooks(w http.ResponseWriter, r *http.Request, p principal) {
	if !noParams(w, r) {
		return
	}
	hooks, err := s.cfg.Webhooks.Webhooks()
	if err != nil {
		s.storeError(w, "list webhooks", err)
		return
	}
	out := WebhookList{Webhooks: []WebhookInfo{}}
	for _, h := range hooks {
		if h.Owner == p.Client || p.has(auth.PermAdmin) {
			out.Webhooks = append(out.Webhooks, webhookInfo(h))
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleWebhook(w http.ResponseWriter, r *http.Request, p principal) {
	if !noParams(w, r) {
		return
	}
	hook, ok := s.ownWebhook(w, r, p)
	if !ok {
		return
	}
	pending, dead, err := s.cfg.Webhooks.WebhookCounts(hook.ID)
	if err != nil {
		s.webhookError(w, "count deliveries", err)
		return
	}
	info := webhookInfo(hook)
	info.Pending, info.DeadLetters = &pending, &dead
	writeJSON(w, http.StatusOK, info)
}

func (s *Server) handleDeleteWebhook(w http.ResponseWriter, r *http.Request, p principal) {
	if !noParams(w, r) {
		return
	}
	hook, ok := s.ownWebhook(w, r, p)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), webhookCallTimeout)
	defer cancel()
	if err := s.cfg.Webhooks.Delete(ctx, hook.ID); err != nil {
		s.webhookError(w, "delete webhook", err)
		return
	}
	s.audit(persistence.AuditEvent{Type: "webhook_deleted", Client: p.Client,
		Detail: hook.ID + " of " + hook.Owner})
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleDeliveryLog(w http.ResponseWriter, r *http.Request, p principal) {
	webhookPage(s, w, r, p, "read delivery log", s.cfg.Webhooks.DeliveryLog,
		func(log []persistence.DeliveryLogEntry, since uint64) any {
			page := DeliveryLogPage{Deliveries: make([]DeliveryLogEntry, len(log)),
				Next: since}
			for i, e := range log {
				page.Deliveries[i] = DeliveryLogEntry{N: e.N, Time: e.Time, Seq: e.Seq,
					Attempt: e.Attempt, Outcome: e.Outcome, Status: e.Status,
					Error: e.Error, DurationMS: e.DurationMS}
				page.Next = e.N
			}
			return page
		})
}

func (s *Server) handleDeadLetters(w http.ResponseWriter, r *http.Request, p principal) {
	webhookPage(s, w, r, p, "read dead letters", s.cfg.Webhooks.DeadLetters,
		func(dead []persistence.Delivery, since uint64) any {
			page := DeadLetterPage{DeadLetters: make([]DeadLetter, len(dead)), Next: since}
			for i, d := range dead {
				page.DeadLetters[i] = DeadLetter{Seq: d.Seq, Attempts: d.Attempts,
					Created: d.Created, DeadAt: d.DeadAt, LastStatus: d.LastStatus,
					LastError: d.LastError}
				page.Next = d.Seq
			}
			return page
		})
}

// webhookPage answers a paged read of one of the caller's webhooks: it checks the paging
// parameters and the caller's right to the webhook, reads a page with read, and answers
// what render makes of it.
func webhookPage[T any](s *Server, w http.ResponseWriter, r *http.Request, p principal,
	what string, read func(id string, after uint64, limit int) ([]T, error),
	render func(items []T, since uint64) any) {
	since, limit, ok := pageParams(w, r)
	if !ok {
		return
	}
	hook, ok := s.ownWebhook(w, r, p)
	if !ok {
		return
	}
	items, err := read(hook.ID, since, limit)
	if err != nil {
		s.webhookError(w, what, err)
		return
	}
	writeJSON(w, http.StatusOK, render(items, since))
}

func (s *Server) handleReplay(w http.ResponseWriter, r *http.Request, p principal) {
	if !noParams(w, r) {
		return
	}
	var req ReplayRequest
	if !decodeStrict(w, r, &req, true, "seqs") {
		return
	}
	if req.Seqs != nil && (len(req.Seqs) == 0 || len(req.Seqs) > actors.MaxWebhookReplay) {
		writeError(w, http.StatusBadRequest, "bad_request", "seqs must list 1 to "+
			strconv.Itoa(actors.MaxWebhookReplay)+" seqs")
		return
	}
	hook, ok := s.ownWebhook(w, r, p)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), webhookCallTimeout)
	defer cancel()
	seqs, err := s.cfg.Webhooks.Replay(ctx, hook.ID, req.Seqs)
	if err != nil {
		s.webhookError(w, "replay dead letters", err)
		return
	}
	if seqs == nil {
		seqs = []uint64{}
	}
	writeJSON(w, http.StatusOK, ReplayResponse{Replayed: len(seqs), Seqs: seqs})
}

// webhookInfo is what the routes show of a webhook.
func webhookInfo(h persistence.Webhook) WebhookInfo {
	info := WebhookInfo{ID: h.ID, Owner: h.Owner, URL: redactURL(h.URL),
		MinBTC: alert.BTC(h.MinSat), Detectors: h.Detectors, Statuses: h.Statuses,
		Created: h.Created.UTC(), Status: WebhookActive}
	if !h.Suspended.IsZero() {
		at := h.Suspended.UTC()
		info.Status, info.SuspendedAt, info.SuspendReason = WebhookSuspended, &at,
			h.SuspendReason
	}
	return info
}

// redactURL returns scheme://host[:port] of raw, then "/[redacted]" for a path other than
// "/" and "?[redacted]" for a query: a path or a query may hold a credential, so neither is
// shown again once the webhook is created.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "[redacted]"
	}
	out := u.Scheme + "://" + u.Host
	switch u.EscapedPath() {
	case "":
	case "/":
		out += "/"
	default:
		out += "/[redacted]"
	}
	if u.RawQuery != "" || u.ForceQuery {
		out += "?[redacted]"
	}
	return out
}

// targetOf returns scheme://host of a URL, for audit details.
func targetOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "[redacted]"
	}
	return u.Scheme + "://" + u.Host
}

// decodeStrict reads a JSON body of at most MaxAdminBody bytes into v more strictly than
// decodeBody: valid UTF-8, field names in their exact case, none repeated, unknown or null,
// nothing after the object. With optional, an empty body leaves v as it is. On failure it
// has answered.
func decodeStrict(w http.ResponseWriter, r *http.Request, v any, optional bool,
	names ...string) bool {
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(adminBodyTimeout))
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxAdminBody))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		writeError(w, http.StatusRequestEntityTooLarge, "too_large", "the body is over 16 KiB")
		return false
	case err != nil:
		writeError(w, http.StatusBadRequest, "bad_request", "the body could not be read")
		return false
	case optional && len(data) == 0:
		return true
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		writeError(w, http.StatusUnsupportedMediaType, "unsupported_media_type",
			"the body must be application/json")
		return false
	}
	if msg := strictFields(data, v, names); msg != "" {
		writeError(w, http.StatusBadRequest, "bad_request", msg)
		return false
	}
	return true
}

// strictFields checks data's top-level object against the field names known and decodes
// it into v; it returns a message for the client, or "" on success.
func strictFields(data []byte, v any, known []string) string {
	if !utf8.Valid(data) {
		return "the body is not valid UTF-8"
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return "the body must be a JSON object"
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		key, ok := tok.(string)
		if err != nil || !ok {
			return "the body must be a JSON object"
		}
		if !slices.Contains(known, key) || seen[key] {
			return "unknown or repeated field " + strconv.QuoteToASCII(clip(key))
		}
		seen[key] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return "the body must be a JSON object"
		}
		if string(raw) == "null" {
			return "field " + key + " must not be null"
		}
	}
	if _, err := dec.Token(); err != nil {
		return "the body must be a JSON object"
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return "data after the JSON object"
	}
	if err := json.Unmarshal(data, v); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Field != "" {
			return "field " + typeErr.Field + " has the wrong type"
		}
		return "the body is not the expected JSON object"
	}
	return ""
}
