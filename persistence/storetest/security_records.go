package storetest

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/whalecast/whalecast/persistence"
)

// APIKey returns a read-only API key record for a client, with this id and creation time.
func APIKey(id string, created time.Time) persistence.APIKey {
	return persistence.APIKey{
		ID:      id,
		Client:  "desk-7@fund.example",
		Perms:   []string{"read"},
		Created: created,
	}
}

func revocation(kind, value string, at, until time.Time) persistence.Revocation {
	return persistence.Revocation{Kind: kind, Value: value, At: at, Until: until}
}

func testRevocationStored(t *testing.T, s SharedStore) {
	now := time.Now()
	puts := []persistence.Revocation{
		revocation(persistence.RevokeJTI, "9f2b61c4a0d84e1fb7c35a1e6d0c2b44", now,
			now.Add(time.Hour)),
		revocation(persistence.RevokeClient, "desk-7", now, now.Add(2*time.Hour)),
		revocation(persistence.RevokeJTI, "desk-7", now.Add(-time.Minute), now.Add(time.Hour)),
	}
	for _, r := range puts {
		MustPutRevocation(t, s, r)
	}

	want := []persistence.Revocation{puts[1], puts[0], puts[2]} // by kind, then value
	checkRevocations(t, s, want)
	checkSeqs(t, s, 0, 0)
	if got := MustRangeAudit(t, s, 0, 10); len(got) != 0 {
		t.Errorf("revocations wrote %d audit events", len(got))
	}
}

func testRevocationIdempotent(t *testing.T, s SharedStore) {
	at := time.Now().Truncate(time.Second)
	later, until := at.Add(time.Minute), at.Add(time.Hour)

	cases := []struct {
		name   string
		second persistence.Revocation // put after revocation(kind, name, at, until)
		want   persistence.Revocation
	}{
		{"same again", revocation("", "", at, until), revocation("", "", at, until)},
		{"earlier until keeps the later", revocation("", "", at, until.Add(-time.Minute)),
			revocation("", "", at, until)},
		{"later until extends", revocation("", "", at, until.Add(time.Hour)),
			revocation("", "", at, until.Add(time.Hour))},
		{"later at widens, until kept", revocation("", "", later, until.Add(-time.Second)),
			revocation("", "", later, until)},
		{"earlier at keeps the later", revocation("", "", at.Add(-time.Hour), until),
			revocation("", "", at, until)},
	}
	for _, kind := range []string{persistence.RevokeJTI, persistence.RevokeClient} {
		for _, c := range cases {
			t.Run(kind+" "+c.name, func(t *testing.T) {
				value := kind + "-" + strings.ReplaceAll(c.name, " ", "-")
				MustPutRevocation(t, s, revocation(kind, value, at, until))
				second := c.second
				second.Kind, second.Value = kind, value
				MustPutRevocation(t, s, second)

				want := c.want
				want.Kind, want.Value = kind, value
				got := findRevocation(t, s, kind, value)
				if len(got) != 1 || !sameRevocation(got[0], want) {
					t.Errorf("stored %+v, want one %+v", got, want)
				}
			})
		}
	}
}

// testRevocationExpires checks that a revocation is gone once its Until passed, that one
// already past is not stored, and that an expired one does not widen a new one.
func testRevocationExpires(t *testing.T, s SharedStore) {
	now := time.Now()
	short := revocation(persistence.RevokeJTI, "short", now, now.Add(time.Second))
	long := revocation(persistence.RevokeClient, "long", now, now.Add(time.Hour))
	past := revocation(persistence.RevokeJTI, "past", now.Add(-2*time.Hour),
		now.Add(-time.Hour))
	for _, r := range []persistence.Revocation{short, long, past} {
		MustPutRevocation(t, s, r)
	}
	checkRevocations(t, s, []persistence.Revocation{long, short})

	// Expiry works in whole seconds: Until is rounded up, so one second plus rounding.
	deadline := time.Now().Add(3 * time.Second)
	for len(findRevocation(t, s, short.Kind, short.Value)) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("revocation with Until %v still listed at %v", short.Until, time.Now())
		}
		time.Sleep(25 * time.Millisecond)
	}
	checkRevocations(t, s, []persistence.Revocation{long})

	again := time.Now()
	renewed := revocation(short.Kind, short.Value, again.Add(-time.Minute), again.Add(time.Hour))
	MustPutRevocation(t, s, renewed)
	if got := findRevocation(t, s, short.Kind, short.Value); len(got) != 1 ||
		!sameRevocation(got[0], renewed) {
		t.Errorf("renewed after expiry: stored %+v, want %+v", got, renewed)
	}
}

func testRevocationInvalid(t *testing.T, s SharedStore) {
	now := time.Now()
	hour := now.Add(time.Hour)
	cases := []struct {
		name   string
		r      persistence.Revocation
		secret bool
	}{
		{"empty kind", revocation("", "j", now, hour), false},
		{"unknown kind", revocation("user", "j", now, hour), false},
		{"empty value", revocation(persistence.RevokeJTI, "", now, hour), false},
		{"zero at", revocation(persistence.RevokeJTI, "j", time.Time{}, hour), false},
		{"zero until", revocation(persistence.RevokeJTI, "j", now, time.Time{}), false},
		{"until before at", revocation(persistence.RevokeJTI, "j", hour, now), false},
		{"over-long value", revocation(persistence.RevokeClient,
			strings.Repeat("c", persistence.MaxAuditFieldLen+1), now, hour), false},
		{"line break in value", revocation(persistence.RevokeClient, "a\nb", now, hour), false},
		{"token as jti", revocation(persistence.RevokeJTI, leakedToken, now, hour), true},
		{"until past year 9999", revocation(persistence.RevokeJTI, "j", now,
			time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := s.PutRevocation(c.r)
			if !errors.Is(err, persistence.ErrInvalidRecord) ||
				errors.Is(err, persistence.ErrFailed) {
				t.Fatalf("PutRevocation = %v, want ErrInvalidRecord and not ErrFailed", err)
			}
			if secret := errors.Is(err, persistence.ErrLooksSecret); secret != c.secret {
				t.Errorf("PutRevocation = %v: ErrLooksSecret %v, want %v", err, secret, c.secret)
			}
			if strings.Contains(err.Error(), leakedToken) {
				t.Errorf("the error quotes the token: %v", err)
			}
			if err := s.Health(); err != nil {
				t.Errorf("Health() = %v after a refused revocation, want nil", err)
			}
			checkRevocations(t, s, nil)
		})
	}
}

func testAPIKeyLifecycle(t *testing.T, s SharedStore) {
	t0 := time.Now().Add(-time.Hour)
	type created struct {
		key  persistence.APIKeySecret
		hash [32]byte
		rec  persistence.APIKey
	}
	var keys []created
	for _, offset := range []time.Duration{2 * time.Second, 0, time.Second} {
		key, id := persistence.NewAPIKey()
		hash, err := persistence.HashAPIKey(key.Reveal())
		if err != nil || hash != key.Hash() {
			t.Fatalf("HashAPIKey(new key) = %x, %v; want %x, nil", hash, err, key.Hash())
		}
		rec := APIKey(id, t0.Add(offset))
		rec.Perms = []string{"read", "admin"}
		MustPutAPIKey(t, s, rec, hash)
		keys = append(keys, created{key, hash, rec})
	}

	for i, k := range keys {
		got, err := s.APIKeyByHash(k.hash)
		if err != nil || !sameAPIKey(got, k.rec) {
			t.Errorf("APIKeyByHash(key %d) = %+v, %v; want %+v, nil", i, got, err, k.rec)
		}
	}
	stranger, _ := persistence.NewAPIKey()
	if _, err := s.APIKeyByHash(stranger.Hash()); !errors.Is(err, persistence.ErrNotFound) {
		t.Errorf("APIKeyByHash(unknown hash) = %v, want ErrNotFound", err)
	}
	checkAPIKeys(t, s, []persistence.APIKey{keys[1].rec, keys[2].rec, keys[0].rec})

	before := time.Now()
	if err := s.RevokeAPIKey(keys[2].rec.ID); err != nil {
		t.Fatalf("RevokeAPIKey: %v", err)
	}
	after := time.Now()
	got, err := s.APIKeyByHash(keys[2].hash)
	if !errors.Is(err, persistence.ErrRevoked) || got.ID != keys[2].rec.ID || !got.Revoked {
		t.Fatalf("APIKeyByHash(revoked) = %+v, %v; want the key and ErrRevoked", got, err)
	}
	if got.RevokedAt.Before(before.Add(-time.Millisecond)) || got.RevokedAt.After(after) {
		t.Errorf("RevokedAt = %v, want between %v and %v", got.RevokedAt, before, after)
	}
	if _, err := s.APIKeyByHash(keys[0].hash); err != nil {
		t.Errorf("APIKeyByHash(other key) after a revocation = %v, want nil", err)
	}

	if err := s.RevokeAPIKey(keys[2].rec.ID); err != nil {
		t.Errorf("second RevokeAPIKey = %v, want nil", err)
	}
	again, _ := s.APIKeyByHash(keys[2].hash)
	if !again.RevokedAt.Equal(got.RevokedAt) {
		t.Errorf("second RevokeAPIKey moved RevokedAt from %v to %v", got.RevokedAt,
			again.RevokedAt)
	}
	revoked := keys[2].rec
	revoked.Revoked, revoked.RevokedAt = true, got.RevokedAt
	checkAPIKeys(t, s, []persistence.APIKey{keys[1].rec, revoked, keys[0].rec})

	for _, id := range []string{"0000000000000000", "", "no such id", keys[0].key.Reveal()} {
		err := s.RevokeAPIKey(id)
		if !errors.Is(err, persistence.ErrNotFound) {
			t.Errorf("RevokeAPIKey(unknown id of %d bytes) = %v, want ErrNotFound", len(id), err)
		}
		if err != nil && strings.Contains(err.Error(), keys[0].key.Reveal()) {
			t.Errorf("the error quotes the key: %v", err)
		}
	}
	checkSeqs(t, s, 0, 0)
}

func testAPIKeyConflicts(t *testing.T, s SharedStore) {
	now := time.Now()
	key, id := persistence.NewAPIKey()
	other, otherID := persistence.NewAPIKey()
	MustPutAPIKey(t, s, APIKey(id, now), key.Hash())

	cases := []struct {
		name string
		rec  persistence.APIKey
		hash [32]byte
	}{
		{"same id", APIKey(id, now), other.Hash()},
		{"same hash", APIKey(otherID, now), key.Hash()},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := s.PutAPIKey(c.rec, c.hash)
			if !errors.Is(err, persistence.ErrExists) || errors.Is(err, persistence.ErrFailed) {
				t.Errorf("PutAPIKey = %v, want ErrExists and not ErrFailed", err)
			}
			if err := s.Health(); err != nil {
				t.Errorf("Health() = %v, want nil", err)
			}
		})
	}
	checkAPIKeys(t, s, []persistence.APIKey{APIKey(id, now)})
	if _, err := s.APIKeyByHash(other.Hash()); !errors.Is(err, persistence.ErrNotFound) {
		t.Errorf("APIKeyByHash(refused key) = %v, want ErrNotFound", err)
	}
}

func testAPIKeyInvalid(t *testing.T, s SharedStore) {
	now := time.Now()
	key, id := persistence.NewAPIKey()
	edit := func(f func(k *persistence.APIKey)) persistence.APIKey {
		k := APIKey(id, now)
		f(&k)
		return k
	}
	perms := func(p ...string) persistence.APIKey {
		return edit(func(k *persistence.APIKey) { k.Perms = p })
	}
	tooMany := make([]string, persistence.MaxAPIKeyPerms+1)
	for i := range tooMany {
		tooMany[i] = "p" + strings.Repeat("x", i)
	}

	cases := []struct {
		name   string
		rec    persistence.APIKey
		hash   [32]byte
		secret bool
	}{
		{"zero hash", APIKey(id, now), [32]byte{}, false},
		{"empty id", APIKey("", now), key.Hash(), false},
		{"id with a space", APIKey("a b", now), key.Hash(), false},
		{"over-long id", APIKey(strings.Repeat("i", persistence.MaxAPIKeyIDLen+1), now),
			key.Hash(), false},
		{"plaintext as id", APIKey(key.Reveal(), now), key.Hash(), true},
		{"empty client", edit(func(k *persistence.APIKey) { k.Client = "" }), key.Hash(), false},
		{"token as client", edit(func(k *persistence.APIKey) { k.Client = leakedToken }),
			key.Hash(), true},
		{"line break in client", edit(func(k *persistence.APIKey) { k.Client = "a\nb" }),
			key.Hash(), false},
		{"no perms", perms(), key.Hash(), false},
		{"too many perms", perms(tooMany...), key.Hash(), false},
		{"upper-case perm", perms("Read"), key.Hash(), false},
		{"empty perm", perms(""), key.Hash(), false},
		{"perm twice", perms("read", "read"), key.Hash(), false},
		{"zero created", APIKey(id, time.Time{}), key.Hash(), false},
		{"created past year 9999", APIKey(id, time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)),
			key.Hash(), false},
		{"marked revoked", edit(func(k *persistence.APIKey) { k.Revoked = true }),
			key.Hash(), false},
		{"revoked at set", edit(func(k *persistence.APIKey) { k.RevokedAt = now }),
			key.Hash(), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := s.PutAPIKey(c.rec, c.hash)
			if !errors.Is(err, persistence.ErrInvalidRecord) ||
				errors.Is(err, persistence.ErrFailed) {
				t.Fatalf("PutAPIKey = %v, want ErrInvalidRecord and not ErrFailed", err)
			}
			if secret := errors.Is(err, persistence.ErrLooksSecret); secret != c.secret {
				t.Errorf("PutAPIKey = %v: ErrLooksSecret %v, want %v", err, secret, c.secret)
			}
			if msg := err.Error(); strings.Contains(msg, key.Reveal()) ||
				strings.Contains(msg, leakedToken) {
				t.Errorf("the error quotes a secret: %v", err)
			}
			if err := s.Health(); err != nil {
				t.Errorf("Health() = %v after a refused key, want nil", err)
			}
			checkAPIKeys(t, s, nil)
		})
	}
}

func testAPIKeyOwnership(t *testing.T, s SharedStore) {
	key, id := persistence.NewAPIKey()
	rec := APIKey(id, time.Now())
	rec.Perms = []string{"read", "write"}
	MustPutAPIKey(t, s, rec, key.Hash())
	rec.Perms[0] = "admin"

	got, _ := s.APIKeyByHash(key.Hash())
	got.Perms[1] = "admin"
	list, _ := s.APIKeys()
	list[0].Perms[0] = "admin"

	got, err := s.APIKeyByHash(key.Hash())
	if err != nil || !slices.Equal(got.Perms, []string{"read", "write"}) {
		t.Errorf("after callers changed their copies, Perms = %v, %v; want [read write]",
			got.Perms, err)
	}
}

// MustPutRevocation stores r and fails the test on an error.
func MustPutRevocation(t testing.TB, s persistence.SecurityStore, r persistence.Revocation) {
	t.Helper()
	if err := s.PutRevocation(r); err != nil {
		t.Fatalf("PutRevocation(%s %s): %v", r.Kind, r.Value, err)
	}
}

// MustPutAPIKey stores k under hash and fails the test on an error.
func MustPutAPIKey(t testing.TB, s persistence.SecurityStore, k persistence.APIKey,
	hash [32]byte) {
	t.Helper()
	if err := s.PutAPIKey(k, hash); err != nil {
		t.Fatalf("PutAPIKey(%s): %v", k.ID, err)
	}
}

func findRevocation(t testing.TB, s SharedStore, kind, value string) []persistence.Revocation {
	t.Helper()
	all, err := s.Revocations()
	if err != nil {
		t.Fatalf("Revocations(): %v", err)
	}
	var out []persistence.Revocation
	for _, r := range all {
		if r.Kind == kind && r.Value == value {
			out = append(out, r)
		}
	}
	return out
}

func checkRevocations(t testing.TB, s SharedStore, want []persistence.Revocation) {
	t.Helper()
	got, err := s.Revocations()
	if err != nil {
		t.Fatalf("Revocations(): %v", err)
	}
	if !slices.EqualFunc(got, want, sameRevocation) {
		t.Errorf("Revocations() = %+v, want %+v", got, want)
	}
}

func checkAPIKeys(t testing.TB, s SharedStore, want []persistence.APIKey) {
	t.Helper()
	got, err := s.APIKeys()
	if err != nil {
		t.Fatalf("APIKeys(): %v", err)
	}
	if !slices.EqualFunc(got, want, sameAPIKey) {
		t.Errorf("APIKeys() = %+v, want %+v", got, want)
	}
}

func sameRevocation(a, b persistence.Revocation) bool {
	return a.Kind == b.Kind && a.Value == b.Value && a.At.Equal(b.At) && a.Until.Equal(b.Until)
}

func sameAPIKey(a, b persistence.APIKey) bool {
	return a.ID == b.ID && a.Client == b.Client && slices.Equal(a.Perms, b.Perms) &&
		a.Created.Equal(b.Created) && a.Revoked == b.Revoked && a.RevokedAt.Equal(b.RevokedAt)
}
