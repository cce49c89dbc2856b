package transport

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/whalecast/whalecast/internal/auth"
	"github.com/whalecast/whalecast/persistence"
)

// Limits of the admin routes' request bodies.
const (
	// MaxAdminBody is the largest JSON body an admin route reads, in bytes.
	MaxAdminBody = 16 << 10
	// adminBodyTimeout bounds the time a client may take to send an admin body.
	adminBodyTimeout = 10 * time.Second
)

// RevokeRequest is the body of POST /api/v1/admin/revocations: either JTI (with an optional
// ExpiresAt, when the token expires) or Client, never both.
type RevokeRequest struct {
	// JTI revokes the one token with this jti.
	JTI string `json:"jti,omitempty"`
	// ExpiresAt is when that token expires; the revocation is kept until then. Zero keeps
	// it for the engine's longest token lifetime.
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	// Client revokes every token of this client issued until now.
	Client string `json:"client,omitempty"`
}

// RevocationInfo is a revocation as the admin routes show it.
type RevocationInfo struct {
	// Kind is "jti" or "client".
	Kind string `json:"kind"`
	// Value is the jti or the client id.
	Value string `json:"value"`
	// At is when the revocation was made.
	At time.Time `json:"at"`
	// Until is when it is forgotten (every token it covers has expired by then).
	Until time.Time `json:"until"`
}

// RevocationList is the body of GET /api/v1/admin/revocations.
type RevocationList struct {
	// Revocations are the revocations in force, by kind and value.
	Revocations []RevocationInfo `json:"revocations"`
}

// APIKeyRequest is the body of POST /api/v1/admin/apikeys.
type APIKeyRequest struct {
	// Client is the client the key acts for (the characters of a token's sub).
	Client string `json:"client"`
	// Perms are the permissions it grants: read, write, admin.
	Perms []string `json:"perms"`
}

// APIKeyInfo is an API key as the admin routes list it: never the key itself.
type APIKeyInfo struct {
	// ID is the key's public id, used to revoke it.
	ID string `json:"id"`
	// Client is the client the key acts for.
	Client string `json:"client"`
	// Perms are the permissions it grants.
	Perms []string `json:"perms"`
	// Created is when it was made.
	Created time.Time `json:"created"`
	// Revoked reports a revoked key, which authenticates nothing.
	Revoked bool `json:"revoked"`
	// RevokedAt is when it was revoked; zero while it is live.
	RevokedAt time.Time `json:"revoked_at,omitzero"`
}

// NewAPIKeyResponse answers POST /api/v1/admin/apikeys. Key is shown this once: only its
// hash is stored.
type NewAPIKeyResponse struct {
	// ID is the key's public id.
	ID string `json:"id"`
	// Key is the secret the client sends as X-API-Key.
	Key string `json:"key"`
	// Client is the client the key acts for.
	Client string `json:"client"`
	// Perms are the permissions it grants.
	Perms []string `json:"perms"`
	// Created is when it was made.
	Created time.Time `json:"created"`
}

// APIKeyList is the body of GET /api/v1/admin/apikeys.
type APIKeyList struct {
	// APIKeys are every key, revoked ones included, oldest first.
	APIKeys []APIKeyInfo `json:"apikeys"`
}

// AuditEntry is one audit event as GET /api/v1/admin/audit shows it.
type AuditEntry struct {
	Seq     uint64    `json:"seq"`
	Time    time.Time `json:"time"`
	Type    string    `json:"type"`
	Client  string    `json:"client,omitempty"`
	Remote  string    `json:"remote,omitempty"`
	Reason  string    `json:"reason,omitempty"`
	KeyID   string    `json:"key_id,omitempty"`
	TokenID string    `json:"token_id,omitempty"`
	Detail  string    `json:"detail,omitempty"`
}

// AuditPage is the body of GET /api/v1/admin/audit.
type AuditPage struct {
	// Events are the audit events after since, in seq order.
	Events []AuditEntry `json:"events"`
	// Next is the since value that fetches the following page.
	Next uint64 `json:"next"`
}

// TokenKeyInfo is a token key as GET /api/v1/admin/keys shows it: never its material.
type TokenKeyInfo struct {
	KID      string    `json:"kid"`
	Alg      string    `json:"alg"`
	State    string    `json:"state"`
	Created  time.Time `json:"created,omitzero"`
	Retired  time.Time `json:"retired,omitzero"`
	InMemory bool      `json:"in_memory,omitempty"`
}

// TokenKeyList is the body of GET /api/v1/admin/keys.
type TokenKeyList struct {
	// Keys are the key ring's keys.
	Keys []TokenKeyInfo `json:"keys"`
}

// decodeBody reads a JSON body of at most MaxAdminBody bytes into v: the content type must
// be JSON, unknown fields and trailing data are refused. On failure it has answered.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		writeError(w, http.StatusUnsupportedMediaType, "unsupported_media_type",
			"the body must be application/json")
		return false
	}
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(adminBodyTimeout))
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, MaxAdminBody))
	dec.DisallowUnknownFields()
	err = dec.Decode(v)
	if err == nil && dec.Decode(&struct{}{}) != io.EOF {
		err = errors.New("data after the JSON object")
	}
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		writeError(w, http.StatusRequestEntityTooLarge, "too_large",
			"the body is over 16 KiB")
		return false
	case err != nil:
		writeError(w, http.StatusBadRequest, "bad_request", "the body is not the expected "+
			"JSON object")
		return false
	}
	return true
}

func (s *Server) handleRevoke(w http.ResponseWriter, r *http.Request, p principal) {
	if !noParams(w, r) {
		return
	}
	var req RevokeRequest
	if !decodeBody(w, r, &req) {
		return
	}
	kind, value, err := req.Check(s.cfg.Clock.Now())
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	if s.cfg.Revoker == nil {
		writeError(w, http.StatusServiceUnavailable, "unavailable", "revocation is off")
		return
	}

	rev, err := s.cfg.Revoker.Revoke(kind, value, req.ExpiresAt, p.Client)
	switch {
	case errors.Is(err, persistence.ErrInvalidRecord):
		writeError(w, http.StatusBadRequest, "bad_request", "the revocation was refused")
		return
	case err != nil:
		s.storeError(w, "revoke", err)
		return
	}
	s.cfg.Logger.Info("revocation made", "kind", kind, "by", p.Client)
	writeJSON(w, http.StatusCreated, revocationInfo(rev))
}

// Check validates the request at now and returns the revocation's kind (persistence.RevokeJTI
// or persistence.RevokeClient) and value. Its errors wrap ErrInvalidRequest.
func (req RevokeRequest) Check(now time.Time) (kind, value string, err error) {
	switch {
	case (req.JTI == "") == (req.Client == ""):
		return "", "", badRequest("give either jti or client")
	case req.Client != "" && !req.ExpiresAt.IsZero():
		return "", "", badRequest("expires_at goes with jti only")
	case req.Client != "" && !auth.ValidName(req.Client, auth.MaxSubjectLen):
		return "", "", badRequest("client is not a valid client id")
	case req.Client != "":
		return persistence.RevokeClient, req.Client, nil
	case !auth.ValidName(req.JTI, auth.MaxIDLen):
		return "", "", badRequest("jti is not a valid token id")
	case !req.ExpiresAt.IsZero() && !req.ExpiresAt.After(now):
		return "", "", badRequest("expires_at has passed: the token is expired already")
	}
	return persistence.RevokeJTI, req.JTI, nil
}

func revocationInfo(r persistence.Revocation) RevocationInfo {
	return RevocationInfo{Kind: r.Kind, Value: r.Value, At: r.At.UTC(), Until: r.Until.UTC()}
}

func (s *Server) handleRevocations(w http.ResponseWriter, r *http.Request, _ principal) {
	if !noParams(w, r) {
		return
	}
	revs, err := s.cfg.Security.Revocations()
	if err != nil {
		s.storeError(w, "list revocations", err)
		return
	}
	out := RevocationList{Revocations: make([]RevocationInfo, len(revs))}
	for i, rev := range revs {
		out.Revocations[i] = revocationInfo(rev)
	}
	writeJSON(w, http.StatusOK, out)
}

// Check validates the request and returns its permissions without duplicates. Its errors
// wrap ErrInvalidRequest.
func (req APIKeyRequest) Check() ([]string, error) {
	if !auth.ValidName(req.Client, auth.MaxSubjectLen) {
		return nil, badRequest("client is not a valid client id")
	}
	if len(req.Perms) == 0 || len(req.Perms) > persistence.MaxAPIKeyPerms {
		return nil, badRequest("perms must list read, write or admin, at least one")
	}
	var perms []string
	for _, name := range req.Perms {
		if !auth.Perm(name).Known() {
			return nil, badRequest("perms must list read, write or admin, at least one")
		}
		if !slices.Contains(perms, name) {
			perms = append(perms, name)
		}
	}
	return perms, nil
}

func (s *Server) handleCreateAPIKey(w http.ResponseWriter, r *http.Request, p principal) {
	if !noParams(w, r) {
		return
	}
	var req APIKeyRequest
	if !decodeBody(w, r, &req) {
		return
	}
	perms, err := req.Check()
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	}

	key, id := persistence.NewAPIKey()
	rec := persistence.APIKey{ID: id, Client: req.Client, Perms: perms,
		Created: s.cfg.Clock.Now().UTC()}
	if err := s.cfg.Security.PutAPIKey(rec, key.Hash()); err != nil {
		s.storeError(w, "create api key", err)
		return
	}
	s.audit(persistence.AuditEvent{Type: persistence.AuditAPIKeyCreated, Client: p.Client,
		KeyID: id, Detail: "for client " + req.Client + " with " + strings.Join(perms, ",")})
	s.cfg.Logger.Info("api key created", "key_id", id, "client", req.Client, "by", p.Client)
	w.Header().Set("Location", "/api/v1/admin/apikeys/"+id)
	writeJSON(w, http.StatusCreated, NewAPIKeyResponse{ID: id, Key: key.Reveal(),
		Client: rec.Client, Perms: perms, Created: rec.Created})
}

func (s *Server) handleAPIKeys(w http.ResponseWriter, r *http.Request, _ principal) {
	if !noParams(w, r) {
		return
	}
	keys, err := s.cfg.Security.APIKeys()
	if err != nil {
		s.storeError(w, "list api keys", err)
		return
	}
	out := APIKeyList{APIKeys: make([]APIKeyInfo, len(keys))}
	for i, k := range keys {
		out.APIKeys[i] = APIKeyInfo{ID: k.ID, Client: k.Client, Perms: k.Perms,
			Created: k.Created.UTC(), Revoked: k.Revoked, RevokedAt: k.RevokedAt}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleRevokeAPIKey(w http.ResponseWriter, r *http.Request, p principal) {
	if !noParams(w, r) {
		return
	}
	id := r.PathValue("id")
	if !validAPIKeyID(id) {
		writeError(w, http.StatusNotFound, "not_found", "no API key has this id")
		return
	}
	err := s.cfg.Security.RevokeAPIKey(id)
	switch {
	case errors.Is(err, persistence.ErrNotFound), errors.Is(err, persistence.ErrInvalidRecord):
		writeError(w, http.StatusNotFound, "not_found", "no API key has this id")
		return
	case err != nil:
		s.storeError(w, "revoke api key", err)
		return
	}
	s.audit(persistence.AuditEvent{Type: persistence.AuditAPIKeyRevoked, Client: p.Client,
		KeyID: id})
	s.cfg.Logger.Info("api key revoked", "key_id", id, "by", p.Client)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleAudit(w http.ResponseWriter, r *http.Request, _ principal) {
	since, limit, ok := pageParams(w, r)
	if !ok {
		return
	}
	events, err := s.cfg.Security.RangeAudit(since, limit)
	if err != nil {
		s.storeError(w, "read audit", err)
		return
	}
	page := AuditPage{Events: make([]AuditEntry, len(events)), Next: since}
	for i, e := range events {
		page.Events[i] = AuditEntry{Seq: e.Seq, Time: e.Time.UTC(), Type: e.Type,
			Client: e.Client, Remote: e.Remote, Reason: e.Reason, KeyID: e.KeyID,
			TokenID: e.TokenID, Detail: e.Detail}
		page.Next = e.Seq
	}
	writeJSON(w, http.StatusOK, page)
}

func (s *Server) handleKeys(w http.ResponseWriter, r *http.Request, _ principal) {
	if !noParams(w, r) {
		return
	}
	out := TokenKeyList{Keys: []TokenKeyInfo{}}
	if s.cfg.Keys != nil {
		for _, k := range s.cfg.Keys.List() {
			out.Keys = append(out.Keys, TokenKeyInfo{KID: k.KID, Alg: string(k.Alg),
				State: string(k.State), Created: k.Created, Retired: k.Retired,
				InMemory: k.InMemory})
		}
	}
	writeJSON(w, http.StatusOK, out)
}
