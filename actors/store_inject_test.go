package actors_test

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/whalecast/whalecast/actors"
	"github.com/whalecast/whalecast/internal/alert"
	"github.com/whalecast/whalecast/internal/auth"
)

// testAlert returns a marked synthetic alert as POST /api/v1/admin/publish makes them.
func testAlert(detector string) alert.Alert {
	a := actors.NewTestAlert(testStart)
	a.Detector = detector
	return a
}

// inject sends records to the store actor and returns its answer.
func (e *engine) inject(tb testing.TB, records []alert.Record) *actors.Injected {
	tb.Helper()
	res, err := e.sys.Root.RequestFuture(e.store, &actors.Inject{Records: records},
		waitLimit).Result()
	if err != nil {
		tb.Fatalf("inject: %v", err)
	}
	in, ok := res.(*actors.Injected)
	if !ok {
		tb.Fatalf("inject answered %T, want *actors.Injected", res)
	}
	return in
}

func TestStoreInjectAnswersSeqs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		preload    int
		failWrites bool
		records    []alert.Alert
		wantSeqs   []uint64
	}{
		{name: "three test alerts into an empty store",
			records:  []alert.Alert{testAlert("bench"), testAlert("bench"), testAlert("test")},
			wantSeqs: []uint64{1, 2, 3}},
		{name: "a real alert the store holds is skipped", preload: 1,
			records:  []alert.Alert{whale(1, 101), testAlert("test"), whale(2, 200)},
			wantSeqs: []uint64{0, 2, 3}},
		{name: "a repeat within the request is skipped",
			records:  []alert.Alert{whale(7, 300), whale(7, 300), testAlert("bench")},
			wantSeqs: []uint64{1, 0, 2}},
		{name: "a failed store stores nothing", failWrites: true,
			records:  []alert.Alert{testAlert("bench"), testAlert("bench")},
			wantSeqs: []uint64{0, 0}},
		{name: "an empty request", records: []alert.Alert{}, wantSeqs: []uint64{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEngine(t, engineConfig{Preload: tt.preload})
			if tt.failWrites {
				e.mem.FailWrites(errDiskFull)
			}
			got := e.inject(t, alert.AlertRecords(tt.records))
			if !slices.Equal(got.Seqs, tt.wantSeqs) {
				t.Errorf("seqs: got %v, want %v", got.Seqs, tt.wantSeqs)
			}
		})
	}
}

// TestStoreInjectBroadcasts checks that injected alerts reach a live session like any
// alert, marked as tests, in the order of their seqs.
func TestStoreInjectBroadcasts(t *testing.T) {
	t.Parallel()
	e := newEngine(t, engineConfig{})
	peer := newFakePeer(0)
	e.connect(t, peer, auth.PermRead)

	in := e.inject(t, alert.AlertRecords([]alert.Alert{testAlert("bench"),
		testAlert("bench")}))
	if in.Stored() != 2 {
		t.Fatalf("stored: got %d (%v), want 2", in.Stored(), in.Seqs)
	}
	frames := peer.next(t, 2)
	if got := seqsOf(t, frames); !slices.Equal(got, in.Seqs) {
		t.Errorf("delivered seqs: got %v, want %v", got, in.Seqs)
	}
	for _, f := range frames {
		var data struct {
			Detector string `json:"detector"`
			Test     bool   `json:"test"`
		}
		if err := json.Unmarshal(f.Data, &data); err != nil {
			t.Fatal(err)
		}
		if data.Detector != "bench" || !data.Test {
			t.Errorf("seq %d: got detector %q test %v, want bench and true", f.Seq,
				data.Detector, data.Test)
		}
	}
}

func TestStoreInjectRefusesTooMany(t *testing.T) {
	t.Parallel()
	e := newEngine(t, engineConfig{})
	records := make([]alert.Record, actors.MaxInject+1)
	for i := range records {
		a := testAlert("bench")
		records[i] = alert.Record{Alert: &a}
	}
	got := e.inject(t, records)
	if len(got.Seqs) != len(records) || got.Stored() != 0 {
		t.Errorf("got %d seqs, %d stored; want %d seqs, none stored", len(got.Seqs),
			got.Stored(), len(records))
	}
	if last := e.mem.LastSeq(); last != 0 {
		t.Errorf("last seq: got %d, want 0", last)
	}
}
