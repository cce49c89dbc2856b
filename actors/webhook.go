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
	DefaultWebhookTimeout       = notify.DefaultWebhookTimeout
	DefaultWebhookMinBackoff    = 5 * time.Second
	DefaultWebhookMaxBackoff    = time.Hour
	DefaultWebhookMaxAge        = 24 * time.Hour
	DefaultWebhookConcurrency   = 4
	DefaultWebhookMaxInflight   = 64
	DefaultWebhookOwnerInflight = 8
	DefaultWebhookOwnerCheck    = time.Second
	DefaultWebhookMaxPending    = 1000
	DefaultMaxWebhooks          = 100
	DefaultMaxWebhooksPerOwner  = 10
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
	// OwnerInflight bounds the attempts in flight to the webhooks of one owner together
	// (default 8), so that one client's receivers that never answer cannot hold the slots
	// every other client needs. Free slots go round the owners, then round each owner's
	// webhooks.
	OwnerInflight int
	// OwnerCheck is how often every active webhook's owner is checked again (default 1 s),
	// besides the check before each attempt and each scan: a webhook whose owner is no
	// longer trusted is suspended within it. See WebhookDeps.OwnerValid.
	OwnerCheck time.Duration
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
	c.OwnerInflight = cmp.Or(c.OwnerInflight, DefaultWebhookOwnerInflight)
	c.OwnerCheck = cmp.Or(c.OwnerCheck, DefaultWebhookOwnerCheck)
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
	case c.Timeout < 0 || c.MinBackoff < 0 || c.MaxAge < 0 || c.OwnerCheck < 0:
		return c, errors.New("actors: webhook durations must not be negative")
	case c.MaxBackoff < c.MinBackoff:
		return c, errors.New("actors: webhook max backoff is below its min backoff")
	case c.Concurrency < 1 || c.MaxInflight < 1 || c.OwnerInflight < 1 || c.MaxPending < 1 ||
		c.MaxWebhooks < 1 || c.MaxPerOwner < 1:
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
	// OwnerValid tells whether the credential that created a webhook is still trusted: nil
	// when it is; an error wrapping ErrWebhookOwnerRevoked (an *OwnerRevokedError) when the
	// owner's client, the token or the API key that created it was revoked after it was
	// created, and the webhook is then suspended for good; any other error when it cannot
	// tell now, and the attempt waits. It is called on goroutines of the actor before each
	// attempt, for each webhook a scan reads for, and every OwnerCheck for every active
	// webhook, so it must be safe for concurrent use and cheap. Nil trusts every owner.
	OwnerValid func(w persistence.Webhook) error
}

// WebhookOwner is who creates a webhook: the client, and the credential it used.
type WebhookOwner struct {
	// Client is the token's sub or the API key's client.
	Client string
	// TokenID is the token's jti; empty for an API key.
	TokenID string
	// APIKeyID is the API key's id; empty for a token.
	APIKeyID string
}

// CreateWebhook asks the webhook actor for a new webhook of Owner; it answers
// *WebhookCreated. Send it with RequestFuture.
type CreateWebhook struct {
	Owner WebhookOwner
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
// persistence.ErrNotFound, ErrWebhookFull or ErrWebhookSuspended.
type DeadLettersReplayed struct {
	Seqs []uint64
	Err  error
}

// webhookScanned is the result of a scan of the record log.
type webhookScanned struct {
	items     []persistence.WebhookEnqueue
	more      bool   // some webhook is still behind the log and has room
	lost      uint64 // records past retention that a cursor skipped
	err       error
	suspended []suspension // webhooks whose owner is no longer trusted
	ownerErr  error        // owners that could not be checked
}

// webhookAttempted is the outcome of one delivery attempt.
type webhookAttempted struct {
	id      string
	owner   string
	d       persistence.Delivery
	entry   persistence.DeliveryLogEntry
	outcome string      // a persistence outcome, or "" when the attempt was abandoned
	err     error       // why the outcome could not be stored, or the owner not checked
	suspend *suspension // set when the owner is no longer trusted: no attempt was made
	cause   error       // the attempt's failure in full, for the engine's own log
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

// suspended reports whether delivery stopped for good because its owner is not trusted.
func (h *hookState) suspended() bool { return !h.hook.Suspended.IsZero() }

// ownerState is one owner's share of the attempts: its webhooks, where the next attempt
// starts among them, and its attempts in flight (those of deleted webhooks included).
type ownerState struct {
	ids      []string // sorted
	next     int
	inflight int
}

// webhookState outlives a restart of the webhook actor, so that a restart neither loses
// the deliveries in flight nor loads the outboxes twice.
type webhookState struct {
	cfg      WebhookConfig
	deps     WebhookDeps
	log      *slog.Logger
	resolver *resolver // writes the attempts' outcomes in groups

	loaded     bool
	hooks      map[string]*hookState
	order      []string // ids in order, for the scans
	owners     map[string]*ownerState
	ownerOrder []string // owners in order, for a fair round of the attempts
	nextOwner  int      // where the next round starts
	inflight   int

	checking   bool // an owner check runs
	checkTimer clock.Timer

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
		hooks: map[string]*hookState{}, owners: map[string]*ownerState{}, ctx: ctx,
		cancel: cancel, resolver: newResolver(deps.Store, cfg.Keep, maxResolveBatch)}
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
	case *webhookCheckOwners:
		a.checkOwners()
	case *webhookOwnersChecked:
		a.ownersChecked(msg)
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
	a.checkOwners()
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

// add puts a webhook in delivery, in its owner's round.
func (a *webhookActor) add(h *hookState) {
	id, owner := h.hook.ID, h.hook.Owner
	a.hooks[id] = h
	i, _ := slices.BinarySearch(a.order, id)
	a.order = slices.Insert(a.order, i, id)
	o := a.owners[owner]
	if o == nil {
		o = &ownerState{}
		a.owners[owner] = o
		j, _ := slices.BinarySearch(a.ownerOrder, owner)
		a.ownerOrder = slices.Insert(a.ownerOrder, j, owner)
	}
	j, _ := slices.BinarySearch(o.ids, id)
	o.ids = slices.Insert(o.ids, j, id)
}

// remove takes a webhook out of delivery; its owner goes once it has neither webhooks nor
// attempts in flight.
func (a *webhookActor) remove(h *hookState) {
	id, owner := h.hook.ID, h.hook.Owner
	delete(a.hooks, id)
	if i, ok := slices.BinarySearch(a.order, id); ok {
		a.order = slices.Delete(a.order, i, i+1)
	}
	if o := a.owners[owner]; o != nil {
		if i, ok := slices.BinarySearch(o.ids, id); ok {
			o.ids = slices.Delete(o.ids, i, i+1)
		}
		a.dropOwnerIfIdle(owner)
	}
}

// dropOwnerIfIdle forgets an owner with no webhook and no attempt in flight.
func (a *webhookActor) dropOwnerIfIdle(owner string) {
	o := a.owners[owner]
	if o == nil || len(o.ids) > 0 || o.inflight > 0 {
		return
	}
	delete(a.owners, owner)
	if i, ok := slices.BinarySearch(a.ownerOrder, owner); ok {
		a.ownerOrder = slices.Delete(a.ownerOrder, i, i+1)
	}
}

// create validates and stores a new webhook whose cursor starts at the latest record: it
// gets the records stored after it.
func (a *webhookActor) create(msg *CreateWebhook) *WebhookCreated {
	w, err := checkSpec(msg.Spec, a.cfg.Detectors, a.cfg.Guard)
	if err != nil {
		return &WebhookCreated{Err: err}
	}
	owned := 0
	if o := a.owners[msg.Owner.Client]; o != nil {
		owned = len(o.ids)
	}
	if len(a.hooks) >= a.cfg.MaxWebhooks || owned >= a.cfg.MaxPerOwner {
		return &WebhookCreated{Err: fmt.Errorf("%w: at most %d webhooks, %d per client",
			ErrWebhookLimit, a.cfg.MaxWebhooks, a.cfg.MaxPerOwner)}
	}

	w.ID, w.Owner, w.Secret = persistence.NewWebhookID(), msg.Owner.Client,
		persistence.NewWebhookSecret()
	w.TokenID, w.APIKeyID = msg.Owner.TokenID, msg.Owner.APIKeyID
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
		a.remove(h)
		h.poster.CloseIdleConnections()
		a.log.Info("webhook deleted", "webhook", h.hook, "dropped", h.queue.Len())
	}
	return nil
}

// replay moves dead letters back into the outbox, due now.
func (a *webhookActor) replay(msg *ReplayDeadLetters) *DeadLettersReplayed {
	h := a.hooks[msg.ID]
	switch {
	case h == nil:
		return &DeadLettersReplayed{Err: fmt.Errorf("webhook %s: %w", msg.ID,
			persistence.ErrNotFound)}
	case h.suspended():
		return &DeadLettersReplayed{Err: fmt.Errorf("webhook %s: %w", msg.ID,
			ErrWebhookSuspended)}
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
	if a.checkTimer != nil {
		a.checkTimer.Stop()
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
