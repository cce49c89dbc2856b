package transport

import (
	"sync"
	"weak"
)

// minSweep is the size of the live set below which ended connections are not swept.
const minSweep = 64

// liveConns holds the WebSocket connections handed to their readers, so that CutConns can
// reach those still open at shutdown. It holds them weakly: a connection's end is reported
// by IP only, so its entry stays until a sweep, but the set never keeps an ended connection's
// memory alive. Ended entries are swept whenever the set has doubled since the last sweep,
// so it costs about one map entry and one weak handle per open connection, amortized.
type liveConns struct {
	mu      sync.Mutex
	peers   map[weak.Pointer[wsPeer]]struct{}
	sweepAt int
}

// add records a connection that is about to be served.
func (l *liveConns) add(p *wsPeer) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.peers == nil {
		l.peers = make(map[weak.Pointer[wsPeer]]struct{})
	}
	if len(l.peers) >= l.sweepAt {
		for wp := range l.peers {
			if q := wp.Value(); q == nil || q.ended.Load() {
				delete(l.peers, wp)
			}
		}
		l.sweepAt = max(minSweep, 2*len(l.peers))
	}
	l.peers[weak.Make(p)] = struct{}{}
}

// open returns the connections that have not ended.
func (l *liveConns) open() []*wsPeer {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []*wsPeer
	for wp := range l.peers {
		if p := wp.Value(); p != nil && !p.ended.Load() {
			out = append(out, p)
		}
	}
	return out
}

// CutConns closes the socket of every WebSocket connection that has not ended and returns
// how many it cut. It is Shutdown's last resort, once the sessions have closed their
// connections and the clients had CloseGrace to answer: a client that reads nothing holds
// a frame write blocked until its deadline (FrameWrite), which would hold the shutdown
// that long. Its reader then ends the connection as if the client had gone.
func (s *Server) CutConns() int {
	open := s.live.open()
	for _, p := range open {
		p.fail()
	}
	return len(open)
}
