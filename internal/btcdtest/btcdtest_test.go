package btcdtest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDir(t *testing.T) {
	dir := Dir(t)
	mod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		t.Fatalf("read go.mod of %s: %v", dir, err)
	}
	if first, _, _ := strings.Cut(string(mod), "\n"); first != "module "+Module {
		t.Errorf("go.mod starts with %q, want %q", first, "module "+Module)
	}
	if !strings.HasSuffix(dir, "@"+Version) {
		t.Errorf("dir %s: want a module cache path ending in @%s", dir, Version)
	}
}

func TestFiles(t *testing.T) {
	tests := []struct {
		name     string
		path     func(testing.TB) string
		wantBase string
		wantSize int64
	}{
		{"block 277647", Block277647, "277647.dat.bz2", 115_673},
		{"early chain", EarlyChain, "blk_0_to_14131.dat", 16 << 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tt.path(t)
			if got := filepath.Base(path); got != tt.wantBase {
				t.Errorf("base name: got %s, want %s", got, tt.wantBase)
			}
			info, err := os.Stat(path)
			if err != nil {
				t.Fatalf("stat: %v", err)
			}
			if info.Size() != tt.wantSize {
				t.Errorf("size: got %d, want %d", info.Size(), tt.wantSize)
			}
		})
	}
}

func TestParseDownload(t *testing.T) {
	tests := []struct {
		name    string
		out     string
		want    string
		wantErr string
	}{
		{name: "ok", out: `{"Path": "m", "Version": "v1", "Dir": "/cache/m@v1"}`,
			want: "/cache/m@v1"},
		{name: "go error", out: `{"Path": "m", "Error": "no such version"}`,
			wantErr: "no such version"},
		{name: "no dir", out: `{"Path": "m"}`, wantErr: "no Dir"},
		{name: "not json", out: "go: no network", wantErr: "parse output"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseDownload([]byte(tt.out))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got err %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestDownloadMissingGo(t *testing.T) {
	_, err := download(context.Background(), filepath.Join(t.TempDir(), "no-go-here"))
	if err == nil || !strings.Contains(err.Error(), "go mod download") {
		t.Errorf("got %v, want an error naming go mod download", err)
	}
}
