package actors

import (
	"errors"
	"io"
	"log/slog"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/whalecast/whalecast/internal/clock"
)

// Feed yields transactions in order. The source actor is the only caller of Next, Rewind
// and Close.
type Feed interface {
	// Next returns the next transaction, io.EOF at the end, or ErrNoTx when a live feed has
	// none yet (it must then return within a few milliseconds). Other errors (a corrupt
	// file) are reported and the feed goes on with what follows, if anything.
	Next() (FeedTx, error)
	// Rewind starts the feed again from its beginning, for --loop.
	Rewind() error
	// Close releases what the feed holds (files, sockets, its reader goroutine); Next then
	// returns io.EOF.
	Close() error
}

// ErrNoTx is returned by the Next of a live feed when no transaction arrived yet; the source
// sends nothing and asks again on a later tick.
var ErrNoTx = errors.New("actors: no transaction yet")

// FeedTx is one item from a feed: a transaction (its raw bytes, its decoded form, or both) or,
// when Event is set, a chain or mempool event.
type FeedTx struct {
	Raw []byte
	Msg *wire.MsgTx
	// Fee is the node's fee for the transaction; nil when the feed does not know it.
	Fee *Fee
	// Event is a block connection or disconnection, a mempool removal or snapshot.
	Event *ChainEvent
}

// SourceConfig sets the pace of a source.
type SourceConfig struct {
	// Rate is transactions per second; 0 feeds as fast as the detector acknowledges.
	Rate float64
	// Loop rewinds the feed at its end instead of stopping.
	Loop bool
	// Window bounds the transactions sent but not yet acknowledged (default 1024).
	Window int
}

// tickEvery is the pacing interval of a rated source; each tick sends what the rate allows.
const tickEvery = 10 * time.Millisecond

// source paces a feed into the detector.
type source struct {
	cfg      SourceConfig
	detector *actor.PID
	clock    clock.Clock
	stats    *Stats
	log      *slog.Logger
	*feedState
}

// feedState outlives a restart, so a restarted source goes on where it stopped.
type feedState struct {
	feed     Feed
	sent     uint64
	acked    uint64
	gen      uint64
	lastTick time.Time
	credit   float64
	done     bool
	idle     bool   // the live feed had nothing during this pump
	passTxs  uint64 // transactions sent in this pass over a looping feed
}

type sourceTick struct{ gen uint64 }

// NewSourceProps returns the source's props; it owns feed and closes it when it stops.
func NewSourceProps(feed Feed, cfg SourceConfig, detector *actor.PID, clk clock.Clock,
	stats *Stats, log *slog.Logger) *actor.Props {
	if cfg.Window <= 0 {
		cfg.Window = 1024
	}
	state := &feedState{feed: feed}
	return actor.PropsFromProducer(func() actor.Actor {
		return &source{cfg: cfg, detector: detector, clock: clk, stats: stats, log: log,
			feedState: state}
	})
}

// Receive implements actor.Actor.
func (s *source) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		s.lastTick = s.clock.Now()
		s.pump(ctx)
	case *sourceTick:
		if msg.gen == s.gen {
			s.pump(ctx)
		}
	case *Processed:
		s.acked = min(s.acked+msg.N, s.sent)
		if s.cfg.Rate <= 0 {
			s.pump(ctx)
		}
	case *actor.Restarting:
		s.log.Warn("source restarting", "sent", s.sent)
	case *actor.Stopped:
		if err := s.feed.Close(); err != nil {
			s.log.Warn("source close failed", "err", err)
		}
	}
}

// pump sends what the rate and the in-flight window allow, then schedules the next tick.
func (s *source) pump(ctx actor.Context) {
	if s.done {
		return
	}
	n := s.cfg.Window - int(s.sent-s.acked)
	if s.cfg.Rate > 0 {
		now := s.clock.Now()
		s.credit = min(s.credit+now.Sub(s.lastTick).Seconds()*s.cfg.Rate, s.cfg.Rate+1)
		s.lastTick = now
		n = min(n, int(s.credit))
	}
	s.idle = false
	for i := 0; i < n && !s.done && !s.idle; i++ {
		if s.sendNext(ctx) && s.cfg.Rate > 0 {
			s.credit--
		}
	}
	if s.cfg.Rate <= 0 && !s.done && s.idle {
		// A live feed is empty: look again after a tick, not at once, whatever is in flight.
		s.scheduleTick(ctx)
	} else if s.cfg.Rate <= 0 && !s.done && s.sent == s.acked {
		// Nothing in flight will be acknowledged (every read failed): go on by ourselves.
		ctx.Send(ctx.Self(), &sourceTick{gen: s.gen})
	}
	if s.cfg.Rate > 0 && !s.done {
		s.scheduleTick(ctx)
	}
}

// scheduleTick sends a tick after tickEvery; it supersedes the ticks scheduled before.
func (s *source) scheduleTick(ctx actor.Context) {
	s.gen++
	gen, self, root := s.gen, ctx.Self(), ctx.ActorSystem().Root
	s.clock.AfterFunc(tickEvery, func() { root.Send(self, &sourceTick{gen: gen}) })
}

// sendNext sends one transaction; it reports false when none was sent.
func (s *source) sendNext(ctx actor.Context) bool {
	ftx, err := s.feed.Next()
	switch {
	case errors.Is(err, ErrNoTx):
		s.idle = true
		return false
	case errors.Is(err, io.EOF) && s.cfg.Loop && s.passTxs == 0:
		s.stop(errors.New("the replay yields no transaction: not looping over it"))
		return false
	case errors.Is(err, io.EOF) && s.cfg.Loop:
		s.passTxs = 0
		if err := s.feed.Rewind(); err != nil {
			s.stop(err)
		}
		return false
	case errors.Is(err, io.EOF):
		s.done = true
		s.log.Info("source finished", "items", s.sent)
		return false
	case err != nil:
		s.stats.SourceErrors.Add(1)
		s.log.Error("source read failed", "err", err)
		return false
	}
	s.sent++
	if ftx.Event != nil {
		ev := *ftx.Event
		ev.AckTo = ctx.Self()
		ctx.Send(s.detector, &ev)
		return true
	}
	s.passTxs++
	ctx.Send(s.detector, &Tx{Ordinal: s.sent, Raw: ftx.Raw, Msg: ftx.Msg, Fee: ftx.Fee,
		SeenAt: s.clock.Now(), ReplyTo: ctx.Self()})
	return true
}

func (s *source) stop(err error) {
	s.done = true
	s.stats.SourceErrors.Add(1)
	s.log.Error("source stopped", "err", err)
}
