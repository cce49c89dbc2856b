package actors

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// Restart limits of the engine's supervisors: a child that fails more often than this is
// stopped, and the engine reports itself unhealthy.
const (
	MaxRestarts   = 10
	RestartWindow = 10 * time.Second
)

// countingStrategy is a one-for-one strategy that counts and logs every failure before it
// applies the directive. The panic value is logged, never the message that caused it: a
// client message may hold a token.
type countingStrategy struct {
	inner     actor.SupervisorStrategy
	directive actor.Directive
	stats     *Stats
	log       *slog.Logger
}

// NewRestartStrategy restarts a failing child, up to MaxRestarts in RestartWindow.
func NewRestartStrategy(stats *Stats, log *slog.Logger) actor.SupervisorStrategy {
	return newCountingStrategy(actor.RestartDirective, stats, log)
}

// NewStopStrategy stops a failing child: used for sessions, whose state (an authenticated
// connection) cannot be rebuilt by a restart.
func NewStopStrategy(stats *Stats, log *slog.Logger) actor.SupervisorStrategy {
	return newCountingStrategy(actor.StopDirective, stats, log)
}

func newCountingStrategy(d actor.Directive, stats *Stats,
	log *slog.Logger) actor.SupervisorStrategy {
	decide := func(any) actor.Directive { return d }
	return &countingStrategy{
		inner:     actor.NewOneForOneStrategy(MaxRestarts, RestartWindow, decide),
		directive: d,
		stats:     stats,
		log:       log,
	}
}

// HandleFailure implements actor.SupervisorStrategy.
func (s *countingStrategy) HandleFailure(system *actor.ActorSystem, sup actor.Supervisor,
	child *actor.PID, rs *actor.RestartStatistics, reason any, _ any) {
	directive := s.directive
	if directive == actor.RestartDirective && rs.NumberOfFailures(RestartWindow)+1 > MaxRestarts {
		directive = actor.StopDirective
	}
	s.stats.ActorFailures.Add(1)
	if directive == actor.RestartDirective {
		s.stats.ActorRestarted(child.Id)
	}
	s.log.Error("actor failed", "actor", child.Id, "directive", directive.String(),
		"reason", fmt.Sprint(reason), "failures", rs.FailureCount()+1)
	s.inner.HandleFailure(system, sup, child, rs, reason, nil)
}
