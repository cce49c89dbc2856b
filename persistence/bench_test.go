package persistence_test

import (
	"fmt"
	"strconv"
	"testing"

	"github.com/whalecast/whalecast/internal/alert"
	"github.com/whalecast/whalecast/persistence"
	"github.com/whalecast/whalecast/persistence/storetest"
)

// BenchmarkAppend measures Append of new alerts, one batch per iteration, on Badger (each
// Append is one fsynced commit) and on Memory for reference. ns/alert divides by the batch.
func BenchmarkAppend(b *testing.B) {
	stores := []struct {
		name string
		open func(b *testing.B) persistence.Store
	}{
		{"badger", func(b *testing.B) persistence.Store {
			return openBadger(b, persistence.BadgerOptions{})
		}},
		{"memory", func(*testing.B) persistence.Store { return persistence.NewMemory() }},
	}
	for _, st := range stores {
		for _, size := range []int{1, 50} {
			b.Run(fmt.Sprintf("%s/batch=%d", st.name, size), func(b *testing.B) {
				benchAppend(b, st.open(b), size)
			})
		}
	}
}

func benchAppend(b *testing.B, s persistence.Store, size int) {
	txids := make([]string, b.N*size)
	for i := range txids {
		txids[i] = "bench-" + strconv.Itoa(i)
	}
	batch := make([]alert.Alert, size)
	for i := range batch {
		batch[i] = storetest.Alert("")
	}
	records := alert.AlertRecords(batch) // points into batch, so it sees each new TxID

	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		for j := range batch {
			batch[j].TxID = txids[i*size+j]
		}
		got, err := s.Append(records)
		if err != nil || len(got) != size {
			b.Fatalf("Append: %d stored, %v", len(got), err)
		}
	}
	b.StopTimer()

	perAlert := float64(b.Elapsed().Nanoseconds()) / float64(b.N*size)
	b.ReportMetric(perAlert, "ns/alert")
	b.ReportMetric(1e9/perAlert, "alerts/s")
}
