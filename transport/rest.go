package transport

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/whalecast/whalecast/actors"
	"github.com/whalecast/whalecast/persistence"
)

// Limits of the paged routes (GET /api/v1/alerts and GET /api/v1/admin/audit).
const (
	DefaultAlertsLimit = 100
	MaxAlertsLimit     = 1000
)

// alertsPage is the body of GET /api/v1/alerts.
type alertsPage struct {
	Alerts []storedAlert `json:"alerts"`
	// Next is the since value that fetches the following page.
	Next uint64 `json:"next"`
}

// storedAlert is one record of the alerts route: a whale_alert or an alert_update, as the
// WebSocket would carry it.
type storedAlert struct {
	Seq  uint64          `json:"seq"`
	Type string          `json:"type"`
	Data json.RawMessage `json:"data"`
}

// pageParams reads since and limit, the only parameters of a paged route. It answers 400
// and returns false for anything else: unknown or repeated parameters, values that are not
// unsigned decimal numbers, a limit outside 1 to MaxAlertsLimit.
func pageParams(w http.ResponseWriter, r *http.Request) (since uint64, limit int, ok bool) {
	q, err := parseQuery(r.URL.RawQuery, "since", "limit")
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", err.Error())
		return 0, 0, false
	}
	since, ok = parseUintParam(q["since"], 0)
	if !ok {
		writeError(w, http.StatusBadRequest, "bad_request", "since must be a whole number")
		return 0, 0, false
	}
	n, ok := parseUintParam(q["limit"], DefaultAlertsLimit)
	if !ok || n < 1 || n > MaxAlertsLimit {
		writeError(w, http.StatusBadRequest, "bad_request", "limit must be 1 to 1000")
		return 0, 0, false
	}
	return since, int(n), true
}

// noParams answers 400 and returns false when a route that takes no parameter got one.
func noParams(w http.ResponseWriter, r *http.Request) bool {
	if _, err := parseQuery(r.URL.RawQuery); err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", err.Error())
		return false
	}
	return true
}

func (s *Server) handleAlerts(w http.ResponseWriter, r *http.Request, _ principal) {
	since, limit, ok := pageParams(w, r)
	if !ok {
		return
	}
	stored, err := s.cfg.Alerts.Range(since, limit)
	if err != nil {
		s.storeError(w, "read alerts", err)
		return
	}
	page := alertsPage{Alerts: make([]storedAlert, len(stored)), Next: since}
	for i, st := range stored {
		page.Alerts[i] = storedAlert{Seq: st.Seq, Type: st.Kind.String(), Data: st.Data}
		page.Next = st.Seq
	}
	writeJSON(w, http.StatusOK, page)
}

// statsBody is the body of GET /api/v1/stats: the counters, and what /healthz keeps to
// itself.
type statsBody struct {
	actors.Snapshot
	Version string       `json:"version"`
	LastSeq uint64       `json:"last_seq"`
	Health  healthDetail `json:"health"`
	// Source holds the live feed's counters (ZMQ), when the source has any.
	Source any `json:"source,omitempty"`
}

// healthDetail is the engine's health with its cause, for authenticated readers.
type healthDetail struct {
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
}

func (s *Server) handleStats(w http.ResponseWriter, r *http.Request, _ principal) {
	if !noParams(w, r) {
		return
	}
	body := statsBody{
		Snapshot: s.cfg.Stats.Snapshot(s.cfg.Clock.Now()),
		Version:  s.cfg.Version,
		LastSeq:  s.cfg.LastSeq(),
		Health:   healthDetail{Status: "ok"},
	}
	body.Queues.OutboundFrames, body.Queues.OutboundBytes = s.outboundQueued()
	if s.cfg.SourceStats != nil {
		body.Source = s.cfg.SourceStats()
	}
	if err := s.cfg.Health(); err != nil {
		body.Health = healthDetail{Status: "unhealthy", Error: err.Error()}
	}
	writeJSON(w, http.StatusOK, body)
}

// handleNoRoute answers an authenticated call to a path under /api/ that names no route.
func (s *Server) handleNoRoute(w http.ResponseWriter, _ *http.Request, _ principal) {
	writeError(w, http.StatusNotFound, "not_found", "no such route")
}

// storeError answers a failed store call: 503 when the store failed closed (it stays so
// until the engine restarts), 500 otherwise. The cause is logged (at most one line a
// second: an API key lookup fails this way before its caller is known), never sent.
func (s *Server) storeError(w http.ResponseWriter, op string, err error) {
	s.storeLog.log(s.cfg.Logger, slog.LevelError, "store call failed", "op", op, "err", err)
	if errors.Is(err, persistence.ErrFailed) || errors.Is(err, persistence.ErrClosed) {
		writeError(w, http.StatusServiceUnavailable, "unavailable",
			"the store is not available")
		return
	}
	writeError(w, http.StatusInternalServerError, "internal", "the store could not be read")
}

// healthStatus is the body of GET /healthz. Anyone may call it, so it says nothing more:
// the seq would let a stranger time alerts, and the cause may name files.
type healthStatus struct {
	Status string `json:"status"`
}

// handleHealth answers 200 {"status":"ok"} while alerts can be taken and persisted, 503
// {"status":"unhealthy"} otherwise. The cause is logged at error, at most once a minute;
// /api/v1/stats shows it to readers.
func (s *Server) handleHealth(w http.ResponseWriter, _ *http.Request) {
	if err := s.cfg.Health(); err != nil {
		s.healthLog.log(s.cfg.Logger, slog.LevelError, "health check failed", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, healthStatus{Status: "unhealthy"})
		return
	}
	writeJSON(w, http.StatusOK, healthStatus{Status: "ok"})
}
