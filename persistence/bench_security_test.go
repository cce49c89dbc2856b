package persistence_test

import (
	"fmt"
	"testing"

	"github.com/whalecast/whalecast/persistence"
	"github.com/whalecast/whalecast/persistence/storetest"
)

// BenchmarkAppendAudit measures AppendAudit, one batch per iteration, on Badger (each call
// is one fsynced commit, sharing the writer lock with alerts) and on Memory for reference.
// ns/event divides by the batch.
func BenchmarkAppendAudit(b *testing.B) {
	stores := []struct {
		name string
		open func(b *testing.B) persistence.SecurityStore
	}{
		{"badger", func(b *testing.B) persistence.SecurityStore {
			return openBadger(b, persistence.BadgerOptions{})
		}},
		{"memory", func(*testing.B) persistence.SecurityStore { return persistence.NewMemory() }},
	}
	for _, st := range stores {
		for _, size := range []int{1, 50} {
			b.Run(fmt.Sprintf("%s/batch=%d", st.name, size), func(b *testing.B) {
				benchAppendAudit(b, st.open(b), size)
			})
		}
	}
}

func benchAppendAudit(b *testing.B, s persistence.SecurityStore, size int) {
	batch := storetest.AuditEvents(0, size)

	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		got, err := s.AppendAudit(batch)
		if err != nil || len(got) != size {
			b.Fatalf("AppendAudit: %d stored, %v", len(got), err)
		}
	}
	b.StopTimer()

	perEvent := float64(b.Elapsed().Nanoseconds()) / float64(b.N*size)
	b.ReportMetric(perEvent, "ns/event")
	b.ReportMetric(1e9/perEvent, "events/s")
}
