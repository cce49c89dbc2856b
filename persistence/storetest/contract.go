// Package storetest holds the contract suite that every persistence.Store implementation
// must pass, and alert and update builders for tests of the packages that use a store.
//
// Run the suite from a test of the implementation:
//
//	func TestMemoryContract(t *testing.T) {
//		storetest.RunContract(t, func(t *testing.T) persistence.Store {
//			s := persistence.NewMemory()
//			t.Cleanup(func() { _ = s.Close() })
//			return s
//		})
//	}
//
// open must return an empty store and close it when the test ends; the suite calls it once
// per case. Nothing here is safe to call from more goroutines than the test's own.
package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/whalecast/whalecast/internal/alert"
	"github.com/whalecast/whalecast/persistence"
)

// seenAt is the FirstSeen of every alert built here, so encodings are reproducible.
var seenAt = time.Date(2024, 4, 20, 0, 9, 27, 0, time.UTC)

// Alert returns a realistic large-value alert for txid.
func Alert(txid string) alert.Alert {
	return alert.Alert{
		TxID:             txid,
		ValueSat:         1_250 * alert.SatPerBTC,
		Outputs:          2,
		LargestOutputSat: 1_200 * alert.SatPerBTC,
		VSize:            225,
		FirstSeen:        seenAt,
		Detector:         "large_value",
	}
}

// TestAlert returns a synthetic test alert for txid.
func TestAlert(txid string) alert.Alert {
	a := Alert(txid)
	a.Detector, a.Test = "test", true
	return a
}

// Alerts returns n alerts with txids prefix-0 .. prefix-(n-1).
func Alerts(prefix string, n int) []alert.Alert {
	out := make([]alert.Alert, n)
	for i := range out {
		out[i] = Alert(fmt.Sprintf("%s-%d", prefix, i))
	}
	return out
}

// RunContract runs the Store contract against the stores that open returns.
func RunContract(t *testing.T, open func(t *testing.T) persistence.Store) {
	t.Helper()

	cases := []struct {
		name string
		run  func(t *testing.T, s persistence.Store)
	}{
		{"Empty", testEmpty},
		{"DenseAcrossBatches", testDense},
		{"DedupeByTxID", func(t *testing.T, _ persistence.Store) { testDedupe(t, open) }},
		{"TestAlertsNeverDeduped", testTestAlerts},
		{"DataIsEncodeData", testData},
		{"RangePaging", testRangePaging},
		{"RangeWalk", testRangeWalk},
		{"ReturnedDataBelongsToCaller", testOwnership},
		{"InvalidBatch", func(t *testing.T, _ persistence.Store) { testInvalid(t, open) }},
		{"ConcurrentReaders", testConcurrentReaders},
		{"Close", testClose},
		{"MixedKindsDense", testMixedDense},
		{"UpdateAlertSeq", func(t *testing.T, _ persistence.Store) { testAlertSeq(t, open) }},
		{"UpdateData", testUpdateData},
		{"RangeKinds", testRangeKinds},
		{"TrackerStates", func(t *testing.T, _ persistence.Store) { testStates(t, open) }},
		{"StatesManyPages", testStatesMany},
		{"StatesAtTheBounds", testStateBounds},
		{"StatesBelongToCaller", testStateOwnership},
		{"StatesStopsOnError", testStatesStop},
		{"StatesCallbackMayWrite", testStatesReentrant},
		{"AlertSeqLooksUpTheIndex", testAlertSeqLookup},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.run(t, open(t)) })
	}
}

func testEmpty(t *testing.T, s persistence.Store) {
	checkSeqs(t, s, 0, 0)
	if err := s.Health(); err != nil {
		t.Errorf("Health() = %v, want nil", err)
	}
	got, err := s.Range(0, 10)
	if err != nil || len(got) != 0 {
		t.Errorf("Range(0, 10) = %d alerts, %v; want 0, nil", len(got), err)
	}
	got, err = s.Append(nil)
	if err != nil || len(got) != 0 {
		t.Errorf("Append(nil) = %d alerts, %v; want 0, nil", len(got), err)
	}
	checkSeqs(t, s, 0, 0)
	checkStates(t, s, "")
}

func testDense(t *testing.T, s persistence.Store) {
	var want uint64
	for i, n := range []int{1, 3, 0, 5, 2} {
		got := mustAppend(t, s, Alerts(fmt.Sprintf("dense%d", i), n))
		if len(got) != n {
			t.Fatalf("batch %d: stored %d alerts, want %d", i, len(got), n)
		}
		for _, st := range got {
			want++
			if st.Seq != want {
				t.Fatalf("batch %d: seq %d, want %d", i, st.Seq, want)
			}
		}
		checkSeqs(t, s, want, want)
	}
}

func testDedupe(t *testing.T, open func(t *testing.T) persistence.Store) {
	cases := []struct {
		name    string
		batches [][]string
		want    [][]string // txids stored by each batch
	}{
		{
			name:    "across batches",
			batches: [][]string{{"a", "b"}, {"b", "c"}},
			want:    [][]string{{"a", "b"}, {"c"}},
		},
		{
			name:    "within one batch",
			batches: [][]string{{"a", "a", "b", "a"}},
			want:    [][]string{{"a", "b"}},
		},
		{
			name:    "whole batch duplicate",
			batches: [][]string{{"a", "b"}, {"b", "a"}, {"c"}},
			want:    [][]string{{"a", "b"}, {}, {"c"}},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := open(t)
			var seq uint64
			for i, txids := range c.batches {
				batch := make([]alert.Alert, len(txids))
				for j, id := range txids {
					batch[j] = Alert(id)
				}
				got := mustAppend(t, s, batch)
				if g, w := txidsOf(t, got), strings.Join(c.want[i], ","); g != w {
					t.Fatalf("batch %d stored %q, want %q", i, g, w)
				}
				for _, st := range got {
					seq++
					if st.Seq != seq {
						t.Fatalf("batch %d: seq %d, want %d", i, st.Seq, seq)
					}
				}
				checkSeqs(t, s, seq, seq)
			}
		})
	}
}

func testTestAlerts(t *testing.T, s persistence.Store) {
	batches := [][]alert.Alert{
		{TestAlert("x"), TestAlert("x")},
		{TestAlert("x")},
		{Alert("x"), TestAlert("x")},
		{TestAlert("y"), Alert("y"), TestAlert("")},
	}
	var seq uint64
	for i, b := range batches {
		got := mustAppend(t, s, b)
		if len(got) != len(b) {
			t.Fatalf("batch %d stored %d alerts, want %d", i, len(got), len(b))
		}
		seq += uint64(len(b))
	}
	checkSeqs(t, s, seq, seq)

	got := mustAppend(t, s, []alert.Alert{Alert("x"), Alert("y")})
	if len(got) != 0 {
		t.Errorf("real alerts x and y stored again: %d alerts, want 0", len(got))
	}
}

func testData(t *testing.T, s persistence.Store) {
	batch := []alert.Alert{Alert("d1"), TestAlert("d2"), Alert("d3")}
	batch[2].RBF, batch[2].ValueSat = true, 123_456_789
	batch[2].FirstSeen = time.Date(2025, 1, 2, 3, 4, 5, 6, time.FixedZone("x", 3600))

	stored := mustAppend(t, s, batch)
	ranged := mustRange(t, s, 0, 10)
	if len(stored) != 3 || len(ranged) != 3 {
		t.Fatalf("stored %d, ranged %d; want 3 and 3", len(stored), len(ranged))
	}
	for i, a := range batch {
		want, err := alert.EncodeData(a)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(stored[i].Data, want) {
			t.Errorf("Append data %d = %s, want %s", i, stored[i].Data, want)
		}
		if !bytes.Equal(ranged[i].Data, want) {
			t.Errorf("Range data %d = %s, want %s", i, ranged[i].Data, want)
		}
	}
}

func testRangePaging(t *testing.T, s persistence.Store) {
	mustAppend(t, s, Alerts("page", 6))
	mustAppend(t, s, Alerts("page2", 4))

	cases := []struct {
		name         string
		after        uint64
		limit        int
		first, count uint64
	}{
		{"from start", 0, 3, 1, 3},
		{"middle", 4, 3, 5, 3},
		{"across batches", 5, 2, 6, 2},
		{"tail shorter than limit", 8, 5, 9, 2},
		{"whole store", 0, 1 << 30, 1, 10},
		{"at end", 10, 5, 0, 0},
		{"past end", 15, 5, 0, 0},
		{"zero limit", 0, 0, 0, 0},
		{"negative limit", 0, -1, 0, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := mustRange(t, s, c.after, c.limit)
			if uint64(len(got)) != c.count {
				t.Fatalf("Range(%d, %d) = %d alerts, want %d",
					c.after, c.limit, len(got), c.count)
			}
			for i, st := range got {
				if want := c.first + uint64(i); st.Seq != want {
					t.Errorf("alert %d: seq %d, want %d", i, st.Seq, want)
				}
			}
		})
	}
}

func testRangeWalk(t *testing.T, s persistence.Store) {
	mustAppend(t, s, Alerts("walk", 17))

	for _, limit := range []int{1, 3, 17, 100} {
		var seqs []uint64
		for after := uint64(0); ; {
			page := mustRange(t, s, after, limit)
			if len(page) == 0 {
				break
			}
			if len(page) > limit {
				t.Fatalf("limit %d: page of %d", limit, len(page))
			}
			for _, st := range page {
				seqs = append(seqs, st.Seq)
			}
			after = page[len(page)-1].Seq
		}
		if len(seqs) != 17 {
			t.Fatalf("limit %d: walked %d alerts, want 17", limit, len(seqs))
		}
		for i, seq := range seqs {
			if seq != uint64(i+1) {
				t.Fatalf("limit %d: alert %d has seq %d, want %d", limit, i, seq, i+1)
			}
		}
	}
}

func testOwnership(t *testing.T, s persistence.Store) {
	stored := mustAppend(t, s, []alert.Alert{Alert("own")})
	want, _ := alert.EncodeData(Alert("own"))

	clear(stored[0].Data)
	page := mustRange(t, s, 0, 1)
	clear(page[0].Data)

	got := mustRange(t, s, 0, 1)
	if !bytes.Equal(got[0].Data, want) {
		t.Errorf("after the caller cleared returned data, Range = %q, want %s", got[0].Data, want)
	}
}

func testInvalid(t *testing.T, open func(t *testing.T) persistence.Store) {
	longTxID := strings.Repeat("f", persistence.MaxTxIDLen+1)
	unencodable := Alert("far-future")
	unencodable.FirstSeen = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)

	cases := []batchCase{
		{"empty txid", alert.AlertRecords([]alert.Alert{Alert("ok"), Alert("")})},
		{"txid too long", alert.AlertRecords([]alert.Alert{Alert(longTxID)})},
		// With the valid first record below, one record too many.
		{"too many records", alert.AlertRecords(Alerts("big", persistence.MaxBatch))},
		{"unencodable", alert.AlertRecords([]alert.Alert{unencodable})},
	}
	cases = append(cases, invalidRecordCases()...)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := open(t)
			mustAppendRecords(t, s, []alert.Record{AlertRecord("before", "kept")})

			// A valid first record that would change the state shows that nothing of
			// the batch is written.
			batch := append([]alert.Record{UpdateRecord("before", "changed")}, c.batch...)
			got, err := s.Append(batch)
			invalid := errors.Is(err, persistence.ErrInvalidBatch)
			if !invalid || errors.Is(err, persistence.ErrFailed) {
				t.Fatalf("Append = %v, want ErrInvalidBatch and not ErrFailed", err)
			}
			if len(got) != 0 {
				t.Errorf("Append returned %d alerts with its error", len(got))
			}
			if err := s.Health(); err != nil {
				t.Errorf("Health() = %v after an invalid batch, want nil", err)
			}
			checkSeqs(t, s, 1, 1)
			checkStates(t, s, "before=kept")

			after := mustAppend(t, s, []alert.Alert{Alert("ok"), Alert("after")})
			if len(after) != 2 || after[0].Seq != 2 {
				t.Errorf("next batch: %d alerts from seq %v, want 2 from 2", len(after), after)
			}
		})
	}
}

func testConcurrentReaders(t *testing.T, s persistence.Store) {
	const batches, perBatch, readers = 60, 3, 4
	done := make(chan struct{})
	errs := make(chan error, readers)
	var wg sync.WaitGroup

	for r := range readers {
		wg.Go(func() { errs <- readUntil(s, done, r+1) })
	}
	for i := range batches {
		mustAppend(t, s, Alerts(fmt.Sprintf("conc%d", i), perBatch))
	}
	close(done)
	wg.Wait()
	close(errs)

	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	checkSeqs(t, s, batches*perBatch, batches*perBatch)
}

// readUntil pages through the store while it grows, checking that LastSeq never goes back
// and every page is dense from after+1.
func readUntil(s persistence.Store, done <-chan struct{}, limit int) error {
	var after, prevLast uint64
	for {
		select {
		case <-done:
			return nil
		default:
		}

		last := s.LastSeq()
		if last < prevLast {
			return fmt.Errorf("LastSeq went back from %d to %d", prevLast, last)
		}
		if c := s.Count(); c > s.LastSeq() {
			return fmt.Errorf("Count %d above LastSeq", c)
		}
		prevLast = last

		page, err := s.Range(after, limit)
		if err != nil {
			return fmt.Errorf("Range(%d, %d): %w", after, limit, err)
		}
		for i, st := range page {
			if want := after + uint64(i) + 1; st.Seq != want {
				return fmt.Errorf("Range(%d, %d)[%d].Seq = %d, want %d",
					after, limit, i, st.Seq, want)
			}
		}
		if len(page) > 0 {
			after = page[len(page)-1].Seq
		}
	}
}

func testClose(t *testing.T, s persistence.Store) {
	mustAppend(t, s, Alerts("close", 2))
	if err := s.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close() = %v, want nil", err)
	}

	late := alert.AlertRecords(Alerts("late", 1))
	if _, err := s.Append(late); !errors.Is(err, persistence.ErrClosed) {
		t.Errorf("Append after Close = %v, want ErrClosed", err)
	}
	if _, err := s.Range(0, 10); !errors.Is(err, persistence.ErrClosed) {
		t.Errorf("Range after Close = %v, want ErrClosed", err)
	}
	calls := 0
	err := s.States(func(string, []byte) error { calls++; return nil })
	if !errors.Is(err, persistence.ErrClosed) || calls != 0 {
		t.Errorf("States after Close = %v after %d calls, want ErrClosed and none", err, calls)
	}
	if err := s.Health(); !errors.Is(err, persistence.ErrClosed) {
		t.Errorf("Health after Close = %v, want ErrClosed", err)
	}
	if got := s.LastSeq(); got != 2 {
		t.Errorf("LastSeq after Close = %d, want 2", got)
	}
}

func mustAppend(t testing.TB, s persistence.Store, batch []alert.Alert) []alert.Stored {
	t.Helper()
	return mustAppendRecords(t, s, alert.AlertRecords(batch))
}

func mustAppendRecords(t testing.TB, s persistence.Store, batch []alert.Record) []alert.Stored {
	t.Helper()
	got, err := s.Append(batch)
	if err != nil {
		t.Fatalf("Append(%d records): %v", len(batch), err)
	}
	return got
}

func mustRange(t testing.TB, s persistence.Store, after uint64, limit int) []alert.Stored {
	t.Helper()
	got, err := s.Range(after, limit)
	if err != nil {
		t.Fatalf("Range(%d, %d): %v", after, limit, err)
	}
	return got
}

func checkSeqs(t testing.TB, s persistence.Store, wantLast, wantCount uint64) {
	t.Helper()
	if got := s.LastSeq(); got != wantLast {
		t.Errorf("LastSeq() = %d, want %d", got, wantLast)
	}
	if got := s.Count(); got != wantCount {
		t.Errorf("Count() = %d, want %d", got, wantCount)
	}
}

func txidsOf(t testing.TB, stored []alert.Stored) string {
	t.Helper()
	ids := make([]string, len(stored))
	for i, st := range stored {
		a, err := alert.DecodeData(st.Data)
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = a.TxID
	}
	return strings.Join(ids, ",")
}

func testAlertSeqLookup(t *testing.T, s persistence.Store) {
	a := alert.Alert{TxID: "aa", ValueSat: 1, Detector: "large_value"}
	test := alert.Alert{TxID: "bb", Test: true, Detector: "test"}
	if _, err := s.Append(alert.AlertRecords([]alert.Alert{test, a})); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		txid   string
		want   uint64
		wantOK bool
	}{
		{"aa", 2, true},
		{"bb", 0, false}, // test alerts never enter the index
		{"cc", 0, false},
	}
	for _, tt := range tests {
		seq, ok, err := s.AlertSeq(tt.txid)
		if err != nil || seq != tt.want || ok != tt.wantOK {
			t.Errorf("AlertSeq(%q) = %d, %v, %v; want %d, %v, nil", tt.txid, seq, ok, err,
				tt.want, tt.wantOK)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.AlertSeq("aa"); !errors.Is(err, persistence.ErrClosed) {
		t.Errorf("AlertSeq after Close = %v, want ErrClosed", err)
	}
}
