package alert

import (
	"encoding/json"
	"testing"
	"time"
)

func TestFrameEmbedsDataOnce(t *testing.T) {
	a := Alert{TxID: "ab", ValueSat: 92_700_000_000, Outputs: 2,
		FirstSeen: time.Date(2026, 12, 4, 1, 2, 3, 0, time.FixedZone("x", 3600)),
		Detector:  "large_value"}
	data, err := EncodeData(a)
	if err != nil {
		t.Fatal(err)
	}
	frame := Frame(Stored{Seq: 42, Data: data})

	var got struct {
		Type string `json:"type"`
		Seq  uint64 `json:"seq"`
		Data Alert  `json:"data"`
	}
	if err := json.Unmarshal(frame, &got); err != nil {
		t.Fatalf("frame %s: %v", frame, err)
	}
	if got.Type != "whale_alert" || got.Seq != 42 {
		t.Errorf("type %q seq %d, want whale_alert 42", got.Type, got.Seq)
	}
	if got.Data.ValueBTC != 927 {
		t.Errorf("value_btc %v, want 927 (filled from value_sat)", got.Data.ValueBTC)
	}
	if got.Data.FirstSeen.Location() != time.UTC || got.Data.FirstSeen.Hour() != 0 {
		t.Errorf("first_seen %v, want 00:02:03 UTC", got.Data.FirstSeen)
	}
	back, err := DecodeData(data)
	if err != nil || back.TxID != "ab" {
		t.Errorf("DecodeData = %+v, %v", back, err)
	}
}

func TestSatFromBTC(t *testing.T) {
	tests := []struct {
		btc  float64
		want int64
	}{
		{0, 0},
		{1, SatPerBTC},
		{0.1, 10_000_000},
		{103.02775338, 10_302_775_338},
		{-0.5, -50_000_000},
	}
	for _, tt := range tests {
		if got := SatFromBTC(tt.btc); got != tt.want {
			t.Errorf("SatFromBTC(%v) = %d, want %d", tt.btc, got, tt.want)
		}
	}
}
