package load

import (
	"testing"
)

func TestReceiptsAdd(t *testing.T) {
	tests := []struct {
		name     string
		base     uint64
		seqs     []uint64
		want     receipts
		wantHave []uint64
		wantMiss []uint64
	}{
		{name: "in order", base: 10, seqs: []uint64{11, 12, 14},
			want:     receipts{unique: 3, last: 14},
			wantHave: []uint64{11, 12, 14}, wantMiss: []uint64{10, 13, 15}},
		{name: "a duplicate", base: 0, seqs: []uint64{1, 2, 2, 1},
			want: receipts{unique: 2, duplicates: 2, last: 2}},
		{name: "out of order", base: 0, seqs: []uint64{3, 1, 2},
			want: receipts{unique: 3, reordered: 2, last: 3}},
		{name: "at or before the welcome", base: 5, seqs: []uint64{4, 5, 6},
			want: receipts{unique: 1, early: 2, last: 6}},
		{name: "past the tracked span", base: 0, seqs: []uint64{MaxTrackedSeqs, MaxTrackedSeqs + 1},
			want:     receipts{unique: 1, untracked: 1, last: MaxTrackedSeqs},
			wantMiss: []uint64{MaxTrackedSeqs + 1}},
		{name: "far apart", base: 1000, seqs: []uint64{1001, 1001 + 64*40 + 3},
			want:     receipts{unique: 2, last: 1001 + 64*40 + 3},
			wantHave: []uint64{1001, 1001 + 64*40 + 3}, wantMiss: []uint64{1002}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := receipts{base: tt.base}
			for _, s := range tt.seqs {
				r.add(s)
			}
			got := [6]uint64{r.unique, r.duplicates, r.early, r.untracked, r.reordered, r.last}
			want := [6]uint64{tt.want.unique, tt.want.duplicates, tt.want.early,
				tt.want.untracked, tt.want.reordered, tt.want.last}
			if got != want {
				t.Errorf("unique, duplicates, early, untracked, reordered, last: got %v, "+
					"want %v", got, want)
			}
			for _, s := range tt.wantHave {
				if !r.has(s) {
					t.Errorf("has(%d): got false, want true", s)
				}
			}
			for _, s := range tt.wantMiss {
				if r.has(s) {
					t.Errorf("has(%d): got true, want false", s)
				}
			}
			if words := len(r.bits); uint64(words) > MaxTrackedSeqs/64 {
				t.Errorf("bitmap of %d words, over the bound %d", words, MaxTrackedSeqs/64)
			}
		})
	}
}

func TestAccount(t *testing.T) {
	client := func(base uint64, seqs ...uint64) *receipts {
		r := &receipts{base: base}
		for _, s := range seqs {
			r.add(s)
		}
		return r
	}
	published := []uint64{3, 5, 6, 9}
	tests := []struct {
		name    string
		clients []*receipts
		want    tally
	}{
		{name: "every client got everything",
			clients: []*receipts{client(0, 3, 5, 6, 9), client(2, 3, 5, 6, 9)},
			want:    tally{Owed: 8, Unique: 8}},
		{name: "a client that joined late owes only what came after its welcome",
			clients: []*receipts{client(5, 6, 9)},
			want:    tally{Owed: 2, Unique: 2}},
		{name: "lost and duplicated",
			clients: []*receipts{client(0, 3, 3, 9), client(4, 5, 6, 6, 9)},
			want:    tally{Owed: 7, Lost: 2, Unique: 5, Duplicates: 2}},
		{name: "a receipt no publish answer reported",
			clients: []*receipts{client(0, 3, 4, 5, 6, 9)},
			want:    tally{Owed: 4, Unique: 5, Unpublished: 1}},
		{name: "a client that received nothing",
			clients: []*receipts{client(1)},
			want:    tally{Owed: 4, Lost: 4}},
		{name: "no client", want: tally{}},
		{name: "early receipts do not count as delivered",
			clients: []*receipts{client(6, 5, 6, 9)},
			want:    tally{Owed: 1, Unique: 1, Early: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := account(published, tt.clients); got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}
