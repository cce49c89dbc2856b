package system

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/whalecast/whalecast/actors"
	"github.com/whalecast/whalecast/internal/auth"
	"github.com/whalecast/whalecast/internal/clock"
	"github.com/whalecast/whalecast/persistence"
)

// treeConfig is what the supervision tree is built from.
type treeConfig struct {
	cfg     Config
	store   *persistence.Badger
	feed    actors.Feed
	stats   *actors.Stats
	failure *actors.Failure
	clock   clock.Clock
	log     *slog.Logger
	session actors.SessionConfig
	rules   []actors.Rule
	access  *access
	issuer  actors.TokenIssuer
	recheck func(auth.Claims) error
	notify  actors.Notifier
	hooks   testHooks
}

// tree holds the PIDs of the root supervisor's children.
type tree struct {
	root        *actor.PID
	audit       *actor.PID
	broadcaster *actor.PID
	store       *actor.PID
	tracker     *actor.PID
	detector    *actor.PID
	source      *actor.PID
	sessions    *actor.PID
	monitor     *actor.PID
	testAlerts  *actor.PID
	webhooks    *actor.PID
}

// rootActor is the supervisor of the engine's actors. It restarts a failing child one for one
// (up to actors.MaxRestarts in actors.RestartWindow); a child that keeps failing is stopped,
// and the engine turns unhealthy instead of crashing.
type rootActor struct {
	tc       treeConfig
	t        *tree
	stopping bool
}

type getTree struct{}

type stopping struct{}

func spawnTree(system *actor.ActorSystem, tc treeConfig) (*tree, error) {
	if tc.rules == nil {
		rules, err := tc.cfg.Rules()
		if err != nil {
			return nil, err
		}
		tc.rules = rules
	}
	tc.rules = tc.hooks.rules(tc.rules)
	props := actor.PropsFromProducer(func() actor.Actor { return &rootActor{tc: tc} },
		actor.WithSupervisor(actors.NewRestartStrategy(tc.stats, tc.log)))
	pid, err := system.Root.SpawnNamed(props, "whalecast")
	if err != nil {
		return nil, fmt.Errorf("system: spawn root: %w", err)
	}
	res, err := system.Root.RequestFuture(pid, &getTree{}, 5*time.Second).Result()
	if err != nil {
		return nil, fmt.Errorf("system: start tree: %w", err)
	}
	return res.(*tree), nil
}

// Receive implements actor.Actor.
func (r *rootActor) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		r.spawn(ctx)
	case *getTree:
		ctx.Respond(r.t)
	case *stopping:
		r.stopping = true
		ctx.Respond(struct{}{})
	case *actor.Terminated:
		if !r.stopping {
			reason := "actor " + msg.Who.Id + " stopped after repeated failures"
			r.tc.failure.Set(reason)
			r.tc.log.Error("engine degraded", "reason", reason)
		}
	}
}

func (r *rootActor) spawn(ctx actor.Context) {
	tc := r.tc
	named := func(props *actor.Props, name string) *actor.PID {
		pid, err := ctx.SpawnNamed(props, name)
		if err != nil {
			panic(fmt.Sprintf("spawn %s: %v", name, err))
		}
		ctx.Watch(pid)
		return pid
	}
	t := &tree{root: ctx.Self()}
	t.audit = named(actors.NewAuditProps(tc.store, tc.stats, tc.log.With("actor", "audit")),
		"audit")
	t.broadcaster = named(tc.hooks.broadcaster(actors.NewBroadcasterProps(tc.store,
		tc.stats, tc.log.With("actor", "broadcaster"))), "broadcaster")
	webhooks, err := webhookProps(tc)
	if err != nil {
		panic(fmt.Sprintf("spawn webhooks: %v", err))
	}
	t.webhooks = named(webhooks, "webhooks")
	t.store = named(actors.NewStorePropsWithWebhooks(tc.store, t.broadcaster, t.webhooks,
		tc.stats, tc.log.With("actor", "store")), "store")
	t.sessions = named(actors.NewSessionsProps(&actors.SessionDeps{
		Config:      tc.session,
		Broadcaster: t.broadcaster,
		Alerts:      tc.hooks.alerts(tc.store),
		Clock:       tc.clock,
		Stats:       tc.stats,
		Logger:      tc.log.With("actor", "session"),
		Issuer:      tc.issuer,
		Auditor:     tc.access,
		Recheck:     tc.hooks.recheck(tc.recheck),
	}), "sessions")
	tc.access.pids.Store(&accessPIDs{audit: t.audit, sessions: t.sessions})
	monitor, err := actors.NewMonitorProps(tc.cfg.Operator.Accuracy(), t.sessions, tc.notify,
		tc.stats, tc.log.With("actor", "monitor"))
	if err != nil {
		panic(fmt.Sprintf("spawn monitor: %v", err))
	}
	t.monitor = named(monitor, "monitor")
	t.tracker = named(actors.NewTrackerProps(actors.TrackerConfig{
		Lifecycle: tc.cfg.Lifecycle(),
		States:    tc.store.States,
		Outcomes:  t.monitor,
		AlertSeq:  tc.store.AlertSeq,
	}, t.store, tc.clock, tc.stats, tc.log.With("actor", "tracker")), "tracker")
	t.detector = named(actors.NewDetectorProps(tc.rules, t.tracker, tc.stats,
		tc.log.With("actor", "detector")), "detector")
	t.source = named(actors.NewSourceProps(tc.feed, actors.SourceConfig{
		Rate: tc.cfg.SourceRate(),
		Loop: tc.cfg.Loop,
	}, t.detector, tc.clock, tc.stats, tc.log.With("actor", "source")), "source")
	if tc.cfg.TestAlerts {
		t.testAlerts = named(actors.NewTestAlertProps(t.store, tc.clock,
			actors.TestAlertEvery, tc.log.With("actor", "test_alerts")), "test-alerts")
	}
	r.t = t
}

// stop takes the tree down in dependency order; see Engine.Shutdown. It returns when the
// sessions were told to close their connections.
func (t *tree) stop(ctx context.Context, system *actor.ActorSystem,
	log *slog.Logger) (time.Time, error) {
	root := system.Root
	if _, err := root.RequestFuture(t.root, &stopping{}, 5*time.Second).Result(); err != nil {
		return time.Now(), fmt.Errorf("system: stop tree: %w", err)
	}
	var errs []error
	for _, pid := range []*actor.PID{t.testAlerts, t.source, t.detector, t.tracker,
		t.store} {
		if pid != nil {
			errs = append(errs, poison(root, pid))
		}
	}
	// The store's last batches are on their way to the sessions: the broadcaster hands them
	// out before the sessions are told to close, so live clients get them before their 1001.
	// A broadcaster still behind when its time is up is left behind: its clients resume with
	// since, and the stop keeps its bound.
	if behind, err := flush(ctx, root, t.broadcaster); err != nil {
		errs = append(errs, err)
	} else if behind {
		log.Warn("broadcaster still behind at shutdown: clients resume with since")
	}
	closing := time.Now()
	root.Send(t.sessions, &actors.ServerShutdown{})
	errs = append(errs, waitSessions(ctx, system, t.sessions))
	for _, pid := range []*actor.PID{t.sessions, t.monitor, t.broadcaster, t.webhooks,
		t.audit, t.root} {
		errs = append(errs, poison(root, pid))
	}
	return closing, errors.Join(errs...)
}

// Bounds of the wait for the broadcaster at shutdown: it answers within milliseconds unless
// it is far behind (up to actors.MaxBroadcastLag records for every session). The wait takes
// what ctx leaves after flushReserve, kept for closing the sessions and the store, within
// [flushMin, flushMax].
const (
	flushReserve = 2500 * time.Millisecond
	flushMin     = 500 * time.Millisecond
	flushMax     = 3 * time.Second
)

// flush waits until the broadcaster has handled every message sent to it before, and
// reports whether it was still behind when the wait ended. A broadcaster stopped after
// repeated failures (the engine is degraded) is not waited for.
func flush(ctx context.Context, root *actor.RootContext, broadcaster *actor.PID) (bool, error) {
	wait := flushMax
	if deadline, ok := ctx.Deadline(); ok {
		wait = min(max(time.Until(deadline)-flushReserve, flushMin), flushMax)
	}
	_, err := root.RequestFuture(broadcaster, &actors.Flush{}, wait).Result()
	switch {
	case err == nil, errors.Is(err, actor.ErrDeadLetter):
		return false, nil
	case errors.Is(err, actor.ErrTimeout):
		return true, nil
	default:
		return false, fmt.Errorf("system: flush broadcaster: %w", err)
	}
}

// waitSessions gives sessions time to flush their close frames before their supervisor
// stops them.
func waitSessions(ctx context.Context, system *actor.ActorSystem, sessions *actor.PID) error {
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		res, err := system.Root.RequestFuture(sessions, &actors.CountSessions{}, time.Second).
			Result()
		if err != nil {
			return fmt.Errorf("system: count sessions: %w", err)
		}
		if n, _ := res.(int); n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("system: close sessions: %w", ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}
