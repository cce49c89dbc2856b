package persistence

import (
	"errors"
	"fmt"
	"testing"

	"github.com/dgraph-io/badger/v4"

	"github.com/whalecast/whalecast/internal/alert"
)

func TestParseRecordValue(t *testing.T) {
	cases := []struct {
		name  string
		value []byte
		kind  alert.Kind
		data  string
		ok    bool
	}{
		{"alert", recordValue(alert.KindAlert, []byte(`{"txid":"a"}`)), alert.KindAlert,
			`{"txid":"a"}`, true},
		{"update", recordValue(alert.KindUpdate, []byte(`{"txid":"u"}`)), alert.KindUpdate,
			`{"txid":"u"}`, true},
		{"alert written before kinds", []byte(`{"txid":"old"}`), alert.KindAlert,
			`{"txid":"old"}`, true},
		{"unknown kind", []byte("\x07{}"), 0, "", false},
		{"empty", nil, 0, "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			kind, data, ok := parseRecordValue(c.value)
			if kind != c.kind || string(data) != c.data || ok != c.ok {
				t.Errorf("parseRecordValue(%q) = %v, %q, %v; want %v, %q, %v",
					c.value, kind, data, ok, c.kind, c.data, c.ok)
			}
		})
	}
}

func TestParseStateKey(t *testing.T) {
	cases := []struct {
		name string
		key  []byte
		txid string
		ok   bool
	}{
		{"txid", stateKey("ab"), "ab", true},
		{"txid with a slash", stateKey("a/b"), "a/b", true},
		{"no txid", []byte("s/"), "", false},
		{"other family", []byte("t/ab"), "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			txid, ok := parseStateKey(c.key)
			if txid != c.txid || ok != c.ok {
				t.Errorf("parseStateKey(%q) = %q, %v; want %q, %v", c.key, txid, ok, c.txid, c.ok)
			}
		})
	}
}

// TestBadgerRangeKinds reads values as older and newer builds wrote them, and refuses a
// record of unknown kind without failing the store.
func TestBadgerRangeKinds(t *testing.T) {
	cases := []struct {
		name    string
		records map[uint64][]byte
		want    string // "kind data" per record, or "corrupt"
	}{
		{
			name: "both kinds and an alert written before kinds",
			records: map[uint64][]byte{
				1: []byte(`{"txid":"old"}`),
				2: recordValue(alert.KindAlert, []byte(`{"txid":"new"}`)),
				3: recordValue(alert.KindUpdate, []byte(`{"txid":"new","alert_seq":2}`)),
			},
			want: `[whale_alert {"txid":"old"} whale_alert {"txid":"new"} ` +
				`alert_update {"txid":"new","alert_seq":2}]`,
		},
		{
			name:    "unknown kind",
			records: map[uint64][]byte{1: recordValue(7, []byte(`{}`))},
			want:    "corrupt",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			keys := map[string][]byte{string(keyLastSeq): encodeSeq(uint64(len(c.records)))}
			for seq, v := range c.records {
				keys[string(recordKey(seq))] = v
			}
			writeRaw(t, dir, keys)
			s, err := OpenBadger(BadgerOptions{Dir: dir})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()

			page, err := s.Range(0, 10)
			got := "corrupt"
			if err == nil {
				var parts []string
				for _, st := range page {
					parts = append(parts, fmt.Sprintf("%v %s", st.Kind, st.Data))
				}
				got = fmt.Sprint(parts)
			} else if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Range = %v, want nil or ErrCorrupt", err)
			}
			if got != c.want {
				t.Errorf("Range = %s, want %s", got, c.want)
			}
			if err := s.Health(); err != nil {
				t.Errorf("Health() = %v, want nil", err)
			}
		})
	}
}

func TestBadgerStatesMalformedKey(t *testing.T) {
	dir := t.TempDir()
	writeRaw(t, dir, map[string][]byte{"s/": []byte("orphan")})
	s, err := OpenBadger(BadgerOptions{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	err = s.States(func(string, []byte) error { return nil })
	if !errors.Is(err, ErrCorrupt) {
		t.Errorf("States = %v, want ErrCorrupt", err)
	}
}

// TestBadgerRefusesTooBigTransaction fills a transaction past Badger's limit, which small
// memtables bring within MaxBatch: Append must refuse the batch as invalid, not fail the
// store.
func TestBadgerRefusesTooBigTransaction(t *testing.T) {
	small := func(o badger.Options) badger.Options {
		return o.WithMemTableSize(1 << 20).WithValueThreshold(1 << 10)
	}
	s, err := OpenBadger(BadgerOptions{Dir: t.TempDir(), tune: small})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	batch := make([]alert.Record, MaxBatch)
	for i := range batch {
		a := alert.Alert{TxID: fmt.Sprintf("big%d", i)}
		batch[i] = alert.Record{Alert: &a, State: []byte("state")}
	}
	_, err = s.Append(batch)
	if !errors.Is(err, ErrInvalidBatch) || errors.Is(err, ErrFailed) {
		t.Fatalf("Append = %v, want ErrInvalidBatch and not ErrFailed", err)
	}
	if err := s.Health(); err != nil || s.LastSeq() != 0 {
		t.Errorf("after the refusal: Health %v, LastSeq %d; want nil, 0", err, s.LastSeq())
	}

	got, err := s.Append(batch[:10])
	if err != nil || len(got) != 10 || got[0].Seq != 1 {
		t.Errorf("next Append = %d records from %v, %v; want 10 from seq 1", len(got), got, err)
	}
}
