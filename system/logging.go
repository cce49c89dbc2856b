package system

import (
	"context"
	"io"
	"log/slog"

	"github.com/asynkron/protoactor-go/actor"
)

// NewLogger returns the engine's JSON logger at level.
func NewLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}))
}

// actorLogFloor is the lowest level of protoactor's own lines that reach the engine's log:
// below it are dead letters (which print whole messages) and routine supervision chatter.
const actorLogFloor = slog.LevelWarn

// floorHandler drops records below a level, whatever the wrapped handler accepts.
type floorHandler struct {
	slog.Handler
	floor slog.Level
}

// Enabled implements slog.Handler: nothing below the floor passes.
func (h floorHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.floor && h.Handler.Enabled(ctx, l)
}

// WithAttrs implements slog.Handler, keeping the floor.
func (h floorHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return floorHandler{Handler: h.Handler.WithAttrs(attrs), floor: h.floor}
}

// WithGroup implements slog.Handler, keeping the floor.
func (h floorHandler) WithGroup(name string) slog.Handler {
	return floorHandler{Handler: h.Handler.WithGroup(name), floor: h.floor}
}

// actorSystemConfig routes protoactor's logger through log at warn and above, turns off
// dead-letter request logging, and leaves metrics off (its Prometheus option would open a
// server on every interface).
func actorSystemConfig(log *slog.Logger) *actor.Config {
	quiet := slog.New(floorHandler{Handler: log.Handler(), floor: actorLogFloor}).
		With("component", "protoactor")
	return actor.Configure(
		actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return quiet }),
		actor.WithDeadLetterRequestLogging(false),
	)
}
