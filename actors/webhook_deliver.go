package actors

import (
	"cmp"
	"container/heap"
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/whalecast/whalecast/internal/alert"
	"github.com/whalecast/whalecast/internal/notify"
	"github.com/whalecast/whalecast/persistence"
)

// scanItem is one webhook as a scan sees it.
type scanItem struct {
	hook   persistence.Webhook
	cursor uint64
	filter Filter
	room   int
}

// scan starts a scan of the record log for the webhooks behind it whose outbox has room,
// unless one runs: then another follows it. A scan reads at most webhookScanPage records
// per webhook and stops a webhook's cursor at the first matching record its outbox has no
// room for; the webhook is scanned again once a delivery leaves its outbox. Suspended
// webhooks are not scanned.
func (a *webhookActor) scan() {
	if a.scanning {
		a.rescan = true
		return
	}
	last := a.deps.Records.LastSeq()
	var items []scanItem
	for _, id := range a.order {
		h := a.hooks[id]
		if room := a.cfg.MaxPending - h.pending(); h.cursor < last && room > 0 &&
			!h.suspended() {
			items = append(items, scanItem{hook: h.hook, cursor: h.cursor, filter: h.filter,
				room: room})
		}
	}
	if len(items) == 0 {
		return
	}

	a.scanning = true
	hint, now := a.hint, a.deps.Clock.Now()
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		a.root.Send(a.self, runScan(a.deps, items, hint, last, now))
	}()
}

// runScan reads the records after each item's cursor (from hint when it starts there),
// picks those the item's filter wants, and writes them to the outboxes with the new
// cursors in one transaction. An item whose owner is no longer trusted is suspended
// instead; one whose owner cannot be checked now waits for the next scan.
func runScan(deps WebhookDeps, items []scanItem, hint []Entry, last uint64,
	now time.Time) *webhookScanned {
	res := &webhookScanned{}
	for _, it := range items {
		s, err := checkOwner(deps, it.hook, now)
		if s != nil {
			res.suspended = append(res.suspended, *s)
		}
		if s != nil || err != nil {
			res.ownerErr = errors.Join(res.ownerErr, err)
			continue
		}
		page, err := scanPage(deps.Records, it.cursor, hint)
		if err != nil {
			res.err = err
			return res
		}
		cursor, room := it.cursor, it.room
		var ds []persistence.Delivery
		if len(page) == 0 {
			res.lost += last - cursor // everything after the cursor expired
			cursor = last
		} else if page[0].Stored.Seq > cursor+1 {
			res.lost += page[0].Stored.Seq - cursor - 1
		}
		full := false
		for _, e := range page {
			if it.filter.Wants(e.Meta) {
				if room == 0 {
					full = true
					break
				}
				ds = append(ds, persistence.Delivery{Seq: e.Stored.Seq, Created: now,
					Next: now})
				room--
			}
			cursor = e.Stored.Seq
		}
		if !full && cursor < last {
			res.more = true
		}
		if cursor != it.cursor {
			res.items = append(res.items, persistence.WebhookEnqueue{ID: it.hook.ID,
				Cursor: cursor, Deliveries: ds})
		}
	}
	res.err = deps.Store.Enqueue(res.items)
	return res
}

// scanPage returns the records after cursor: hint's when it starts right after cursor,
// else a page read from the log.
func scanPage(records AlertReader, cursor uint64, hint []Entry) ([]Entry, error) {
	if len(hint) > 0 && hint[0].Stored.Seq == cursor+1 {
		return hint[:min(len(hint), webhookScanPage)], nil
	}
	stored, err := records.Range(cursor, webhookScanPage)
	if err != nil {
		return nil, err
	}
	return entries(stored), nil
}

// scanned takes a scan's deliveries into the outboxes and starts the next scan if needed.
func (a *webhookActor) scanned(msg *webhookScanned) {
	a.scanning = false
	for _, s := range msg.suspended {
		a.suspend(s)
	}
	if msg.ownerErr != nil {
		a.log.Error("webhook owner check failed", "err", msg.ownerErr)
	}
	if msg.err != nil {
		a.log.Error("webhook scan failed", "err", msg.err)
		return
	}
	if msg.lost > 0 {
		a.log.Warn("webhook records expired before delivery", "records", msg.lost)
	}
	for _, item := range msg.items {
		h := a.hooks[item.ID]
		if h == nil {
			continue
		}
		h.cursor = item.Cursor
		for _, d := range item.Deliveries {
			heap.Push(&h.queue, d)
		}
	}
	if msg.more || a.rescan {
		a.rescan = false
		a.scan()
	}
	a.pump()
}

// pump starts every due attempt the bounds allow and sets the timer for the earliest
// attempt that remains. Free slots go round the owners, one attempt each per round, from a
// new owner each time; each owner's attempts go round its webhooks. So an owner whose
// receivers hang holds at most OwnerInflight slots, and the others keep theirs.
func (a *webhookActor) pump() {
	if a.ctx.Err() != nil || len(a.ownerOrder) == 0 {
		return
	}
	now := a.deps.Clock.Now()
	start := a.nextOwner % len(a.ownerOrder)
	a.nextOwner++
	for started := true; started; {
		started = false
		for i := range a.ownerOrder {
			if a.inflight >= a.cfg.MaxInflight {
				break
			}
			o := a.owners[a.ownerOrder[(start+i)%len(a.ownerOrder)]]
			if h := a.dueHook(o, now); h != nil {
				a.attempt(h, heap.Pop(&h.queue).(persistence.Delivery))
				started = true
			}
		}
	}

	var earliest time.Time
	for _, o := range a.owners {
		if o.inflight >= a.cfg.OwnerInflight {
			continue // a slot of its own frees first, and pumps
		}
		for _, id := range o.ids {
			h := a.hooks[id]
			if a.canAttempt(h) && (earliest.IsZero() || h.queue[0].Next.Before(earliest)) {
				earliest = h.queue[0].Next
			}
		}
	}
	if a.inflight < a.cfg.MaxInflight && !earliest.IsZero() {
		a.arm(earliest, now)
	}
}

// canAttempt reports whether h has a delivery waiting and room for another attempt.
func (a *webhookActor) canAttempt(h *hookState) bool {
	return h.queue.Len() > 0 && h.inflight < a.cfg.Concurrency && !h.suspended()
}

// dueHook returns the next webhook of o, in its round, with an attempt due now that the
// bounds allow; nil when there is none or o has its share of the slots.
func (a *webhookActor) dueHook(o *ownerState, now time.Time) *hookState {
	if o.inflight >= a.cfg.OwnerInflight {
		return nil
	}
	for i := range o.ids {
		k := (o.next + i) % len(o.ids)
		if h := a.hooks[o.ids[k]]; a.canAttempt(h) && !h.queue[0].Next.After(now) {
			o.next = k + 1
			return h
		}
	}
	return nil
}

// arm makes sure a tick comes at or before at.
func (a *webhookActor) arm(at, now time.Time) {
	if !a.timerAt.IsZero() && !a.timerAt.After(at) {
		return
	}
	if a.timer != nil {
		a.timer.Stop()
	}
	a.timerGen++
	gen, root, self := a.timerGen, a.root, a.self
	a.timerAt = at
	a.timer = a.deps.Clock.AfterFunc(max(at.Sub(now), time.Millisecond), func() {
		root.Send(self, &webhookTick{gen: gen})
	})
}

// attempt runs one delivery attempt on a goroutine; its outcome comes back as
// webhookAttempted.
func (a *webhookActor) attempt(h *hookState, d persistence.Delivery) {
	h.inflight++
	a.owners[h.hook.Owner].inflight++
	a.inflight++
	job := attemptJob{hook: h.hook, poster: h.poster, d: d, cfg: a.cfg, deps: a.deps,
		resolver: a.resolver}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		a.root.Send(a.self, job.run(a.ctx))
	}()
}

// attemptJob is what one attempt needs; it shares nothing mutable with the actor.
type attemptJob struct {
	hook   persistence.Webhook
	poster *notify.Webhook
	d      persistence.Delivery
	cfg    WebhookConfig
	deps   WebhookDeps
	// resolver writes the outcome with those of the other attempts that finish meanwhile.
	resolver *resolver
}

// run checks the owner, reads the record, posts it, decides the outcome and stores it. An
// attempt cut by the actor's stop stores nothing: the delivery stays in the outbox as it
// was; so does one whose owner is no longer trusted, and the webhook is suspended.
func (j attemptJob) run(ctx context.Context) *webhookAttempted {
	d := j.d
	res := &webhookAttempted{id: j.hook.ID, owner: j.hook.Owner, d: d}
	res.suspend, res.err = checkOwner(j.deps, j.hook, j.deps.Clock.Now())
	if res.suspend != nil || res.err != nil {
		return res
	}
	body, gone, err := j.body()
	if err != nil || ctx.Err() != nil {
		res.err = err
		return res
	}

	clk := j.deps.Clock
	start := clk.Now()
	if gone != "" {
		err = errors.New(gone)
	} else {
		err = j.poster.Post(ctx, strconv.FormatUint(d.Seq, 10), body)
		if ctx.Err() != nil {
			return res
		}
	}
	now := clk.Now()

	d.Attempts++
	d.LastStatus, d.LastError = 0, ""
	outcome := persistence.OutcomeDelivered
	if err != nil {
		var de *notify.DeliveryError
		if errors.As(err, &de) {
			d.LastStatus = de.StatusCode
		}
		// The owner reads this: a few words, nothing of the engine's network.
		d.LastError = cmp.Or(gone, notify.PublicReason(err))
		outcome = persistence.OutcomeDeadLetter
		deadline := d.Created.Add(j.cfg.MaxAge)
		if notify.Retryable(err) && now.Before(deadline) {
			outcome = persistence.OutcomeRetry
			d.Next = now.Add(notify.Backoff(d.Attempts, j.cfg.MinBackoff, j.cfg.MaxBackoff))
			if d.Next.After(deadline) {
				d.Next = deadline
			}
		} else {
			d.DeadAt = now
		}
	}

	entry := persistence.DeliveryLogEntry{Time: now, Seq: d.Seq, Attempt: d.Attempts,
		Outcome: outcome, Status: d.LastStatus, Error: d.LastError,
		DurationMS: now.Sub(start).Milliseconds()}
	res.d, res.outcome = d, outcome
	res.entry, res.err = j.resolver.resolve(persistence.AttemptResult{ID: j.hook.ID,
		Delivery: d, Entry: entry})
	if res.err == nil {
		j.deps.Stats.countWebhookOutcome(webhookOutcome(outcome, err))
	}
	res.cause = err
	return res
}

// webhookOutcome names an attempt's outcome for the metrics: the stored outcome, or
// refused for a dead letter whose address the guard refused.
func webhookOutcome(outcome string, err error) string {
	if outcome == persistence.OutcomeDeadLetter && errors.Is(err, notify.ErrBlockedAddress) {
		return WebhookRefused
	}
	return outcome
}

// body returns the body posted for the delivery's record: the record as the WebSocket
// carries it. gone says why there is none to post (the record expired, or is too large);
// err is a read error, after which the attempt is not made.
func (j attemptJob) body() (body []byte, gone string, err error) {
	recs, err := j.deps.Records.Range(j.d.Seq-1, 1)
	switch {
	case err != nil:
		return nil, "", err
	case len(recs) == 0 || recs[0].Seq != j.d.Seq:
		return nil, "record no longer stored (retention)", nil
	}
	body = alert.Frame(recs[0])
	if len(body) > MaxWebhookBody {
		return nil, "record over " + strconv.Itoa(MaxWebhookBody) + " bytes", nil
	}
	return body, "", nil
}

// attempted applies an attempt's outcome to the webhook's outbox in memory.
func (a *webhookActor) attempted(msg *webhookAttempted) {
	a.inflight--
	if o := a.owners[msg.owner]; o != nil {
		o.inflight--
		a.dropOwnerIfIdle(msg.owner)
	}
	h := a.hooks[msg.id]
	if h == nil {
		a.pump()
		return
	}
	h.inflight--
	if a.ctx.Err() != nil {
		return
	}

	d := msg.d
	log := a.log.With("webhook", msg.id, "seq", d.Seq, "attempt", d.Attempts)
	switch {
	case msg.suspend != nil:
		heap.Push(&h.queue, d) // kept in the outbox, not attempted
		a.suspend(*msg.suspend)
	case errors.Is(msg.err, persistence.ErrNotFound):
	case msg.err != nil || msg.outcome == "":
		// Nothing was stored (or the owner could not be checked, and nothing was posted):
		// try again later, from what the outbox holds.
		log.Error("webhook attempt not made or not recorded", "err", msg.err)
		d.Next = a.deps.Clock.Now().Add(a.cfg.MinBackoff)
		heap.Push(&h.queue, d)
	case msg.outcome == persistence.OutcomeRetry:
		log.Debug("webhook attempt failed", "status", d.LastStatus, "err", d.LastError,
			"cause", errText(msg.cause), "retry_at", d.Next)
		heap.Push(&h.queue, d)
	case msg.outcome == persistence.OutcomeDeadLetter:
		log.Warn("webhook delivery dead-lettered", "status", d.LastStatus,
			"err", d.LastError, "cause", errText(msg.cause))
	default:
		log.Debug("webhook delivered")
	}
	if h.cursor < a.deps.Records.LastSeq() && h.pending() < a.cfg.MaxPending &&
		!h.suspended() {
		a.scan()
	}
	a.pump()
}

// errText returns err's text for the engine's own log, "" for nil. It names the URL's
// scheme and host, never its path or query (see notify.DeliveryError).
func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
