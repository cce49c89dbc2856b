package auth

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/whalecast/whalecast/internal/clock"
)

// watchDeadline bounds every wait of the Watch test; the waits normally end at once.
const watchDeadline = 10 * time.Second

// waitPending waits until clk has exactly one timer scheduled: Watch is waiting for its next
// tick.
func waitPending(tb testing.TB, clk *clock.Fake) {
	tb.Helper()
	deadline := time.Now().Add(watchDeadline)
	for clk.Pending() != 1 {
		if time.Now().After(deadline) {
			tb.Fatalf("Watch scheduled no tick within %v", watchDeadline)
		}
		time.Sleep(time.Millisecond)
	}
}

// watchReport is one call of Watch's report function.
type watchReport struct {
	changed bool
	err     error
}

func TestRingWatch(t *testing.T) {
	dir := t.TempDir()
	engine := loadRing(t, dir)
	cli := loadRing(t, dir)
	clk := clock.NewFake(testStart)
	reports := make(chan watchReport, 16)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		engine.Watch(ctx, clk, time.Second, func(changed bool, err error) {
			reports <- watchReport{changed, err}
		})
	}()

	// tick advances the fake clock by one interval once Watch waits for it, and returns
	// what Watch reported, or nothing after a short grace.
	tick := func(t *testing.T) []watchReport {
		t.Helper()
		waitPending(t, clk)
		clk.Advance(time.Second)
		waitPending(t, clk) // the reload is over once the next tick is scheduled
		var got []watchReport
		for {
			select {
			case r := <-reports:
				got = append(got, r)
			default:
				return got
			}
		}
	}

	steps := []struct {
		name        string
		edit        func(t *testing.T)
		wantChanged int
		wantErrs    int
	}{
		{"nothing changed", func(*testing.T) {}, 0, 0},
		{"rotated by the CLI", func(t *testing.T) {
			if _, err := cli.Rotate(); err != nil {
				t.Fatalf("Rotate: %v", err)
			}
		}, 1, 0},
		{"file made world readable", func(t *testing.T) {
			if err := os.Chmod(cli.Path(), 0o644); err != nil {
				t.Fatalf("Chmod: %v", err)
			}
			later := time.Now().Add(time.Hour)
			if err := os.Chtimes(cli.Path(), later, later); err != nil {
				t.Fatalf("Chtimes: %v", err)
			}
		}, 0, 1},
		{"same failure again is not reported", func(*testing.T) {}, 0, 0},
		{"file fixed", func(t *testing.T) {
			if err := os.Chmod(cli.Path(), 0o600); err != nil {
				t.Fatalf("Chmod: %v", err)
			}
		}, 1, 0},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			s.edit(t)
			changed, errs := 0, 0
			for _, r := range tick(t) {
				switch {
				case r.err != nil:
					errs++
					if !errors.Is(r.err, ErrSecretPerms) {
						t.Errorf("reported error %v, want ErrSecretPerms", r.err)
					}
				case r.changed:
					changed++
				}
			}
			if changed != s.wantChanged || errs != s.wantErrs {
				t.Errorf("reports: %d changes, %d errors, want %d, %d", changed, errs,
					s.wantChanged, s.wantErrs)
			}
		})
	}
	if signingKID(t, engine) != signingKID(t, cli) {
		t.Errorf("engine signs with %s, CLI with %s", signingKID(t, engine),
			signingKID(t, cli))
	}

	cancel()
	select {
	case <-done:
	case <-time.After(watchDeadline):
		t.Fatalf("Watch still running %v after cancel", watchDeadline)
	}
	if n := clk.Pending(); n != 0 {
		t.Errorf("%d timers left after Watch returned, want 0", n)
	}
}
