package actors

import (
	"log/slog"

	"github.com/asynkron/protoactor-go/actor"
)

// sessions supervises one session actor per connection. A failing session is stopped, and
// only it: its connection closes with 1011 and every other session goes on.
type sessions struct {
	deps *SessionDeps
	// session is the props of every session.
	session *actor.Props
}

// NewSessionsProps returns the props of the sessions supervisor.
func NewSessionsProps(deps *SessionDeps) *actor.Props {
	return actor.PropsFromProducer(func() actor.Actor {
		return &sessions{deps: deps, session: newSessionProps(deps)}
	}, actor.WithSupervisor(NewStopStrategy(deps.Stats, deps.Logger)))
}

// Receive implements actor.Actor.
func (s *sessions) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *StartSession:
		pid := ctx.Spawn(s.session)
		ctx.Send(pid, msg)
		ctx.Respond(&SessionStarted{PID: pid})
	case *CountSessions:
		ctx.Respond(len(ctx.Children()))
	case *CredentialsChanged:
		for _, c := range ctx.Children() {
			ctx.Send(c, msg)
		}
	case *OperatorNotice:
		for _, c := range ctx.Children() {
			ctx.Send(c, msg)
		}
	case *ServerShutdown:
		children := ctx.Children()
		s.deps.Logger.Info("closing sessions", slog.Int("sessions", len(children)))
		for _, c := range children {
			ctx.Send(c, msg)
		}
	}
}

// CountSessions asks the sessions supervisor how many sessions are alive; it answers an int.
type CountSessions struct{}
