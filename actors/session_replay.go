package actors

import (
	"log/slog"
	"strconv"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/whalecast/whalecast/internal/alert"
	"github.com/whalecast/whalecast/internal/auth"
)

// AlertReader reads stored alerts; persistence.Store implements it. It is called from
// session actors concurrently with the store actor's writes.
type AlertReader interface {
	Range(after uint64, limit int) ([]alert.Stored, error)
	// LastSeq is the seq of the latest stored record, 0 when none.
	LastSeq() uint64
}

// replay is a resume in progress: stored alerts in (cursor, upto] go out page by page, while
// live alerts (all above upto) wait in the session's outlet until the replay is done.
type replay struct {
	cursor  uint64
	upto    uint64
	waiting bool
}

type replayContinue struct{}

// replayRetry is how long a replay waits for the client to drain its queue before it reads
// the next page.
const replayRetry = 5 * time.Millisecond

// startReplay replays up to upto, the broadcaster's latest seq when the session subscribed.
// A since above it may still be a stored seq the broadcaster has not handed out yet (a
// client that read it through REST): the client then gets the live alerts above since. A
// since above every stored seq (a client that talked to another engine, or a store that was
// wiped) is answered bad_request, and the session goes live without a replay.
func (s *session) startReplay(ctx actor.Context, upto uint64) {
	if since := s.replay.cursor; since > upto {
		s.replay = nil
		if last := s.deps.Alerts.LastSeq(); since > last {
			if !s.send(ctx, errorFrame(ErrCodeBadRequest, "since is ahead of the latest seq "+
				strconv.FormatUint(last, 10))) {
				return
			}
		} else {
			s.out.sent(since)
		}
		s.goLive(ctx)
		return
	}
	s.replay.upto = upto
	s.continueReplay(ctx)
}

// continueReplay sends the next page, or finishes the replay. Pages are read only while the
// outbound queue is below its high-water mark, so a slow reader never makes the session hold
// more than one page.
func (s *session) continueReplay(ctx actor.Context) {
	r := s.replay
	if r == nil || s.state != stateAuthenticated || !s.claims.Has(auth.PermRead) {
		return
	}
	r.waiting = false
	if s.peer.Queued() > s.cfg.ReplayHighWater {
		r.waiting = true
		self, root := ctx.Self(), ctx.ActorSystem().Root
		s.deps.Clock.AfterFunc(replayRetry, func() { root.Send(self, &replayContinue{}) })
		return
	}

	page, err := s.readPage(r)
	if err != nil {
		s.log(slog.LevelError, "session replay failed", "err", err, "after", r.cursor)
		s.closeWith(ctx, CloseInternalError, "replay failed")
		return
	}
	for _, st := range page {
		if st.Seq > r.upto {
			// Expired alerts leave a gap, so a page may reach past upto; those come live.
			r.cursor = r.upto
			break
		}
		r.cursor = st.Seq
		if s.out.filter.Wants(MetaOf(st)) && !s.send(ctx, alert.Frame(st)) {
			return
		}
	}
	if len(page) == 0 || r.cursor >= r.upto {
		s.finishReplay(ctx)
		return
	}
	ctx.Send(ctx.Self(), &replayContinue{})
}

func (s *session) readPage(r *replay) ([]alert.Stored, error) {
	if r.cursor >= r.upto {
		return nil, nil
	}
	limit := s.cfg.ReplayPage
	if left := r.upto - r.cursor; left < uint64(limit) {
		limit = int(left)
	}
	return s.deps.Alerts.Range(r.cursor, limit)
}

// finishReplay ends the replay: the live alerts held meanwhile follow.
func (s *session) finishReplay(ctx actor.Context) {
	s.replay = nil
	s.goLive(ctx)
}

// goLive sends the live alerts held since the session subscribed, then lets the broadcaster
// hand the next ones straight to the connection.
func (s *session) goLive(ctx actor.Context) {
	if !s.out.release() {
		s.onDeliveryRefused(ctx)
	}
}
