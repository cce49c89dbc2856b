package corerpc

import (
	"math/big"
	"strings"
	"testing"
)

func TestBTCToSat(t *testing.T) {
	tests := []struct {
		text    string
		want    int64
		wantErr string
	}{
		{text: "0", want: 0},
		{text: "0.00000000", want: 0},
		{text: "0.00000001", want: 1},
		{text: "0.00001", want: 1_000},
		{text: "0.00001000", want: 1_000},
		{text: "0.1", want: 10_000_000},
		{text: "1", want: satPerBTC},
		{text: "0.29", want: 29_000_000},
		{text: "1234.56789012", want: 123_456_789_012},
		{text: "20999999.99999999", want: maxMoneySat - 1},
		{text: "21000000", want: maxMoneySat},
		{text: "21000000.00000000", want: maxMoneySat},
		{text: "21000000.00000001", wantErr: "more than 21 million"},
		{text: "99999999", wantErr: "more than 21 million"},
		{text: "100000000", wantErr: "more than 21 million"},
		{text: "92233720368.54775807", wantErr: "more than 21 million"},
		{text: "0.000000001", wantErr: "more than 8 decimals"},
		{text: "0.123456789", wantErr: "more than 8 decimals"},
		{text: "0.000010000", wantErr: "more than 8 decimals"},
		{text: "1e-8", wantErr: "plain"},
		{text: "1E3", wantErr: "plain"},
		{text: "-0.00001", wantErr: "plain"},
		{text: "+1", wantErr: "plain"},
		{text: "", wantErr: "plain"},
		{text: ".5", wantErr: "plain"},
		{text: "1.", wantErr: "plain"},
		{text: "1.2.3", wantErr: "plain"},
		{text: "0x10", wantErr: "plain"},
		{text: "１", wantErr: "plain"},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			got, err := btcToSat(tt.text)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %d, %v; want an error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("got %d, %v; want %d", got, err, tt.want)
			}
		})
	}
}

func FuzzBTCToSat(f *testing.F) {
	for _, seed := range []string{"0.00001", "21000000", "1e-8", "0.000000001", "-1", "."} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, text string) {
		sat, err := btcToSat(text)
		if err != nil {
			return
		}
		if sat < 0 || sat > maxMoneySat {
			t.Fatalf("btcToSat(%q) = %d, outside 0 to 21 million BTC", text, sat)
		}
		exact, ok := new(big.Rat).SetString(text)
		if !ok {
			t.Fatalf("btcToSat(%q) = %d, but big.Rat refuses the text", text, sat)
		}
		exact.Mul(exact, big.NewRat(satPerBTC, 1))
		if !exact.IsInt() || exact.Num().Int64() != sat {
			t.Fatalf("btcToSat(%q) = %d, want %s", text, sat, exact.RatString())
		}
	})
}
