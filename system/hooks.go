package system

import (
	"fmt"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/whalecast/whalecast/actors"
	"github.com/whalecast/whalecast/internal/auth"
	"github.com/whalecast/whalecast/persistence"
)

// testHooks let this package's tests watch a running engine and break it on purpose, to test
// supervision and delivery under faults. Only export_test.go sets them: the binary runs with
// the zero value, which adds nothing to the tree.
type testHooks struct {
	// Alerts wraps the store as the sessions read it for resumes.
	Alerts func(actors.AlertReader) actors.AlertReader
	// DetectorPanic makes the detector panic while it checks a transaction whose txid it
	// returns true for, as a bug in a rule would.
	DetectorPanic func(txid string) bool
	// BroadcasterPanic makes the broadcaster panic on a message it returns true for, before
	// handling it.
	BroadcasterPanic func(msg any) bool
	// SessionPanic makes a session panic on a message of an authenticated client whose id
	// it returns true for (while the session rechecks the client's token).
	SessionPanic func(client string) bool
	// MemTableSize sets the store's persistence.BadgerOptions.MemTableSize, so that a
	// broken data directory surfaces after a little data. It counts only in hooks given
	// to the engine before its store opens (OpenHooked), not through SetHooks.
	MemTableSize int64
}

// rules returns rules, behind a rule that panics where DetectorPanic says.
func (h testHooks) rules(rules []actors.Rule) []actors.Rule {
	if h.DetectorPanic == nil {
		return rules
	}
	return append([]actors.Rule{faultRule{panicOn: h.DetectorPanic}}, rules...)
}

// broadcaster returns the broadcaster's props, made to panic where BroadcasterPanic says.
func (h testHooks) broadcaster(props *actor.Props) *actor.Props {
	if h.BroadcasterPanic == nil {
		return props
	}
	return props.Configure(actor.WithReceiverMiddleware(
		func(next actor.ReceiverFunc) actor.ReceiverFunc {
			return func(ctx actor.ReceiverContext, env *actor.MessageEnvelope) {
				if h.BroadcasterPanic(env.Message) {
					panic(fmt.Sprintf("injected fault: broadcaster on %T", env.Message))
				}
				next(ctx, env)
			}
		}))
}

// recheck returns the sessions' token recheck, made to panic where SessionPanic says.
func (h testHooks) recheck(recheck func(auth.Claims) error) func(auth.Claims) error {
	if h.SessionPanic == nil {
		return recheck
	}
	return func(c auth.Claims) error {
		if h.SessionPanic(c.Subject) {
			panic("injected fault: session of " + c.Subject)
		}
		return recheck(c)
	}
}

// storeOptions returns the options the store opens with, changed as the hooks say.
func (h testHooks) storeOptions(opts persistence.BadgerOptions) persistence.BadgerOptions {
	if h.MemTableSize != 0 {
		opts.MemTableSize = h.MemTableSize
	}
	return opts
}

// alerts returns the store as the sessions read it.
func (h testHooks) alerts(store actors.AlertReader) actors.AlertReader {
	if h.Alerts == nil {
		return store
	}
	return h.Alerts(store)
}

// faultRule panics on the transactions panicOn names and matches nothing.
type faultRule struct {
	panicOn func(txid string) bool
}

// Name implements actors.Rule.
func (faultRule) Name() string { return "fault" }

// Match implements actors.Rule.
func (r faultRule) Match(tx actors.Transaction) bool {
	if r.panicOn(tx.Summary.TxID) {
		panic("injected fault: detector on " + tx.Summary.TxID)
	}
	return false
}
