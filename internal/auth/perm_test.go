package auth

import (
	"errors"
	"slices"
	"testing"
)

func TestParsePerms(t *testing.T) {
	tests := []struct {
		name    string
		csv     string
		want    []Perm
		wantErr error
	}{
		{"one", "read", []Perm{PermRead}, nil},
		{"all", "read,write,admin", []Perm{PermRead, PermWrite, PermAdmin}, nil},
		{"spaces", " admin , read ", []Perm{PermAdmin, PermRead}, nil},
		{"duplicates", "read,read,write", []Perm{PermRead, PermWrite}, nil},
		{"empty", "", nil, ErrNoPerms},
		{"blank", "  ", nil, ErrNoPerms},
		{"unknown", "read,root", nil, ErrUnknownPerm},
		{"upper case", "READ", nil, ErrUnknownPerm},
		{"empty item", "read,,write", nil, ErrUnknownPerm},
		{"trailing comma", "read,", nil, ErrUnknownPerm},
		{"semicolons", "read;write", nil, ErrUnknownPerm},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParsePerms(tt.csv)
			if !errors.Is(err, tt.wantErr) || !slices.Equal(got, tt.want) {
				t.Fatalf("ParsePerms(%q) = %v, %v, want %v, %v", tt.csv, got, err,
					tt.want, tt.wantErr)
			}
		})
	}
}

func TestHasPerm(t *testing.T) {
	tests := []struct {
		name  string
		perms []Perm
		p     Perm
		want  bool
	}{
		{"present", []Perm{PermRead, PermWrite}, PermWrite, true},
		{"absent", []Perm{PermRead, PermWrite}, PermAdmin, false},
		{"admin does not imply read", []Perm{PermAdmin}, PermRead, false},
		{"nil list", nil, PermRead, false},
		{"empty perm never granted", []Perm{PermRead}, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := HasPerm(tt.perms, tt.p); got != tt.want {
				t.Errorf("HasPerm(%v, %q) = %v, want %v", tt.perms, tt.p, got,
					tt.want)
			}
			c := Claims{Perms: tt.perms}
			if got := c.Has(tt.p); got != tt.want {
				t.Errorf("Claims.Has(%q) = %v, want %v", tt.p, got, tt.want)
			}
		})
	}
}
