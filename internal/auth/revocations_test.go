package auth

import (
	"testing"
	"time"
)

func TestRevocations(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	r := NewRevocations()
	r.RevokeJTI("j1", t0.Add(time.Hour))
	r.RevokeClient("mallory", t0, t0.Add(7*24*time.Hour))

	tests := []struct {
		name   string
		claims Claims
		want   bool
	}{
		{"revoked jti", Claims{Subject: "alice", ID: "j1", IssuedAt: t0}, true},
		{"other jti", Claims{Subject: "alice", ID: "j2", IssuedAt: t0}, false},
		{"client token issued before", Claims{Subject: "mallory", ID: "j3",
			IssuedAt: t0.Add(-time.Minute)}, true},
		{"client token issued at the revocation", Claims{Subject: "mallory", ID: "j4",
			IssuedAt: t0}, true},
		{"client token issued after", Claims{Subject: "mallory", ID: "j5",
			IssuedAt: t0.Add(time.Second)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := r.Revoked(tt.claims); got != tt.want {
				t.Errorf("Revoked = %v, want %v", got, tt.want)
			}
		})
	}

	if n := r.Prune(t0.Add(2 * time.Hour)); n != 1 {
		t.Errorf("Prune kept %d entries, want 1 (the client)", n)
	}
	if r.Revoked(Claims{Subject: "alice", ID: "j1", IssuedAt: t0}) {
		t.Error("jti still revoked after its until passed")
	}
}
