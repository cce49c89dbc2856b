package persistence_test

import (
	"errors"
	"testing"
	"time"

	"github.com/whalecast/whalecast/internal/alert"
	"github.com/whalecast/whalecast/persistence"
	"github.com/whalecast/whalecast/persistence/storetest"
)

func TestMemorySecurityContract(t *testing.T) {
	storetest.RunSecurityContract(t, func(t *testing.T) storetest.SharedStore {
		s := persistence.NewMemory()
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}

// TestMemorySecurityFailWrites arms a failure and makes each kind of write hit it: the
// write fails, and the whole store, alerts included, fails closed.
func TestMemorySecurityFailWrites(t *testing.T) {
	cause := errors.New("disk on fire")
	for _, w := range securityWrites() {
		t.Run(w.name, func(t *testing.T) {
			s := persistence.NewMemory()
			mustAppend(t, s, storetest.Alerts("ok", 2))
			w.prepare(t, s)

			s.FailWrites(cause)
			if err := w.write(s); !errors.Is(err, persistence.ErrFailed) ||
				!errors.Is(err, cause) {
				t.Fatalf("%s = %v, want ErrFailed wrapping the cause", w.name, err)
			}
			checkFailedClosed(t, s, 2, cause)
			checkSecurityFailed(t, s)
		})
	}
}

// TestMemoryAlertFailureFailsSecurity fails an alert write and checks that every security
// record is refused after it.
func TestMemoryAlertFailureFailsSecurity(t *testing.T) {
	s := persistence.NewMemory()
	s.FailWrites(errors.New("disk on fire"))
	_, err := s.Append(alert.AlertRecords(storetest.Alerts("lost", 1)))
	if !errors.Is(err, persistence.ErrFailed) {
		t.Fatalf("Append = %v, want ErrFailed", err)
	}
	checkSecurityFailed(t, s)
}

// securityWrite is one kind of SecurityStore write, with what it needs stored first.
type securityWrite struct {
	name    string
	prepare func(t testing.TB, s persistence.SecurityStore)
	write   func(s persistence.SecurityStore) error
}

// securityWrites returns one write of each kind that reaches storage.
func securityWrites() []securityWrite {
	key, id := persistence.NewAPIKey()
	nothing := func(testing.TB, persistence.SecurityStore) {}
	return []securityWrite{
		{"AppendAudit", nothing, func(s persistence.SecurityStore) error {
			_, err := s.AppendAudit(storetest.AuditEvents(0, 3))
			return err
		}},
		{"PutRevocation", nothing, func(s persistence.SecurityStore) error {
			now := time.Now()
			return s.PutRevocation(persistence.Revocation{Kind: persistence.RevokeClient,
				Value: "desk-7", At: now, Until: now.Add(time.Hour)})
		}},
		{"PutAPIKey", nothing, func(s persistence.SecurityStore) error {
			return s.PutAPIKey(storetest.APIKey(id, time.Now()), key.Hash())
		}},
		{"RevokeAPIKey", func(t testing.TB, s persistence.SecurityStore) {
			storetest.MustPutAPIKey(t, s, storetest.APIKey(id, time.Now()), key.Hash())
		}, func(s persistence.SecurityStore) error { return s.RevokeAPIKey(id) }},
	}
}

// checkSecurityFailed checks that every security read and write of a failed store returns
// an error wrapping ErrFailed.
func checkSecurityFailed(t *testing.T, s persistence.SecurityStore) {
	t.Helper()
	key, id := persistence.NewAPIKey()
	calls := map[string]func() error{
		"AppendAudit": func() error {
			_, err := s.AppendAudit(storetest.AuditEvents(9, 1))
			return err
		},
		"AppendAudit()": func() error { _, err := s.AppendAudit(nil); return err },
		"RangeAudit":    func() error { _, err := s.RangeAudit(0, 10); return err },
		"Revocations":   func() error { _, err := s.Revocations(); return err },
		"APIKeyByHash":  func() error { _, err := s.APIKeyByHash(key.Hash()); return err },
		"APIKeys":       func() error { _, err := s.APIKeys(); return err },
		"RevokeAPIKey":  func() error { return s.RevokeAPIKey(id) },
		"PutAPIKey": func() error {
			return s.PutAPIKey(storetest.APIKey(id, time.Now()), key.Hash())
		},
		"PutRevocation": func() error {
			now := time.Now()
			return s.PutRevocation(persistence.Revocation{Kind: persistence.RevokeJTI,
				Value: "j", At: now, Until: now.Add(time.Hour)})
		},
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, persistence.ErrFailed) {
			t.Errorf("%s on a failed store = %v, want ErrFailed", name, err)
		}
	}
}
