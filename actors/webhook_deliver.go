package actors

import (
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
	id     string
	cursor uint64
	filter Filter
	room   int
}

// scan starts a scan of the record log for the webhooks behind it whose outbox has room,
// unless one runs: then another follows it. A scan reads at most webhookScanPage records
// per webhook and stops a webhook's cursor at the first matching record its outbox has no
// room for; the webhook is scanned again once a delivery leaves its outbox.
func (a *webhookActor) scan() {
	if a.scanning {
		a.rescan = true
		return
	}
	last := a.deps.Records.LastSeq()
	var items []scanItem
	for _, id := range a.order {
		h := a.hooks[id]
		if room := a.cfg.MaxPending - h.pending(); h.cursor < last && room > 0 {
			items = append(items, scanItem{id: id, cursor: h.cursor, filter: h.filter,
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
// cursors in one transaction.
func runScan(deps WebhookDeps, items []scanItem, hint []Entry, last uint64,
	now time.Time) *webhookScanned {
	res := &webhookScanned{}
	for _, it := range items {
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
			res.items = append(res.items, persistence.WebhookEnqueue{ID: it.id,
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

// pump starts every due attempt the bounds allow, going round the webhooks from a new one
// each time, and sets the timer for the earliest attempt that remains.
func (a *webhookActor) pump() {
	if a.ctx.Err() != nil || len(a.order) == 0 {
		return
	}
	now := a.deps.Clock.Now()
	var earliest time.Time
	start := a.next % len(a.order)
	a.next++
	for i := range a.order {
		h := a.hooks[a.order[(start+i)%len(a.order)]]
		for h.queue.Len() > 0 && h.inflight < a.cfg.Concurrency &&
			a.inflight < a.cfg.MaxInflight && !h.queue[0].Next.After(now) {
			a.attempt(h, heap.Pop(&h.queue).(persistence.Delivery))
		}
		if h.queue.Len() > 0 && h.inflight < a.cfg.Concurrency &&
			(earliest.IsZero() || h.queue[0].Next.Before(earliest)) {
			earliest = h.queue[0].Next
		}
	}
	if a.inflight < a.cfg.MaxInflight && !earliest.IsZero() {
		a.arm(earliest, now)
	}
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
	a.inflight++
	job := attemptJob{id: h.hook.ID, poster: h.poster, d: d, cfg: a.cfg, deps: a.deps}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		a.root.Send(a.self, job.run(a.ctx))
	}()
}

// attemptJob is what one attempt needs; it shares nothing mutable with the actor.
type attemptJob struct {
	id     string
	poster *notify.Webhook
	d      persistence.Delivery
	cfg    WebhookConfig
	deps   WebhookDeps
}

// run reads the record, posts it, decides the outcome and stores it. An attempt cut by the
// actor's stop stores nothing: the delivery stays in the outbox as it was.
func (j attemptJob) run(ctx context.Context) *webhookAttempted {
	d := j.d
	res := &webhookAttempted{id: j.id, d: d}
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
		d.LastError = err.Error()
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
	res.entry, res.err = j.deps.Store.ResolveAttempt(j.id, d, entry, j.cfg.Keep)
	if res.err == nil {
		j.deps.Stats.countWebhookOutcome(webhookOutcome(outcome, err))
	}
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
		return nil, "the record is no longer stored (retention)", nil
	}
	body = alert.Frame(recs[0])
	if len(body) > MaxWebhookBody {
		return nil, "the record is over " + strconv.Itoa(MaxWebhookBody) + " bytes", nil
	}
	return body, "", nil
}

// attempted applies an attempt's outcome to the webhook's outbox in memory.
func (a *webhookActor) attempted(msg *webhookAttempted) {
	a.inflight--
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
	case errors.Is(msg.err, persistence.ErrNotFound):
	case msg.err != nil || msg.outcome == "":
		// Nothing was stored: try again later, from what the outbox holds.
		log.Error("webhook attempt not recorded", "err", msg.err)
		d.Next = a.deps.Clock.Now().Add(a.cfg.MinBackoff)
		heap.Push(&h.queue, d)
	case msg.outcome == persistence.OutcomeRetry:
		log.Debug("webhook attempt failed", "status", d.LastStatus, "err", d.LastError,
			"retry_at", d.Next)
		heap.Push(&h.queue, d)
	case msg.outcome == persistence.OutcomeDeadLetter:
		log.Warn("webhook delivery dead-lettered", "status", d.LastStatus,
			"err", d.LastError)
	default:
		log.Debug("webhook delivered")
	}
	if h.cursor < a.deps.Records.LastSeq() && h.pending() < a.cfg.MaxPending {
		a.scan()
	}
	a.pump()
}
