package transport

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"time"

	"github.com/whalecast/whalecast/actors"
	"github.com/whalecast/whalecast/internal/alert"
	"github.com/whalecast/whalecast/persistence"
)

// Limits of POST /api/v1/admin/publish.
const (
	// MaxPublishCount is the most alerts one publish call makes.
	MaxPublishCount = 100
	// MaxPublishBTC is the largest value_btc of a published alert: every bitcoin there
	// will ever be.
	MaxPublishBTC = 21_000_000
	// publishTimeout bounds the wait for the store to number and persist the alerts.
	publishTimeout = 10 * time.Second
)

// The detectors a published alert may name.
const (
	// PublishDetectorTest marks an operator's drill; it is the default.
	PublishDetectorTest = "test"
	// PublishDetectorBench marks the load tool's alerts (engine bench).
	PublishDetectorBench = "bench"
)

// Publisher numbers, persists and broadcasts alerts for POST /api/v1/admin/publish, the
// way the store does with every detected alert; see system.
type Publisher interface {
	// Publish returns, for each alert in order, the seq it was stored under, or 0 when it
	// could not be stored. An error means the outcome is unknown: the store did not answer
	// within ctx, and the alerts may still be published later.
	Publish(ctx context.Context, alerts []alert.Alert) ([]uint64, error)
}

// PublishRequest is the body of POST /api/v1/admin/publish: Count synthetic alerts of
// ValueBTC each, raised by Detector.
type PublishRequest struct {
	// Count is how many alerts to publish, 1 to MaxPublishCount.
	Count int `json:"count"`
	// ValueBTC is each alert's value, 0 to MaxPublishBTC; 0 when omitted.
	ValueBTC float64 `json:"value_btc,omitempty"`
	// Detector is PublishDetectorTest (when omitted) or PublishDetectorBench.
	Detector string `json:"detector,omitempty"`
}

// PublishResponse answers POST /api/v1/admin/publish with 201.
type PublishResponse struct {
	// Published is how many alerts were stored and handed to the broadcaster.
	Published int `json:"published"`
	// Seqs are their seqs, in the order of the request.
	Seqs []uint64 `json:"seqs"`
	// Lost counts the alerts the store could not take (it failed, or is full).
	Lost int `json:"lost,omitempty"`
}

// Check validates the request and returns it with its defaults filled in. Its errors wrap
// ErrInvalidRequest.
func (req PublishRequest) Check() (PublishRequest, error) {
	switch {
	case req.Count < 1 || req.Count > MaxPublishCount:
		return req, badRequest(fmt.Sprintf("count must be 1 to %d", MaxPublishCount))
	case math.IsNaN(req.ValueBTC) || req.ValueBTC < 0 || req.ValueBTC > MaxPublishBTC:
		return req, badRequest("value_btc must be 0 to 21000000")
	case req.Detector == "":
		req.Detector = PublishDetectorTest
	case req.Detector != PublishDetectorTest && req.Detector != PublishDetectorBench:
		return req, badRequest(`detector must be "test" or "bench"`)
	}
	return req, nil
}

// Alerts returns the request's alerts, first seen at now: marked as tests, each with a
// random txid that no real transaction has. Call it on a checked request.
func (req PublishRequest) Alerts(now time.Time) []alert.Alert {
	sat := alert.SatFromBTC(req.ValueBTC)
	out := make([]alert.Alert, req.Count)
	for i := range out {
		a := actors.NewTestAlert(now)
		a.Detector, a.ValueSat, a.LargestOutputSat = req.Detector, sat, sat
		out[i] = a
	}
	return out
}

// handlePublish injects synthetic alerts through the store and answers their seqs once
// they are durable and handed to the broadcaster.
func (s *Server) handlePublish(w http.ResponseWriter, r *http.Request, p principal) {
	if !noParams(w, r) {
		return
	}
	var req PublishRequest
	if !decodeBody(w, r, &req) {
		return
	}
	req, err := req.Check()
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	if s.cfg.Publisher == nil {
		writeError(w, http.StatusServiceUnavailable, "unavailable", "publishing is off")
		return
	}

	ctx, cancel := context.WithTimeout(r.Context(), publishTimeout)
	defer cancel()
	seqs, err := s.cfg.Publisher.Publish(ctx, req.Alerts(s.cfg.Clock.Now()))
	if err != nil {
		s.storeLog.log(s.cfg.Logger, slog.LevelError, "publish failed", "err", err)
		writeError(w, http.StatusServiceUnavailable, "unavailable",
			"the store did not answer in time: the alerts may still be published")
		return
	}
	resp := publishResponse(seqs)
	if resp.Published == 0 {
		writeError(w, http.StatusServiceUnavailable, "unavailable",
			"the store could not take the alerts: it has failed closed (see health in "+
				"/api/v1/stats) and stores nothing until the engine is restarted on a "+
				"working data directory")
		return
	}

	s.audit(persistence.AuditEvent{Type: persistence.AuditTestPublished, Client: p.Client,
		Detail: fmt.Sprintf("%d %s alerts of %v BTC, seqs %d to %d", resp.Published,
			req.Detector, req.ValueBTC, resp.Seqs[0], resp.Seqs[len(resp.Seqs)-1])})
	s.cfg.Logger.Info("test alerts published", "detector", req.Detector, "count",
		resp.Published, "lost", resp.Lost, "first_seq", resp.Seqs[0], "by", p.Client)
	writeJSON(w, http.StatusCreated, resp)
}

// publishResponse lists the seqs that were assigned and counts the others.
func publishResponse(seqs []uint64) PublishResponse {
	resp := PublishResponse{Seqs: make([]uint64, 0, len(seqs))}
	for _, seq := range seqs {
		if seq == 0 {
			resp.Lost++
			continue
		}
		resp.Seqs = append(resp.Seqs, seq)
	}
	resp.Published = len(resp.Seqs)
	return resp
}
