package actors

import "sync"

// outlet is where live alerts enter a session. The broadcaster hands each alert's frame to
// every subscriber's outlet itself, under the outlet's mutex, instead of sending it through
// the session's mailbox: a message per alert per client would wake every session's
// goroutine for each alert, and at thousands of clients that wake, not the socket, was most
// of the fan-out's cost (bench/README.md). The session owns the settings (filter, hold,
// permission) and changes them under the same mutex, so that what the client sees is ordered
// exactly as the session decided.
//
// An outlet starts holding: live alerts wait in held until the session has sent its welcome
// and any replay, then release sends them in order. An outlet never blocks: a peer queue
// that is full, or a held buffer past its bound, refuses the alert, and the broadcaster then
// tells the session (deliveryRefused) to close the connection as a slow consumer.
type outlet struct {
	peer Peer

	mu sync.Mutex
	// receive is false for a session without the read permission.
	receive bool
	filter  Filter
	// holding: live alerts go to held, at most maxHeld of them.
	holding bool
	held    []*delivery
	maxHeld int
	// last is the highest seq the client was sent, live or replayed: a live alert at or
	// below it is a repeat and is skipped.
	last uint64
	// seen is the highest seq offered, whether the filter took it or not.
	seen uint64
	// sentLive is set once a live alert was queued for the client.
	sentLive bool
	// refused is set once an alert was refused; the outlet then takes nothing more.
	refused bool
}

// delivery is one live alert handed to outlets: its seq, the frame shared by every session
// (never modified), and what filters read.
type delivery struct {
	seq   uint64
	frame []byte
	meta  Meta
}

// offerResult is what an outlet did with an alert.
type offerResult uint8

const (
	offerSkipped offerResult = iota
	offerQueued
	offerRefused
)

// offer queues d for the client, holds it, or skips it. It is called by the broadcaster.
// While holding, the filter is applied at release, not here: a filter widened during a
// resume takes the held alerts it now wants.
func (o *outlet) offer(d *delivery) offerResult {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.seen = max(o.seen, d.seq)
	if o.refused || !o.receive || d.seq <= o.last {
		return offerSkipped
	}
	if o.holding {
		if len(o.held) >= o.maxHeld {
			o.refused = true
			return offerRefused
		}
		o.held = append(o.held, d)
		return offerQueued
	}
	if !o.filter.Wants(d.meta) {
		return offerSkipped
	}
	if !o.peer.Send(d.frame) {
		if o.peer.Closed() {
			return offerSkipped
		}
		o.refused = true
		return offerRefused
	}
	o.last, o.sentLive = d.seq, true
	return offerQueued
}

// release sends the held alerts above the client's last seq and stops holding. It returns
// false when the peer refused one: the session must then close as a slow consumer.
func (o *outlet) release() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	held := o.held
	o.held, o.holding = nil, false
	for _, d := range held {
		if !o.receive || d.seq <= o.last || !o.filter.Wants(d.meta) {
			continue
		}
		if !o.peer.Send(d.frame) {
			o.refused = true
			return false
		}
		o.last, o.sentLive = d.seq, true
	}
	return true
}

// sent records that the session itself queued seq for the client (a replayed alert).
func (o *outlet) sent(seq uint64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.last = max(o.last, seq)
}

// setFilter changes which alerts the client gets from the next offer on.
func (o *outlet) setFilter(f Filter, receive bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.filter, o.receive = f, receive
}

// hold makes the outlet hold live alerts again, for a resume asked after the session went
// live, and returns the highest seq offered so far: the replay must reach it, since the
// filter may have skipped alerts up to it. It refuses, and changes nothing, once a live
// alert was sent: a replay after it would break the order.
func (o *outlet) hold() (uint64, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.sentLive {
		return 0, false
	}
	o.holding = true
	return o.seen, true
}

// close makes the outlet take nothing more; the session is ending.
func (o *outlet) close() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.refused, o.held = true, nil
}
