package load

import (
	"testing"
	"time"

	"github.com/whalecast/whalecast/internal/alert"
)

// engineFrame returns a whale_alert as the engine and bench/floor send it.
func engineFrame(tb testing.TB, seq uint64, a alert.Alert) []byte {
	tb.Helper()
	data, err := alert.EncodeData(a)
	if err != nil {
		tb.Fatal(err)
	}
	return alert.Frame(alert.Stored{Seq: seq, Kind: alert.KindAlert, Data: data})
}

func TestParseFrame(t *testing.T) {
	seen := time.Date(2026, 12, 4, 17, 0, 0, 123456789, time.UTC)
	bench := alert.Alert{TxID: "ab", FirstSeen: seen, Detector: BenchDetector, Test: true}
	real := alert.Alert{TxID: "cd", FirstSeen: seen, Detector: "large_value",
		ValueSat: 1e11}
	notTest := bench
	notTest.Test = false
	tests := []struct {
		name    string
		in      []byte
		want    frame
		wantErr bool
	}{
		{name: "bench alert", in: engineFrame(t, 42, bench),
			want: frame{kind: frameBenchAlert, seq: 42, firstSeen: seen}},
		{name: "bench alert with a huge seq", in: engineFrame(t, 1<<62, bench),
			want: frame{kind: frameBenchAlert, seq: 1 << 62, firstSeen: seen}},
		{name: "bench alert in another field order",
			in: []byte(`{"seq":7,"data":{"test":true,"detector":"bench",` +
				`"first_seen":"2026-12-04T17:00:00.123456789Z"},"type":"whale_alert"}`),
			want: frame{kind: frameBenchAlert, seq: 7, firstSeen: seen}},
		{name: "real alert", in: engineFrame(t, 43, real),
			want: frame{kind: frameRecord, seq: 43}},
		{name: "bench detector without test", in: engineFrame(t, 44, notTest),
			want: frame{kind: frameRecord, seq: 44}},
		{name: "alert update", in: []byte(`{"type":"alert_update","seq":45,"data":{}}`),
			want: frame{kind: frameRecord, seq: 45}},
		{name: "welcome", in: []byte(`{"type":"welcome","version":"0.1.0","seq":41}`),
			want: frame{kind: frameWelcome, seq: 41}},
		{name: "error", in: []byte(`{"type":"error","code":"forbidden","message":"m"}`),
			want: frame{kind: frameError, code: "forbidden"}},
		{name: "auth success", in: []byte(`{"type":"auth_success","client_id":"c"}`),
			want: frame{kind: frameOther}},
		{name: "not JSON", in: []byte(`hello`), wantErr: true},
		{name: "no type", in: []byte(`{"seq":1}`), wantErr: true},
		{name: "bad first_seen",
			in: []byte(`{"type":"whale_alert","seq":9,"data":{"first_seen":"yesterday",` +
				`"detector":"bench","test":true}}`), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseFrame(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("error: got %v, want error %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			if got.kind != tt.want.kind || got.seq != tt.want.seq || got.code != tt.want.code ||
				!got.firstSeen.Equal(tt.want.firstSeen) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestParseAlertFastPath checks that the engine's own layout is read without the JSON
// decoder, and agrees with it.
func TestParseAlertFastPath(t *testing.T) {
	a := alert.Alert{TxID: "ab", FirstSeen: time.Now().UTC(), Detector: BenchDetector,
		Test: true}
	in := engineFrame(t, 99, a)
	fast, ok := parseAlert(in)
	if !ok {
		t.Fatalf("parseAlert(%s): not read", in)
	}
	if fast.kind != frameBenchAlert || fast.seq != 99 || !fast.firstSeen.Equal(a.FirstSeen) {
		t.Errorf("got %+v, want a bench alert with seq 99 first seen %v", fast, a.FirstSeen)
	}
	if allocs := testing.AllocsPerRun(100, func() { _, _ = parseAlert(in) }); allocs > 2 {
		t.Errorf("parseAlert allocates %v times, want at most 2", allocs)
	}
}

func BenchmarkParseFrame(b *testing.B) {
	in := engineFrame(b, 123456, alert.Alert{TxID: "ab", FirstSeen: time.Now().UTC(),
		Detector: BenchDetector, Test: true, ValueSat: 1e11, Outputs: 2})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parseFrame(in); err != nil {
			b.Fatal(err)
		}
	}
}
