package main

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/whalecast/whalecast/internal/alert"
)

// Limits of the publish route, the engine's own (see transport.PublishRequest).
const (
	maxPublishCount = 100
	maxPublishBTC   = 21_000_000
	maxPublishBody  = 16 << 10
)

// server serves the floor's routes: GET /ws, POST /api/v1/admin/publish and GET /healthz.
// Nothing is authenticated: a credential sent is ignored.
type server struct {
	hub      *hub
	upgrader websocket.Upgrader
	// handlers counts the WebSocket handlers still running, for close.
	handlers sync.WaitGroup
}

func newServer(queue int) *server {
	return &server{
		hub: newHub(queue),
		upgrader: websocket.Upgrader{
			HandshakeTimeout: 5 * time.Second,
			ReadBufferSize:   1024,
			WriteBufferSize:  1024,
			WriteBufferPool:  &sync.Pool{},
		},
	}
}

func (s *server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ws", s.handleWS)
	mux.HandleFunc("POST /api/v1/admin/publish", s.handlePublish)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	return mux
}

// handleWS upgrades, joins the hub and reads (throwing client messages away) until the
// connection ends; a writer goroutine sends the queued frames.
func (s *server) handleWS(w http.ResponseWriter, r *http.Request) {
	s.handlers.Add(1)
	defer s.handlers.Done()
	ws, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	ws.SetReadLimit(maxClientMessage)
	c := s.hub.join(ws)
	if c == nil {
		_ = ws.Close()
		return
	}
	written := make(chan struct{})
	go func() {
		defer close(written)
		c.write()
	}()
	for {
		if _, _, err := ws.NextReader(); err != nil {
			break
		}
	}
	s.hub.leave(c, websocket.CloseNormalClosure)
	<-written
}

// close drops every client and waits up to timeout for their handlers.
func (s *server) close(timeout time.Duration) bool {
	s.hub.shutdown()
	done := make(chan struct{})
	go func() {
		s.handlers.Wait()
		close(done)
	}()
	select {
	case <-done:
		return true
	case <-time.After(timeout):
		return false
	}
}

// publishRequest is the body of POST /api/v1/admin/publish, as the engine reads it.
type publishRequest struct {
	Count    int     `json:"count"`
	ValueBTC float64 `json:"value_btc,omitempty"`
	Detector string  `json:"detector,omitempty"`
}

// publishResponse answers it with 201.
type publishResponse struct {
	Published int      `json:"published"`
	Seqs      []uint64 `json:"seqs"`
}

var errBody = errors.New("the body is not the expected JSON object")

// handlePublish broadcasts count marked alerts, first seen now, and answers their seqs.
func (s *server) handlePublish(w http.ResponseWriter, r *http.Request) {
	req, err := readPublish(r)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "bad_request",
			"message": err.Error()})
		return
	}
	now := time.Now().UTC()
	alerts := make([]alert.Alert, req.Count)
	sat := alert.SatFromBTC(req.ValueBTC)
	for i := range alerts {
		var id [32]byte
		_, _ = rand.Read(id[:])
		alerts[i] = alert.Alert{TxID: hex.EncodeToString(id[:]), ValueSat: sat,
			LargestOutputSat: sat, Outputs: 1, FirstSeen: now, Detector: req.Detector,
			Test: true}
	}
	seqs, err := s.hub.broadcast(alerts)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "internal",
			"message": err.Error()})
		return
	}
	writeJSON(w, http.StatusCreated, publishResponse{Published: len(seqs), Seqs: seqs})
}

// readPublish decodes and checks a publish body as strictly as the engine does.
func readPublish(r *http.Request) (publishRequest, error) {
	dec := json.NewDecoder(io.LimitReader(r.Body, maxPublishBody))
	dec.DisallowUnknownFields()
	var req publishRequest
	if err := dec.Decode(&req); err != nil {
		return req, errBody
	}
	if dec.Decode(&struct{}{}) != io.EOF {
		return req, errBody
	}
	switch {
	case req.Count < 1 || req.Count > maxPublishCount:
		return req, errors.New("count must be 1 to 100")
	case math.IsNaN(req.ValueBTC) || req.ValueBTC < 0 || req.ValueBTC > maxPublishBTC:
		return req, errors.New("value_btc must be 0 to 21000000")
	case req.Detector == "":
		req.Detector = "test"
	case req.Detector != "test" && req.Detector != "bench":
		return req, errors.New(`detector must be "test" or "bench"`)
	}
	return req, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
