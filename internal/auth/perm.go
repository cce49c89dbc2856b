package auth

import (
	"fmt"
	"slices"
	"strings"
)

// Perm names one thing a session may do. The set is closed: names other than the Perm
// constants are refused wherever they appear, in configuration or in a token.
type Perm string

// The known permissions. None implies another.
const (
	// PermRead lets a session subscribe to alerts.
	PermRead Perm = "read"
	// PermWrite lets a session send commands that change its own state.
	PermWrite Perm = "write"
	// PermAdmin lets a session run operator commands.
	PermAdmin Perm = "admin"
)

// Known reports whether p is one of the Perm constants. The comparison is case-sensitive.
func (p Perm) Known() bool {
	switch p {
	case PermRead, PermWrite, PermAdmin:
		return true
	}
	return false
}

// ParsePerms parses a comma-separated list such as "read,write". Spaces around a name are
// ignored; names are case-sensitive; duplicates are dropped, keeping the first. An empty list
// fails with ErrNoPerms and an unknown or empty name with ErrUnknownPerm.
func ParsePerms(csv string) ([]Perm, error) {
	if strings.TrimSpace(csv) == "" {
		return nil, fmt.Errorf("parse permissions: %w", ErrNoPerms)
	}
	var perms []Perm
	for name := range strings.SplitSeq(csv, ",") {
		p := Perm(strings.TrimSpace(name))
		if !p.Known() {
			return nil, fmt.Errorf("parse permissions: %w: %.32q",
				ErrUnknownPerm, string(p))
		}
		if !slices.Contains(perms, p) {
			perms = append(perms, p)
		}
	}
	return perms, nil
}

// HasPerm reports whether perms contains p.
func HasPerm(perms []Perm, p Perm) bool {
	return slices.Contains(perms, p)
}

// checkPerms returns a copy of perms without duplicates, or ErrNoPerms or ErrUnknownPerm.
func checkPerms(perms []Perm) ([]Perm, error) {
	if len(perms) == 0 {
		return nil, ErrNoPerms
	}
	out := make([]Perm, 0, len(perms))
	for _, p := range perms {
		if !p.Known() {
			return nil, fmt.Errorf("%w: %.32q", ErrUnknownPerm, string(p))
		}
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out, nil
}
