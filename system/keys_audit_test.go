package system

import (
	"slices"
	"testing"

	"github.com/whalecast/whalecast/internal/auth"
	"github.com/whalecast/whalecast/persistence"
)

func TestKeyChanges(t *testing.T) {
	hs := func(kid string, st auth.KeyState) auth.KeyInfo {
		return auth.KeyInfo{KID: kid, Alg: auth.AlgHS256, State: st}
	}
	before := []auth.KeyInfo{hs("k1", auth.KeySigning), hs("k2", auth.KeyVerify)}
	after := []auth.KeyInfo{
		hs("k1", auth.KeyVerify),
		hs("k2", auth.KeyRetired),
		hs("k3", auth.KeySigning),
		{KID: "partner", Alg: auth.AlgEdDSA, State: auth.KeyVerify},
	}
	var got []string
	for _, ev := range keyChanges(before, after) {
		got = append(got, ev.Type+":"+ev.KeyID)
	}
	want := []string{persistence.AuditKeyRetired + ":k2", persistence.AuditKeyRotated + ":k3",
		persistence.AuditKeyImported + ":partner"}
	if !slices.Equal(got, want) {
		t.Errorf("keyChanges = %v, want %v", got, want)
	}
	if evs := keyChanges(after, after); len(evs) != 0 {
		t.Errorf("no change gave %v", evs)
	}
}
