package actors

import (
	"cmp"
	"container/heap"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/whalecast/whalecast/internal/clock"
	"github.com/whalecast/whalecast/internal/notify"
	"github.com/whalecast/whalecast/persistence"
)

// Defaults of WebhookConfig, used for its zero fields.
const (
	DefaultWebhookTimeout      = notify.DefaultWebhookTimeout
	DefaultWebhookMinBackoff   = 5 * time.Second
	DefaultWebhookMaxBackoff   = time.Hour
	DefaultWebhookMaxAge       = 24 * time.Hour
	DefaultWebhookConcurrency  = 4
	DefaultWebhookMaxInflight  = 64
	DefaultWebhookMaxPending   = 1000
	DefaultMaxWebhooks         = 100
	DefaultMaxWebhooksPerOwner = 10
)

// Hard limits of WebhookConfig.
const (
	// MaxWebhookBody is the largest body posted; a larger record becomes a dead letter.
	MaxWebhookBody = 64 << 10
	// MaxWebhookReplay bounds the dead letters one replay moves.
	MaxWebhookReplay = 1000
	// webhookScanPage is how many records one scan reads per webhook.
	webhookScanPage = 256
)

// WebhookConfig bounds and paces webhook delivery. Every zero field takes its default.
type WebhookConfig struct {
	// Timeout bounds one attempt, connection included (default 5 s).
	Timeout time.Duration
	// MinBackoff and MaxBackoff shape the retries: exponential from MinBackoff, capped at
	// MaxBackoff, with full jitter (defaults 5 s and 1 h).
	MinBackoff, MaxBackoff time.Duration
	// MaxAge is how long a delivery is retried, from the moment it entered the outbox,
	// before it becomes a dead letter (default 24 h).
	MaxAge time.Duration
	// Concurrency bounds the attempts in flight to one webhook (default 4).
	Concurrency int
	// MaxInflight bounds the attempts in flight to all webhooks together (default 64).
	MaxInflight int
	// MaxPending bounds each webhook's outbox (default 1000). A full outbox stops its
	// webhook's cursor: later records wait in the record log until there is room.
	MaxPending int
	// MaxWebhooks bounds the webhooks of the engine (default 100), MaxPerOwner those of one
	// client (default 10).
	MaxWebhooks, MaxPerOwner int
	// Keep bounds each webhook's delivery log and dead letters.
	Keep persistence.WebhookKeep
	// Detectors lists the detector names a webhook may filter on (default: the names of
	// BuiltinRegistry).
	Detectors []string
	// Guard checks every address a delivery connects to; nil refuses the blocked ranges
	// with no allow-list.
	Guard *notify.Guard
}

func (c WebhookConfig) withDefaults() (WebhookConfig, error) {
	c.Timeout = cmp.Or(c.Timeout, DefaultWebhookTimeout)
	c.MinBackoff = cmp.Or(c.MinBackoff, DefaultWebhookMinBackoff)
	c.MaxBackoff = cmp.Or(c.MaxBackoff, DefaultWebhookMaxBackoff)
	c.MaxAge = cmp.Or(c.MaxAge, DefaultWebhookMaxAge)
	c.Concurrency = cmp.Or(c.Concurrency, DefaultWebhookConcurrency)
	c.MaxInflight = cmp.Or(c.MaxInflight, DefaultWebhookMaxInflight)
	c.MaxPending = cmp.Or(c.MaxPending, DefaultWebhookMaxPending)
	c.MaxWebhooks = cmp.Or(c.MaxWebhooks, DefaultMaxWebhooks)
	c.MaxPerOwner = cmp.Or(c.MaxPerOwner, DefaultMaxWebhooksPerOwner)
	if c.Detectors == nil {
		c.Detectors = BuiltinRegistry().Names()
	}
	if c.Guard == nil {
		g, err := notify.NewGuard(notify.GuardConfig{})
		if err != nil {
			return c, fmt.Errorf("actors: webhook guard: %w", err)
		}
		c.Guard = g
	}
	switch {
	case c.Timeout < 0 || c.MinBackoff < 0 || c.MaxAge < 0:
		return c, errors.New("actors: webhook durations must not be negative")
	case c.MaxBackoff < c.MinBackoff:
		return c, errors.New("actors: webhook max backoff is below its min backoff")
	case c.Concurrency < 1 || c.MaxInflight < 1 || c.MaxPending < 1 || c.MaxWebhooks < 1 ||
		c.MaxPerOwner < 1:
		return c, errors.New("actors: webhook bounds must be at least 1")
	}
	return c, nil
}

// WebhookDeps are what the webhook actor works with.
type WebhookDeps struct {
	Config WebhookConfig
	// Store keeps the webhooks, their cursors, outboxes, dead letters and logs.
	Store persistence.WebhookStore
	// Records reads the record log that cursors run over.
	Records AlertReader
	Clock   clock.Clock
	Logger  *slog.Logger
	// Stats counts the attempts by outcome and the pending deliveries; nil counts nothing.
	Stats *Stats
}

// CreateWebhook asks the webhook actor for a new webhook of Owner; it answers
// *WebhookCreated. Send it with RequestFuture.
type CreateWebhook struct {
	Owner string
	Spec  WebhookSpec
}

// WebhookCreated answers CreateWebhook: the stored webhook (its Secret is shown to the
// client once), or an error wrapping ErrWebhookInvalid, ErrWebhookLimit or a store error.
type WebhookCreated struct {
	Webhook persistence.Webhook
	Err     error
}

// DeleteWebhook asks the webhook actor to delete a webhook with everything it holds; it
// answers *WebhookDeleted. Whoever sends it has checked that the caller may.
type DeleteWebhook struct {
	ID string
}

// WebhookDeleted answers DeleteWebhook; Err wraps persistence.ErrNotFound for an unknown id.
type WebhookDeleted struct {
	Err error
}

// ReplayDeadLetters asks the webhook actor to move dead letters of webhook ID back to its
// outbox: those with Seqs, or the oldest ones when Seqs is nil, as many as the outbox has
// room for and at most MaxWebhookReplay. It answers *DeadLettersReplayed.
type ReplayDeadLetters struct {
	ID   string
	Seqs []uint64
}

// DeadLettersReplayed answers ReplayDeadLetters with the seqs moved, or an error wrapping
// persistence.ErrNotFound or ErrWebhookFull.
type DeadLettersReplayed struct {
	Seqs []uint64
	Err  error
}

// webhookScanned is the result of a scan of the record log.
type webhookScanned struct {
	items []persistence.WebhookEnqueue
	more  bool   // some webhook is still behind the log and has room
	lost  uint64 // records past retention that a cursor skipped
	err   error
}

// webhookAttempted is the outcome of one delivery attempt.
type webhookAttempted struct {
	id      string
	d       persistence.Delivery
	entry   persistence.DeliveryLogEntry
	outcome string // a persistence outcome, or "" when the attempt was abandoned
	err     error  // why the outcome could not be stored
}

// webhookTick fires when the earliest retry is due; stale generations are ignored.
type webhookTick struct{ gen uint64 }

// hookState is one webhook as the actor delivers it.
type hookState struct {
	hook     persistence.Webhook
	filter   Filter
	poster   *notify.Webhook
	cursor   uint64
	queue    deliveryQueue // outbox entries not in flight, earliest due first
	inflight int
}

// pending counts the webhook's outbox: queued and in flight.
func (h *hookState) pending() int { return h.queue.Len() + h.inflight }

// webhookState outlives a restart of the webhook actor, so that a restart neither loses
// the deliveries in flight nor loads the outboxes twice.
type webhookState struct {
	cfg  WebhookConfig
	deps WebhookDeps
	log  *slog.Logger

	loaded   bool
	hooks    map[string]*hookState
	order    []string // ids in order, for a fair round of the webhooks
	next     int      // where the next round starts
	inflight int

	scanning bool
	rescan   bool
	hint     []Entry // the latest published records, read instead of the log when they fit

	timer    clock.Timer
	timerAt  time.Time
	timerGen uint64

	root   *actor.RootContext
	self   *actor.PID
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// webhookActor delivers matching records to customer webhooks. It learns of new records
// from the store's Published messages, follows each webhook's cursor over the durable
// record log, keeps the outboxes in memory (loaded from the store at start) and runs
// every attempt, scan and outcome write on a goroutine of its own, so that it never waits
// for a disk or a receiver.
type webhookActor struct {
	*webhookState
}

// NewWebhookProps returns the webhook actor's props.
func NewWebhookProps(deps WebhookDeps) (*actor.Props, error) {
	cfg, err := deps.Config.withDefaults()
	if err != nil {
		return nil, err
	}
	if deps.Store == nil || deps.Records == nil || deps.Clock == nil {
		return nil, errors.New("actors: webhook actor needs a store, records and a clock")
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	state := &webhookState{cfg: cfg, deps: deps, log: deps.Logger,
		hooks: map[string]*hookState{}, ctx: ctx, cancel: cancel}
	return actor.PropsFromProducer(func() actor.Actor {
		return &webhookActor{webhookState: state}
	}), nil
}

// Receive implements actor.Actor.
func (a *webhookActor) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		a.start(ctx)
	case *Published:
		a.hint = msg.Entries
		a.scan()
	case *CreateWebhook:
		ctx.Respond(a.create(msg))
	case *DeleteWebhook:
		ctx.Respond(&WebhookDeleted{Err: a.delete(msg.ID)})
	case *ReplayDeadLetters:
		ctx.Respond(a.replay(msg))
	case *webhookScanned:
		a.scanned(msg)
	case *webhookAttempted:
		a.attempted(msg)
	case *webhookTick:
		if msg.gen == a.timerGen {
			a.timerAt = time.Time{}
			a.pump()
		}
	case *actor.Stopping:
		a.stop()
	}
	a.reportPending()
}

// reportPending publishes the deliveries in every outbox, queued or in flight.
func (a *webhookActor) reportPending() {
	if a.deps.Stats == nil {
		return
	}
	n := 0
	for _, h := range a.hooks {
		n += h.pending()
	}
	a.deps.Stats.WebhooksPending.Store(int64(n))
}

// start loads the webhooks and their outboxes once, then catches up with the record log.
func (a *webhookActor) start(ctx actor.Context) {
	a.root, a.self = ctx.ActorSystem().Root, ctx.Self()
	if !a.loaded {
		if err := a.load(); err != nil {
			panic(fmt.Sprintf("webhooks: load: %v", err))
		}
		a.loaded = true
	}
	a.scan()
	a.pump()
}

// load reads every webhook, its cursor and its outbox.
func (a *webhookActor) load() error {
	hooks, err := a.deps.Store.Webhooks()
	if err != nil {
		return err
	}
	pending := 0
	for _, w := range hooks {
		cursor, err := a.deps.Store.WebhookCursor(w.ID)
		if err != nil {
			return err
		}
		outbox, err := a.deps.Store.Outbox(w.ID)
		if err != nil {
			return err
		}
		h, err := a.newHook(w, cursor)
		if err != nil {
			a.log.Error("webhook not loaded", "webhook", w.ID, "err", err)
			continue
		}
		for _, d := range outbox {
			heap.Push(&h.queue, d)
		}
		pending += len(outbox)
		a.add(h)
	}
	a.log.Info("webhooks loaded", "webhooks", len(a.hooks), "pending", pending)
	return nil
}

// newHook returns the delivery state of a stored webhook.
func (a *webhookActor) newHook(w persistence.Webhook, cursor uint64) (*hookState, error) {
	poster, err := notify.NewWebhook(notify.WebhookConfig{URL: w.URL,
		Secret: w.Secret.Reveal(), Timeout: a.cfg.Timeout, Guard: a.cfg.Guard})
	if err != nil {
		return nil, fmt.Errorf("webhook %s: %w", w.ID, err)
	}
	return &hookState{hook: w, filter: webhookFilter(w), poster: poster, cursor: cursor}, nil
}

func (a *webhookActor) add(h *hookState) {
	a.hooks[h.hook.ID] = h
	i, _ := slices.BinarySearch(a.order, h.hook.ID)
	a.order = slices.Insert(a.order, i, h.hook.ID)
}

// create validates and stores a new webhook whose cursor starts at the latest record: it
// gets the records stored after it.
func (a *webhookActor) create(msg *CreateWebhook) *WebhookCreated {
	w, err := checkSpec(msg.Spec, a.cfg.Detectors, a.cfg.Guard)
	if err != nil {
		return &WebhookCreated{Err: err}
	}
	owned := 0
	for _, h := range a.hooks {
		if h.hook.Owner == msg.Owner {
			owned++
		}
	}
	if len(a.hooks) >= a.cfg.MaxWebhooks || owned >= a.cfg.MaxPerOwner {
		return &WebhookCreated{Err: fmt.Errorf("%w: at most %d webhooks, %d per client",
			ErrWebhookLimit, a.cfg.MaxWebhooks, a.cfg.MaxPerOwner)}
	}

	w.ID, w.Owner, w.Secret = persistence.NewWebhookID(), msg.Owner,
		persistence.NewWebhookSecret()
	w.Created = a.deps.Clock.Now().UTC()
	cursor := a.deps.Records.LastSeq()
	h, err := a.newHook(w, cursor)
	if err != nil {
		return &WebhookCreated{Err: invalid("url is not usable")}
	}
	if err := a.deps.Store.PutWebhook(w, cursor); err != nil {
		return &WebhookCreated{Err: fmt.Errorf("store webhook: %w", err)}
	}
	a.add(h)
	a.log.Info("webhook created", "webhook", w, "cursor", cursor)
	return &WebhookCreated{Webhook: w}
}

// delete removes a webhook from the store and from delivery. Attempts in flight finish;
// their outcomes find the webhook gone and write nothing.
func (a *webhookActor) delete(id string) error {
	if err := a.deps.Store.DeleteWebhook(id); err != nil {
		return err
	}
	if h := a.hooks[id]; h != nil {
		delete(a.hooks, id)
		if i, ok := slices.BinarySearch(a.order, id); ok {
			a.order = slices.Delete(a.order, i, i+1)
		}
		h.poster.CloseIdleConnections()
		a.log.Info("webhook deleted", "webhook", h.hook, "dropped", h.queue.Len())
	}
	return nil
}

// replay moves dead letters back into the outbox, due now.
func (a *webhookActor) replay(msg *ReplayDeadLetters) *DeadLettersReplayed {
	h := a.hooks[msg.ID]
	if h == nil {
		return &DeadLettersReplayed{Err: fmt.Errorf("webhook %s: %w", msg.ID,
			persistence.ErrNotFound)}
	}
	room := min(a.cfg.MaxPending-h.pending(), MaxWebhookReplay)
	if room <= 0 {
		return &DeadLettersReplayed{Err: fmt.Errorf("%w: %d deliveries pending",
			ErrWebhookFull, h.pending())}
	}
	moved, err := a.deps.Store.ReplayDeadLetters(msg.ID, msg.Seqs, room,
		a.deps.Clock.Now(), a.cfg.Keep)
	if err != nil {
		return &DeadLettersReplayed{Err: err}
	}
	seqs := make([]uint64, len(moved))
	for i, d := range moved {
		heap.Push(&h.queue, d)
		seqs[i] = d.Seq
	}
	a.log.Info("webhook dead letters replayed", "webhook", h.hook, "replayed", len(moved))
	a.pump()
	return &DeadLettersReplayed{Seqs: seqs}
}

// stop cancels the attempts in flight (their deliveries stay in the outbox, for the next
// start) and waits for every goroutine of the actor.
func (a *webhookActor) stop() {
	a.cancel()
	if a.timer != nil {
		a.timer.Stop()
	}
	a.wg.Wait()
	for _, h := range a.hooks {
		h.poster.CloseIdleConnections()
	}
}

// deliveryQueue is a min-heap of deliveries by due time, then seq.
type deliveryQueue []persistence.Delivery

func (q deliveryQueue) Len() int { return len(q) }

func (q deliveryQueue) Less(i, j int) bool {
	if !q[i].Next.Equal(q[j].Next) {
		return q[i].Next.Before(q[j].Next)
	}
	return q[i].Seq < q[j].Seq
}

func (q deliveryQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }

// Push implements heap.Interface.
func (q *deliveryQueue) Push(x any) { *q = append(*q, x.(persistence.Delivery)) }

// Pop implements heap.Interface.
func (q *deliveryQueue) Pop() any {
	old := *q
	d := old[len(old)-1]
	*q = old[:len(old)-1]
	return d
}
