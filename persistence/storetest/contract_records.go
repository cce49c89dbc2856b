package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/whalecast/whalecast/internal/alert"
	"github.com/whalecast/whalecast/persistence"
)

// confirmedIn is the block hash of every confirmation built here.
const confirmedIn = "00000000000000000002a7c4c1e48d76c5a37902165a270156b7a8d72728a054"

// Update returns a realistic status change of the alert that Alert(txid) builds, from
// mempool to status; a confirmation names its block.
func Update(txid string, status alert.Status) alert.Update {
	u := alert.Update{
		TxID:     txid,
		Status:   status,
		Previous: alert.StatusMempool,
		Detector: "large_value",
		ValueSat: 1_250 * alert.SatPerBTC,
		At:       seenAt.Add(10 * time.Minute),
	}
	if status == alert.StatusConfirmed {
		u.Height, u.BlockHash, u.Confirmations = 840_000, confirmedIn, 1
	}
	return u
}

// batchCase is a named batch of a table test.
type batchCase struct {
	name  string
	batch []alert.Record
}

// AlertRecord returns a record of Alert(txid) that writes state, or leaves the stored state
// as it is when state is empty.
func AlertRecord(txid, state string) alert.Record {
	a := Alert(txid)
	return withState(alert.Record{Alert: &a}, state)
}

// TestAlertRecord is AlertRecord for TestAlert(txid).
func TestAlertRecord(txid, state string) alert.Record {
	a := TestAlert(txid)
	return withState(alert.Record{Alert: &a}, state)
}

// UpdateRecord returns a record of a confirmation of txid, with state like AlertRecord.
func UpdateRecord(txid, state string) alert.Record {
	u := Update(txid, alert.StatusConfirmed)
	return withState(alert.Record{Update: &u}, state)
}

func withState(r alert.Record, state string) alert.Record {
	if state != "" {
		r.State = []byte(state)
	}
	return r
}

// Forget returns r with ForgetState set.
func Forget(r alert.Record) alert.Record {
	r.ForgetState = true
	return r
}

// invalidRecordCases are the batches of records, beyond plain alerts, that Append refuses
// with ErrInvalidBatch.
func invalidRecordCases() []batchCase {
	both, bothUpdate := Alert("both"), Update("both", alert.StatusConfirmed)
	longTxID := strings.Repeat("f", persistence.MaxTxIDLen+1)
	fullState := make([]byte, persistence.MaxStateLen)
	tooManyStates := make([]alert.Record, persistence.MaxBatchStateLen/len(fullState)+1)
	for i := range tooManyStates {
		tooManyStates[i] = AlertRecord(fmt.Sprintf("full%d", i), "")
		tooManyStates[i].State = fullState
	}
	bigState := AlertRecord("big", "")
	bigState.State = make([]byte, persistence.MaxStateLen+1)

	unknown := Update("u", "gone")
	none := Update("u", "")
	previous := Update("u", alert.StatusConfirmed)
	previous.Previous = "limbo"
	farFuture := Update("u", alert.StatusDropped)
	farFuture.At = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)

	return []batchCase{
		{"alert and update", []alert.Record{{Alert: &both, Update: &bothUpdate}}},
		{"neither alert nor update", []alert.Record{{State: []byte("orphan")}}},
		{"state and forget", []alert.Record{Forget(AlertRecord("sf", "x"))}},
		{"state too long", []alert.Record{bigState}},
		{"states of the batch too long", tooManyStates},
		{"update without txid", []alert.Record{UpdateRecord("", "")}},
		{"update txid too long", []alert.Record{UpdateRecord(longTxID, "")}},
		{"unknown status", []alert.Record{{Update: &unknown}}},
		{"no status", []alert.Record{{Update: &none}}},
		{"unknown previous status", []alert.Record{{Update: &previous}}},
		{"unencodable update", []alert.Record{{Update: &farFuture}}},
		{"state without txid", []alert.Record{TestAlertRecord("", "x")}},
		{"forget without txid", []alert.Record{Forget(TestAlertRecord("", ""))}},
		{"state with a txid too long", []alert.Record{TestAlertRecord(longTxID, "x")}},
	}
}

func testMixedDense(t *testing.T, s persistence.Store) {
	batches := []struct {
		batch []alert.Record
		want  string
	}{
		{
			batch: []alert.Record{AlertRecord("m1", ""), UpdateRecord("m1", ""),
				TestAlertRecord("m1", "")},
			want: "1 alert m1, 2 update m1@1, 3 test m1",
		},
		{batch: []alert.Record{UpdateRecord("m9", "")}, want: "4 update m9@0"},
		{
			batch: []alert.Record{AlertRecord("m1", ""), AlertRecord("m2", ""),
				UpdateRecord("m2", ""), UpdateRecord("m1", "")},
			want: "5 alert m2, 6 update m2@5, 7 update m1@1",
		},
		{batch: []alert.Record{AlertRecord("m2", "")}, want: ""},
		{batch: []alert.Record{UpdateRecord("m2", "")}, want: "8 update m2@5"},
	}
	var last uint64
	for i, b := range batches {
		got := mustAppendRecords(t, s, b.batch)
		if d := Describe(t, got); d != b.want {
			t.Fatalf("batch %d stored %q, want %q", i, d, b.want)
		}
		last += uint64(len(got))
		checkSeqs(t, s, last, last)
	}
}

func testAlertSeq(t *testing.T, open func(t *testing.T) persistence.Store) {
	cases := []struct {
		name    string
		batches [][]alert.Record
		want    string
	}{
		{
			name:    "alert earlier in the batch",
			batches: [][]alert.Record{{AlertRecord("x", ""), UpdateRecord("x", "")}},
			want:    "1 alert x, 2 update x@1",
		},
		{
			name: "alert in an earlier batch",
			batches: [][]alert.Record{{AlertRecord("x", "")},
				{AlertRecord("y", ""), UpdateRecord("x", "")}},
			want: "1 alert x, 2 alert y, 3 update x@1",
		},
		{
			name:    "unknown txid",
			batches: [][]alert.Record{{AlertRecord("x", "")}, {UpdateRecord("z", "")}},
			want:    "1 alert x, 2 update z@0",
		},
		{
			name:    "alert later in the batch",
			batches: [][]alert.Record{{UpdateRecord("x", ""), AlertRecord("x", "")}},
			want:    "1 update x@0, 2 alert x",
		},
		{
			name: "duplicate alert in the batch",
			batches: [][]alert.Record{{AlertRecord("x", "")},
				{AlertRecord("x", ""), UpdateRecord("x", "")}},
			want: "1 alert x, 2 update x@1",
		},
		{
			name:    "test alerts are not indexed",
			batches: [][]alert.Record{{TestAlertRecord("x", ""), UpdateRecord("x", "")}},
			want:    "1 test x, 2 update x@0",
		},
		{
			name: "updates are never deduplicated",
			batches: [][]alert.Record{{AlertRecord("x", ""), UpdateRecord("x", "")},
				{UpdateRecord("x", "")}},
			want: "1 alert x, 2 update x@1, 3 update x@1",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := open(t)
			var stored []alert.Stored
			for _, b := range c.batches {
				stored = append(stored, mustAppendRecords(t, s, b)...)
			}
			if got := Describe(t, stored); got != c.want {
				t.Errorf("Append stored %q, want %q", got, c.want)
			}
			if got := Describe(t, mustRange(t, s, 0, 100)); got != c.want {
				t.Errorf("Range found %q, want %q", got, c.want)
			}
		})
	}
}

func testUpdateData(t *testing.T, s persistence.Store) {
	mustAppend(t, s, []alert.Alert{Alert("ud")})
	u := Update("ud", alert.StatusReplaced)
	u.ReplacedBy, u.AlertSeq = "rbf", 99
	u.At = time.Date(2025, 1, 2, 3, 4, 5, 6, time.FixedZone("x", 3600))

	stored := mustAppendRecords(t, s, []alert.Record{{Update: &u}})
	filled := u
	filled.AlertSeq = 1
	want, err := alert.EncodeUpdate(filled)
	if err != nil {
		t.Fatal(err)
	}

	ranged := mustRange(t, s, 1, 1)
	if len(stored) != 1 || len(ranged) != 1 {
		t.Fatalf("stored %d, ranged %d; want 1 and 1", len(stored), len(ranged))
	}
	for name, st := range map[string]alert.Stored{"Append": stored[0], "Range": ranged[0]} {
		if st.Kind != alert.KindUpdate || !bytes.Equal(st.Data, want) {
			t.Errorf("%s = %v %s, want %v %s", name, st.Kind, st.Data, alert.KindUpdate, want)
		}
	}
	if u.AlertSeq != 99 {
		t.Errorf("Append changed the caller's update: AlertSeq %d, want 99", u.AlertSeq)
	}
}

func testRangeKinds(t *testing.T, s persistence.Store) {
	var stored []alert.Stored
	for i := range 4 {
		batch := []alert.Record{UpdateRecord(fmt.Sprintf("rk%d", i-1), "")}
		for j := range i + 1 {
			batch = append(batch, AlertRecord(fmt.Sprintf("rk%d", i*10+j), ""))
		}
		stored = append(stored, mustAppendRecords(t, s, batch)...)
	}

	for _, limit := range []int{1, 2, 5, 100} {
		var walked []alert.Stored
		for after := uint64(0); after < s.LastSeq(); after = walked[len(walked)-1].Seq {
			page := mustRange(t, s, after, limit)
			if len(page) == 0 || len(page) > limit {
				t.Fatalf("limit %d: page of %d after seq %d", limit, len(page), after)
			}
			walked = append(walked, page...)
		}
		if got, want := fmt.Sprint(walked), fmt.Sprint(stored); got != want {
			t.Errorf("limit %d: Range walked\n%s\nwant what Append returned\n%s",
				limit, got, want)
		}
	}
}

func testStates(t *testing.T, open func(t *testing.T) persistence.Store) {
	cases := []struct {
		name    string
		batches [][]alert.Record
		want    string
	}{
		{
			name:    "alert writes its state",
			batches: [][]alert.Record{{AlertRecord("x", "1")}},
			want:    "x=1",
		},
		{
			name:    "duplicate alert writes none",
			batches: [][]alert.Record{{AlertRecord("x", "1")}, {AlertRecord("x", "2")}},
			want:    "x=1",
		},
		{
			name:    "duplicate alert in the batch writes none",
			batches: [][]alert.Record{{AlertRecord("x", "1"), AlertRecord("x", "2")}},
			want:    "x=1",
		},
		{
			name: "duplicate alert forgets nothing",
			batches: [][]alert.Record{{AlertRecord("x", "1")},
				{Forget(AlertRecord("x", ""))}},
			want: "x=1",
		},
		{
			name:    "update overwrites",
			batches: [][]alert.Record{{AlertRecord("x", "1")}, {UpdateRecord("x", "2")}},
			want:    "x=2",
		},
		{
			name: "update without state leaves it",
			batches: [][]alert.Record{{AlertRecord("x", "1")},
				{UpdateRecord("x", ""), UpdateRecord("y", "")}},
			want: "x=1",
		},
		{
			name: "update forgets",
			batches: [][]alert.Record{{AlertRecord("x", "1"), AlertRecord("y", "1")},
				{Forget(UpdateRecord("x", ""))}},
			want: "y=1",
		},
		{
			name: "forget and write again in one batch",
			batches: [][]alert.Record{{AlertRecord("x", "1"), Forget(UpdateRecord("x", "")),
				UpdateRecord("x", "3")}},
			want: "x=3",
		},
		{
			name:    "forget an unknown txid",
			batches: [][]alert.Record{{Forget(UpdateRecord("x", ""))}},
			want:    "",
		},
		{
			name:    "update of an unknown alert",
			batches: [][]alert.Record{{UpdateRecord("z", "9")}},
			want:    "z=9",
		},
		{
			name:    "test alert",
			batches: [][]alert.Record{{TestAlertRecord("t", "5"), TestAlertRecord("t", "6")}},
			want:    "t=6",
		},
		{
			name: "txid order",
			batches: [][]alert.Record{{AlertRecord("b", "2"), AlertRecord("c", "3")},
				{AlertRecord("a", "1"), UpdateRecord("ab", "4")}},
			want: "a=1, ab=4, b=2, c=3",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := open(t)
			for _, b := range c.batches {
				mustAppendRecords(t, s, b)
			}
			checkStates(t, s, c.want)
		})
	}
}

func testStatesMany(t *testing.T, s persistence.Store) {
	const batches, perBatch = 3, 300
	for i := range batches {
		batch := make([]alert.Record, perBatch)
		for j := range batch {
			n := i*perBatch + j
			batch[j] = AlertRecord(fmt.Sprintf("many%04d", n), fmt.Sprintf("state%d", n))
		}
		mustAppendRecords(t, s, batch)
	}

	n := 0
	err := s.States(func(txid string, state []byte) error {
		if want := fmt.Sprintf("many%04d", n); txid != want {
			return fmt.Errorf("state %d has txid %s, want %s", n, txid, want)
		}
		if want := fmt.Sprintf("state%d", n); string(state) != want {
			return fmt.Errorf("state of %s = %q, want %q", txid, state, want)
		}
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != batches*perBatch {
		t.Errorf("States found %d states, want %d", n, batches*perBatch)
	}
}

func testStateBounds(t *testing.T, s persistence.Store) {
	prefix := strings.Repeat("b", persistence.MaxTxIDLen-1)
	batch := make([]alert.Record, persistence.MaxBatchStateLen/persistence.MaxStateLen)
	for i := range batch {
		batch[i] = AlertRecord(fmt.Sprintf("%s%d", prefix, i), "")
		batch[i].State = bytes.Repeat([]byte{byte('a' + i)}, persistence.MaxStateLen)
	}
	mustAppendRecords(t, s, batch)

	n := 0
	err := s.States(func(txid string, state []byte) error {
		if n >= len(batch) || txid != batch[n].TxID() || !bytes.Equal(state, batch[n].State) {
			return fmt.Errorf("state %d: %.20s... of %d bytes is not the one written",
				n, txid, len(state))
		}
		n++
		return nil
	})
	if err != nil || n != len(batch) {
		t.Errorf("States = %v after %d states, want nil after %d", err, n, len(batch))
	}
}

func testStateOwnership(t *testing.T, s persistence.Store) {
	rec := AlertRecord("own", "mine")
	mustAppendRecords(t, s, []alert.Record{rec})
	clear(rec.State)

	err := s.States(func(_ string, state []byte) error {
		clear(state)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	checkStates(t, s, "own=mine")
}

func testStatesStop(t *testing.T, s persistence.Store) {
	mustAppendRecords(t, s, []alert.Record{AlertRecord("s1", "1"), AlertRecord("s2", "2")})
	stop := errors.New("enough")

	calls := 0
	err := s.States(func(string, []byte) error {
		calls++
		return stop
	})
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("States = %v after %d calls, want the callback's error after 1", err, calls)
	}
	if err := s.Health(); err != nil {
		t.Errorf("Health() = %v after a callback error, want nil", err)
	}
}

// testStatesReentrant checks that States holds no lock while its callback runs: a tracker
// may write while it reloads.
func testStatesReentrant(t *testing.T, s persistence.Store) {
	mustAppendRecords(t, s, []alert.Record{AlertRecord("r1", "old"), AlertRecord("r2", "old")})

	done := make(chan error, 1)
	go func() {
		done <- s.States(func(txid string, _ []byte) error {
			_, err := s.Append([]alert.Record{UpdateRecord(txid, "new")})
			return err
		})
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("States whose callback appends still runs after 10s: deadlock?")
	}
	checkStates(t, s, "r1=new, r2=new")
	checkSeqs(t, s, 4, 4)
}

// Describe returns "seq kind txid" for each stored record, joined by ", ": the kind is
// alert, test (a test alert) or update, which also names its AlertSeq ("update x@1").
func Describe(t testing.TB, stored []alert.Stored) string {
	t.Helper()
	parts := make([]string, len(stored))
	for i, st := range stored {
		switch st.Kind {
		case alert.KindAlert:
			a, err := alert.DecodeData(st.Data)
			if err != nil {
				t.Fatalf("seq %d: %v", st.Seq, err)
			}
			kind := "alert"
			if a.Test {
				kind = "test"
			}
			parts[i] = fmt.Sprintf("%d %s %s", st.Seq, kind, a.TxID)
		case alert.KindUpdate:
			u, err := alert.DecodeUpdate(st.Data)
			if err != nil {
				t.Fatalf("seq %d: %v", st.Seq, err)
			}
			parts[i] = fmt.Sprintf("%d update %s@%d", st.Seq, u.TxID, u.AlertSeq)
		default:
			t.Fatalf("seq %d has %v", st.Seq, st.Kind)
		}
	}
	return strings.Join(parts, ", ")
}

// StatesOf returns what States reports, as "txid=state" in its order, joined by ", ".
func StatesOf(t testing.TB, s persistence.Store) string {
	t.Helper()
	var got []string
	err := s.States(func(txid string, state []byte) error {
		got = append(got, txid+"="+string(state))
		return nil
	})
	if err != nil {
		t.Fatalf("States: %v", err)
	}
	return strings.Join(got, ", ")
}

func checkStates(t testing.TB, s persistence.Store, want string) {
	t.Helper()
	if got := StatesOf(t, s); got != want {
		t.Errorf("States = %q, want %q", got, want)
	}
}
