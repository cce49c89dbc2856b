package system

import (
	"log/slog"

	"github.com/whalecast/whalecast/internal/clock"
)

// Hooks are the engine's test hooks (see testHooks), for the tests of package system_test.
type Hooks = testHooks

// SetHooks sets the engine's test hooks; call it between Open and Start. Hooks that act
// on the store as it opens (MemTableSize) need OpenHooked.
func (e *Engine) SetHooks(h Hooks) { e.hooks = h }

// OpenHooked is Open with the test hooks h set before anything opens.
func OpenHooked(cfg Config, log *slog.Logger, clk clock.Clock, h Hooks) (*Engine, error) {
	return open(cfg, log, clk, h)
}
