package transport

import (
	"bufio"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/gorilla/websocket"

	"github.com/whalecast/whalecast/actors"
	"github.com/whalecast/whalecast/internal/auth"
)

// admit asks the guard about a new connection from ip and answers its refusals: 429 with
// Retry-After for a banned IP or one over its attempts per second, 503 at a connection cap.
// On true the caller must release ip when the connection ends.
func (s *Server) admit(w http.ResponseWriter, ip netip.Addr) bool {
	if s.cfg.Guard == nil {
		return true
	}
	v := s.cfg.Guard.Admit(ip)
	switch v {
	case Admit:
		return true
	case Banned:
		setRetryAfter(w, s.cfg.Guard.BannedFor(ip))
		writeError(w, http.StatusTooManyRequests, "banned",
			"this address is banned after repeated authentication failures")
	case TooFast:
		setRetryAfter(w, time.Second)
		writeError(w, http.StatusTooManyRequests, "rate_limited",
			"too many connection attempts from this address")
	default:
		writeError(w, http.StatusServiceUnavailable, "too_many_connections",
			"the engine or this address is at its connection limit")
	}
	s.cfg.Logger.Debug("connection refused", "remote", ip.String(), "verdict", v.String())
	return false
}

// checkUpgrade checks an upgrade request before it is upgraded, and answers when it refuses
// it. A request may carry `Authorization: Bearer <JWT>`: the token is verified here, and the
// session then starts authenticated (with since from the query, if given). Without the
// header the client authenticates with its first message, as before.
func (s *Server) checkUpgrade(w http.ResponseWriter, r *http.Request, ip netip.Addr) (
	*actors.StartSession, bool) {
	if urlCredential(r.URL.RawQuery) {
		s.refuseURLCredential(w, r, ip)
		return nil, false
	}
	q, err := parseQuery(r.URL.RawQuery, "since")
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", err.Error())
		return nil, false
	}
	if !websocket.IsWebSocketUpgrade(r) {
		writeError(w, http.StatusBadRequest, "bad_request", "not a WebSocket upgrade")
		return nil, false
	}
	if !s.checkOrigin(r) {
		s.cfg.Logger.Debug("websocket origin refused", "remote", ip.String())
		writeError(w, http.StatusForbidden, "forbidden", "this Origin may not connect")
		return nil, false
	}

	start := &actors.StartSession{}
	if v, ok := q["since"]; ok {
		since, ok := parseUintParam(v, 0)
		if !ok {
			writeError(w, http.StatusBadRequest, "bad_request", "since must be a whole number")
			return nil, false
		}
		start.Since = &since
	}
	cred, err := requestCredential(r.Header)
	switch {
	case err != nil:
		s.unauthorized(w, r, ip, reasonMalformed, "", "")
		return nil, false
	case cred.kind == credAPIKey:
		writeError(w, http.StatusBadRequest, "bad_request",
			"API keys are for the REST API: authenticate the WebSocket with a token")
		return nil, false
	case cred.kind == credNone && start.Since != nil:
		writeError(w, http.StatusBadRequest, "bad_request",
			"since in the URL goes with the Authorization header; else send it in the "+
				"auth message")
		return nil, false
	case cred.kind == credNone:
		return start, true
	}

	claims, err := s.cfg.Verifier.Verify(cred.value)
	if err != nil {
		s.unauthorized(w, r, ip, auth.ReasonOf(err), "", "")
		return nil, false
	}
	start.Claims = &claims
	return start, true
}

// upgrade upgrades r to a WebSocket that reads through a buffer of the transport's own,
// returned with the connection, instead of net/http's 4 KiB one: the reader needs to know
// when that buffer is empty, to wait for the client with a short stack and without the
// buffer (see wspeer_read.go). net/http's buffers are freed when the handler returns.
func (s *Server) upgrade(w http.ResponseWriter, r *http.Request) (*websocket.Conn,
	*bufio.Reader, error) {
	hw := &ownReadBuffer{ResponseWriter: w, br: new(bufio.Reader)}
	takeReadBuffer(hw.br)
	conn, err := s.upgrader.Upgrade(hw, r, nil)
	if err != nil {
		returnReadBuffer(hw.br)
		return nil, nil, err
	}
	return conn, hw.br, nil
}

// ownReadBuffer is the ResponseWriter that upgrade hands gorilla: its Hijack returns br in
// place of net/http's read buffer, and the connection wrapped to batch writes (batchConn).
// The Upgrader's ReadBufferSize is 0, so gorilla reads through the buffer Hijack returned.
type ownReadBuffer struct {
	http.ResponseWriter
	br *bufio.Reader
}

// Hijack implements http.Hijacker. Bytes already in net/http's buffer (a client that did not
// wait for the handshake) are left there, and gorilla refuses the connection for them.
func (w *ownReadBuffer) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil || brw.Reader.Buffered() > 0 {
		return conn, brw, err
	}
	w.br.Reset(conn)
	return &batchConn{Conn: conn}, bufio.NewReadWriter(w.br, brw.Writer), nil
}

// Unwrap lets http.ResponseController reach the ResponseWriter underneath.
func (w *ownReadBuffer) Unwrap() http.ResponseWriter { return w.ResponseWriter }
