package system

// Hooks are the engine's test hooks (see testHooks), for the tests of package system_test.
type Hooks = testHooks

// SetHooks sets the engine's test hooks; call it between Open and Start.
func (e *Engine) SetHooks(h Hooks) { e.hooks = h }
