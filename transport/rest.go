package transport

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/whalecast/whalecast/internal/auth"
)

// Limits of GET /api/v1/alerts.
const (
	DefaultAlertsLimit = 100
	MaxAlertsLimit     = 1000
)

// requireRead wraps a handler that needs a Bearer token with the read permission.
func (s *Server) requireRead(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.NoAuth {
			next(w, r)
			return
		}
		raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || raw == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="whalecast"`)
			writeError(w, http.StatusUnauthorized, "unauthorized", "a Bearer token is required")
			return
		}
		claims, err := s.cfg.Verifier.Verify(strings.TrimSpace(raw))
		if err != nil {
			s.cfg.Stats.AuthFailures.Add(1)
			w.Header().Set("WWW-Authenticate", `Bearer realm="whalecast", error="invalid_token"`)
			writeError(w, http.StatusUnauthorized, "unauthorized", "invalid token")
			return
		}
		if !claims.Has(auth.PermRead) {
			writeError(w, http.StatusForbidden, "forbidden", "the read permission is required")
			return
		}
		next(w, r)
	}
}

// alertsPage is the body of GET /api/v1/alerts.
type alertsPage struct {
	Alerts []storedAlert `json:"alerts"`
	// Next is the since value that fetches the following page.
	Next uint64 `json:"next"`
}

type storedAlert struct {
	Seq  uint64          `json:"seq"`
	Data json.RawMessage `json:"data"`
}

func (s *Server) handleAlerts(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	since, err := parseUint(q.Get("since"), 0)
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", "since must be a whole number")
		return
	}
	limit, err := parseUint(q.Get("limit"), DefaultAlertsLimit)
	if err != nil || limit < 1 || limit > MaxAlertsLimit {
		writeError(w, http.StatusBadRequest, "bad_request", "limit must be 1 to 1000")
		return
	}

	stored, err := s.cfg.Alerts.Range(since, int(limit))
	if err != nil {
		s.cfg.Logger.Error("alerts read failed", "err", err, "since", since)
		writeError(w, http.StatusInternalServerError, "internal", "alerts could not be read")
		return
	}
	page := alertsPage{Alerts: make([]storedAlert, len(stored)), Next: since}
	for i, st := range stored {
		page.Alerts[i] = storedAlert{Seq: st.Seq, Data: st.Data}
		page.Next = st.Seq
	}
	writeJSON(w, http.StatusOK, page)
}

func parseUint(s string, def uint64) (uint64, error) {
	if s == "" {
		return def, nil
	}
	return strconv.ParseUint(s, 10, 64)
}

func (s *Server) handleStats(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.cfg.Stats.Snapshot(s.cfg.Clock.Now()))
}

// health is the body of GET /healthz.
type health struct {
	Status  string `json:"status"`
	Version string `json:"version"`
	LastSeq uint64 `json:"last_seq"`
	Error   string `json:"error,omitempty"`
}

// handleHealth answers 200 while alerts can be taken and persisted, 503 otherwise. It says
// why, but never more than the cause's text.
func (s *Server) handleHealth(w http.ResponseWriter, _ *http.Request) {
	h := health{Status: "ok", Version: s.cfg.Version, LastSeq: s.cfg.LastSeq()}
	if err := s.cfg.Health(); err != nil {
		h.Status, h.Error = "unhealthy", err.Error()
		writeJSON(w, http.StatusServiceUnavailable, h)
		return
	}
	writeJSON(w, http.StatusOK, h)
}
