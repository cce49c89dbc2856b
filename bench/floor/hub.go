package main

import (
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/whalecast/whalecast/internal/alert"
)

// Limits of the floor's connections.
const (
	// DefaultQueue is a connection's queue of frames not yet written.
	DefaultQueue = 1024
	// writeTimeout bounds one frame's write; a client that stalls longer is dropped.
	writeTimeout = 10 * time.Second
	// maxClientMessage is the largest message read from a client (and thrown away).
	maxClientMessage = 4 << 10
)

// Close codes the floor sends, as the engine does.
const (
	closeGoingAway    = websocket.CloseGoingAway
	closeSlowConsumer = 4009
)

// hub is the floor's broadcaster: the connected clients and the last seq, behind one
// mutex. A broadcast encodes each alert once, as a PreparedMessage, and offers it to every
// client's queue without waiting; a client whose queue is full is dropped (4009).
type hub struct {
	queue int

	mu      sync.Mutex
	clients map[*conn]struct{}
	seq     uint64
	closed  bool
}

// conn is one client: a queue of frames that its writer goroutine drains.
type conn struct {
	ws  *websocket.Conn
	out chan *websocket.PreparedMessage
	// code is the close code the writer sends once out is closed; set with the hub's mutex
	// held, before out is closed.
	code int
}

func newHub(queue int) *hub {
	return &hub{queue: queue, clients: map[*conn]struct{}{}}
}

// join registers ws and queues its welcome, whose seq is the last one broadcast: every
// later alert reaches the client. It returns nil when the hub is shutting down.
func (h *hub) join(ws *websocket.Conn) *conn {
	c := &conn{ws: ws, out: make(chan *websocket.PreparedMessage, h.queue)}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil
	}
	welcome, err := websocket.NewPreparedMessage(websocket.TextMessage, welcomeFrame(h.seq))
	if err != nil {
		return nil
	}
	c.out <- welcome
	h.clients[c] = struct{}{}
	return c
}

// leave removes c, if the hub still holds it, and ends its writer.
func (h *hub) leave(c *conn, code int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.drop(c, code)
}

// drop removes c and closes its queue; called with mu held.
func (h *hub) drop(c *conn, code int) {
	if _, ok := h.clients[c]; !ok {
		return
	}
	delete(h.clients, c)
	c.code = code
	close(c.out)
}

// broadcast numbers the alerts, encodes each once and offers it to every client. It
// returns their seqs.
func (h *hub) broadcast(alerts []alert.Alert) ([]uint64, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	seqs := make([]uint64, 0, len(alerts))
	for _, a := range alerts {
		data, err := alert.EncodeData(a)
		if err != nil {
			return seqs, err
		}
		frame := alert.Frame(alert.Stored{Seq: h.seq + 1, Kind: alert.KindAlert, Data: data})
		pm, err := websocket.NewPreparedMessage(websocket.TextMessage, frame)
		if err != nil {
			return seqs, err
		}
		h.seq++
		seqs = append(seqs, h.seq)
		for c := range h.clients {
			select {
			case c.out <- pm:
			default:
				h.drop(c, closeSlowConsumer)
			}
		}
	}
	return seqs, nil
}

// shutdown drops every client with 1001 and refuses new ones.
func (h *hub) shutdown() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for c := range h.clients {
		h.drop(c, closeGoingAway)
	}
}

// count returns the clients connected.
func (h *hub) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.clients)
}

// write drains c's queue to its socket, then sends the close frame and closes the socket.
func (c *conn) write() {
	defer c.ws.Close()
	for pm := range c.out {
		_ = c.ws.SetWriteDeadline(time.Now().Add(writeTimeout))
		if err := c.ws.WritePreparedMessage(pm); err != nil {
			// Closing the socket ends the reader, which leaves the hub and closes out.
			_ = c.ws.Close()
			for range c.out {
			}
			return
		}
	}
	msg := websocket.FormatCloseMessage(c.code, closeReason(c.code))
	_ = c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
}

func closeReason(code int) string {
	switch code {
	case closeSlowConsumer:
		return "slow consumer"
	case closeGoingAway:
		return "server shutting down"
	}
	return ""
}

func welcomeFrame(seq uint64) []byte {
	return []byte(`{"type":"welcome","version":"floor","seq":` + strconv.FormatUint(seq, 10) + `}`)
}
