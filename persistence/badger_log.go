package persistence

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
)

// badgerLogger implements badger.Logger on top of the injected slog logger, so Badger never
// writes to stderr on its own. Badger's INFO lines are routine (tables opened, compactions),
// so they go out at Debug next to its DEBUG lines.
type badgerLogger struct {
	log *slog.Logger
}

func (l badgerLogger) Errorf(format string, args ...any) {
	l.emit(slog.LevelError, format, args)
}

func (l badgerLogger) Warningf(format string, args ...any) {
	l.emit(slog.LevelWarn, format, args)
}

func (l badgerLogger) Infof(format string, args ...any) {
	l.emit(slog.LevelDebug, format, args)
}

func (l badgerLogger) Debugf(format string, args ...any) {
	l.emit(slog.LevelDebug, format, args)
}

// emit formats the line only when the level is enabled: Badger's debug output is chatty.
func (l badgerLogger) emit(level slog.Level, format string, args []any) {
	ctx := context.Background()
	if !l.log.Enabled(ctx, level) {
		return
	}
	text := strings.TrimSpace(fmt.Sprintf(format, args...))
	l.log.Log(ctx, level, "badger", slog.String("detail", text))
}
