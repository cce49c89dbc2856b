package bitcoin

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestExpandPaths(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"blk00002.dat", "blk00000.dat", "blk00001.dat", "x.hex"} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o600); err != nil {
			t.Fatalf("write: %v", err)
		}
	}
	in := func(name string) string { return filepath.Join(dir, name) }

	tests := []struct {
		name    string
		spec    string
		want    []string
		wantErr error
	}{
		{name: "one file", spec: in("x.hex"), want: []string{in("x.hex")}},
		{name: "glob sorted", spec: in("blk*.dat"),
			want: []string{in("blk00000.dat"), in("blk00001.dat"), in("blk00002.dat")}},
		{name: "globs keep their order", spec: in("x.hex") + ", " + in("blk0000[12].dat"),
			want: []string{in("x.hex"), in("blk00001.dat"), in("blk00002.dat")}},
		{name: "blank entries skipped", spec: in("x.hex") + ",,",
			want: []string{in("x.hex")}},
		{name: "repeats kept", spec: in("x.hex") + "," + in("x.hex"),
			want: []string{in("x.hex"), in("x.hex")}},
		{name: "missing file", spec: in("x.hex") + "," + in("nope.dat"), wantErr: ErrNoMatch},
		{name: "glob without match", spec: in("*.bz2"), wantErr: ErrNoMatch},
		{name: "empty spec", spec: " , ", wantErr: ErrNoMatch},
		{name: "bad pattern", spec: in("blk[.dat"), wantErr: filepath.ErrBadPattern},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ExpandPaths(tt.spec)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("got err %v, want %v", err, tt.wantErr)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
