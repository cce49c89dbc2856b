package persistence_test

import (
	"errors"
	"testing"

	"github.com/whalecast/whalecast/internal/alert"
	"github.com/whalecast/whalecast/persistence"
	"github.com/whalecast/whalecast/persistence/storetest"
)

func TestMemoryContract(t *testing.T) {
	storetest.RunContract(t, func(t *testing.T) persistence.Store {
		s := persistence.NewMemory()
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}

func TestMemoryFailWrites(t *testing.T) {
	cause := errors.New("disk on fire")
	s := persistence.NewMemory()
	mustAppend(t, s, storetest.Alerts("ok", 2))

	s.FailWrites(cause)
	if _, err := s.Append(nil); err != nil {
		t.Fatalf("empty Append with an armed failure = %v, want nil", err)
	}
	got, err := s.Append([]alert.Record{storetest.AlertRecord("lost", "state"),
		storetest.UpdateRecord("ok-0", "state")})
	if !errors.Is(err, persistence.ErrFailed) || !errors.Is(err, cause) {
		t.Fatalf("Append = %v, want ErrFailed wrapping the cause", err)
	}
	if len(got) != 0 {
		t.Errorf("failed Append returned %d alerts", len(got))
	}
	checkFailedClosed(t, s, 2, cause)
}

func TestMemoryFailWritesDisarm(t *testing.T) {
	s := persistence.NewMemory()
	s.FailWrites(errors.New("never seen"))
	s.FailWrites(nil)

	got := mustAppend(t, s, storetest.Alerts("ok", 2))
	if len(got) != 2 || s.Health() != nil {
		t.Errorf("after disarming: %d alerts stored, Health %v; want 2, nil", len(got), s.Health())
	}
}

// checkFailedClosed checks that a failed store keeps its numbering, reports the cause and
// refuses every later write and read. A nil cause skips the check of the cause.
func checkFailedClosed(t *testing.T, s persistence.Store, wantLast uint64, cause error) {
	t.Helper()
	isCause := func(err error) bool { return cause == nil || errors.Is(err, cause) }

	if got := s.LastSeq(); got != wantLast {
		t.Errorf("LastSeq() = %d after the failure, want %d", got, wantLast)
	}
	if got := s.Count(); got != wantLast {
		t.Errorf("Count() = %d after the failure, want %d", got, wantLast)
	}
	if err := s.Health(); !errors.Is(err, persistence.ErrFailed) || !isCause(err) {
		t.Errorf("Health() = %v, want ErrFailed wrapping the cause", err)
	}
	for i := range 3 {
		_, err := s.Append(alert.AlertRecords(storetest.Alerts("later", 1)))
		if !errors.Is(err, persistence.ErrFailed) || !isCause(err) {
			t.Errorf("later Append %d = %v, want ErrFailed wrapping the cause", i, err)
		}
	}
	if _, err := s.Append(nil); !errors.Is(err, persistence.ErrFailed) {
		t.Errorf("later empty Append = %v, want ErrFailed", err)
	}
	if _, err := s.Range(0, 10); !errors.Is(err, persistence.ErrFailed) {
		t.Errorf("Range after the failure = %v, want ErrFailed", err)
	}
	calls := 0
	err := s.States(func(string, []byte) error { calls++; return nil })
	if !errors.Is(err, persistence.ErrFailed) || calls != 0 {
		t.Errorf("States after the failure = %v after %d calls, want ErrFailed and none",
			err, calls)
	}
}
