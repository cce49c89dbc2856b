package actors

import (
	"errors"
	"log/slog"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/whalecast/whalecast/internal/alert"
	"github.com/whalecast/whalecast/internal/auth"
)

// Tx carries one mempool transaction from a source to the detector.
type Tx struct {
	// Ordinal numbers the transactions of one source run; the detector acknowledges it.
	Ordinal uint64
	// Raw is the transaction's consensus serialization. It may be nil when Msg is set.
	Raw []byte
	// Msg is the decoded transaction when the source already has it; nil otherwise.
	Msg *wire.MsgTx
	// Fee is the node's fee for the transaction; nil when unknown.
	Fee *Fee
	// SeenAt is when the source received the transaction.
	SeenAt time.Time
	// ReplyTo receives a Processed acknowledgement; nil for none.
	ReplyTo *actor.PID
}

// Processed tells a source that N more of its transactions are done: dropped by the
// detector, or, for a whale, durable in the store. The source keeps sent minus done under
// its window, so a slow disk slows the source instead of filling a queue, and a failed store
// stops ingestion.
type Processed struct {
	N uint64
}

// Candidate asks the store to number, persist and then publish a record: a new alert or an
// alert update.
type Candidate struct {
	Record alert.Record
	// AckTo receives Processed once the record is durable (or refused); nil for none.
	AckTo *actor.PID
	// waiter is the Inject request the record came in, answered once each of its records
	// is stored or lost; nil for a record no caller waits for. slot is the record's index
	// in that request.
	waiter *injectWaiter
	slot   int
}

// Entry is one persisted record (an alert or an update) as the broadcaster receives it: the
// stored record plus the fields a session filter reads.
type Entry struct {
	Stored alert.Stored
	Meta   Meta
}

// Published tells the broadcaster that alerts are durable and may be delivered.
type Published struct {
	Entries []Entry
	// ReplyTo, when set, gets an Offered once the broadcaster has handed the entries to
	// every subscriber (and after a catch-up): the store paces its commits by it.
	ReplyTo *actor.PID
}

// Offered tells the store that the broadcaster has handed every record up to Seq to its
// subscribers.
type Offered struct {
	Seq uint64
}

// Subscribe registers a session with the broadcaster. The broadcaster answers the session
// with SubscribeAck, then hands it every later alert through its outlet. Only sessions send
// it: the outlet is theirs.
type Subscribe struct {
	Session *actor.PID
	outlet  *outlet
}

// Unsubscribe removes a session from the broadcaster. A session that sent Subscribe sends
// it when it stops, after everything else it sent the broadcaster.
type Unsubscribe struct {
	Session *actor.PID
}

// SubscribeAck answers Subscribe. Every alert with a seq above LastSeq will be delivered live;
// alerts up to LastSeq are in the store.
type SubscribeAck struct {
	LastSeq uint64
}

// Flush asks the broadcaster to answer (with Flushed) once it has handled every message sent
// to it before: the alerts it was handed have then gone to the sessions' connections. The
// engine's shutdown flushes between the store's last write and closing the sessions, so
// that live clients get every stored alert before their close. Send it with RequestFuture.
type Flush struct{}

// Flushed answers Flush.
type Flushed struct{}

// deliveryRefused tells a session that its outlet refused a live alert: the client fell
// behind past its queue's bound (or the held alerts' during a resume).
type deliveryRefused struct{}

// ClientFrame is one message read from a client connection.
type ClientFrame struct {
	Data   []byte
	Binary bool
}

// ErrClientStalled is the cause of a PeerGone whose client stopped reading: a write to it
// could not finish within the frame write deadline. The session counts it as a slow
// consumer; its close frame cannot be sent.
var ErrClientStalled = errors.New("actors: the client stopped reading")

// PeerGone tells a session that its connection is closed or broken.
type PeerGone struct {
	Err error
}

// ServerShutdown tells a session the engine is stopping: it closes its connection with 1001.
type ServerShutdown struct{}

// StartSession asks the sessions supervisor to spawn a session for a new connection. The
// supervisor hands it on to the new session, as its first message, and answers with a
// *SessionStarted.
type StartSession struct {
	Peer Peer
	// Claims is set when the transport authenticated the upgrade by its Authorization header;
	// the session then starts authenticated.
	Claims *auth.Claims
	// Since asks for a resume when Claims is set (the since query parameter).
	Since *uint64
}

// CredentialsChanged tells every session that keys or revocations changed: each rechecks
// its token and a session whose token no longer holds is closed with 4003.
type CredentialsChanged struct{}

// OperatorNotice is an operator_alert frame for every admin session (an accuracy episode, for
// instance). The sessions supervisor hands it to each session; only those whose token holds
// the admin permission send it.
type OperatorNotice struct {
	Frame []byte
}

// SessionStarted answers StartSession.
type SessionStarted struct {
	PID *actor.PID
}

// String keeps the peer out of logs.
func (m *StartSession) String() string { return "StartSession{remote=" + m.Peer.Remote() + "}" }

// String keeps client bytes, which may hold a token, out of dead-letter logs.
func (m *ClientFrame) String() string { return "ClientFrame{redacted}" }

// LogValue keeps client bytes out of structured logs: only the size is shown.
func (m *ClientFrame) LogValue() slog.Value {
	return slog.GroupValue(slog.String("type", "client_frame"), slog.Int("bytes", len(m.Data)))
}

// LogValue keeps the peer's internals out of structured logs.
func (m *StartSession) LogValue() slog.Value {
	return slog.GroupValue(slog.String("type", "start_session"),
		slog.String("remote", m.Peer.Remote()))
}
