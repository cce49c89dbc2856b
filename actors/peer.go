package actors

// Peer is a session's view of its client connection. The transport implements it over a
// WebSocket; tests implement it in memory. Every method is safe for concurrent use and none
// blocks on the network.
type Peer interface {
	// Send queues one text frame. It returns false, and queues nothing, when the connection's
	// bounded outbound queue is full or the connection is closing.
	Send(frame []byte) bool
	// Close queues a close frame with code and reason after the frames already queued (or at
	// once when the queue is stuck), then closes the connection. Later calls do nothing.
	Close(code int, reason string)
	// CloseWith is Close with a last frame written right before the close frame, even when
	// the queue is full (a stuck queue is dropped first): how a slow consumer is told why.
	CloseWith(final []byte, code int, reason string)
	// Released tells the peer the session has handled one ClientFrame, so that the reader may
	// forward another: inbound frames in flight per connection are bounded this way.
	Released()
	// Queued reports the frames waiting in the outbound queue.
	Queued() int
	// Remote is the client's address, for logs.
	Remote() string
	// Closed reports whether the connection is closing or broken, so that a refused Send
	// is not mistaken for a slow consumer.
	Closed() bool
}
