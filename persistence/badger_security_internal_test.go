package persistence

import (
	"bytes"
	"errors"
	"testing"
)

// TestKeyFamiliesDisjoint checks that no key family's prefix starts another's, so that a
// prefix scan of one family never sees another's keys, and that the counters lie outside
// every family but the meta one.
func TestKeyFamiliesDisjoint(t *testing.T) {
	families := map[string][]byte{
		"record": prefixRecord, "txid": prefixTxID, "state": prefixState, "audit": prefixAudit,
		"revocation": prefixRevocation, "api key": prefixAPIKey, "api key id": prefixAPIKeyID,
		"meta": []byte("m/"),
	}
	for a, pa := range families {
		for b, pb := range families {
			if a != b && bytes.HasPrefix(pa, pb) {
				t.Errorf("family %s (%q) starts with family %s (%q)", a, pa, b, pb)
			}
		}
	}
	for _, counter := range [][]byte{keyLastSeq, keyAuditLastSeq} {
		for name, p := range families {
			if bytes.HasPrefix(counter, p) != (name == "meta") {
				t.Errorf("counter %q and family %s (%q)", counter, name, p)
			}
		}
	}
	if bytes.Equal(keyLastSeq, keyAuditLastSeq) {
		t.Error("the alert and audit counters share a key")
	}
}

func TestRevocationKeyRoundTrip(t *testing.T) {
	cases := []struct {
		name        string
		key         []byte
		kind, value string
		ok          bool
	}{
		{"jti", revocationKey(RevokeJTI, "abc"), RevokeJTI, "abc", true},
		{"client with a slash", revocationKey(RevokeClient, "a/b"), RevokeClient, "a/b", true},
		{"unknown kind", []byte("r/user/x"), "", "", false},
		{"no value", []byte("r/jti/"), "", "", false},
		{"no separator", []byte("r/jti"), "", "", false},
		{"other family", []byte("a/jti/x"), "", "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			kind, value, ok := parseRevocationKey(c.key)
			if kind != c.kind || value != c.value || ok != c.ok {
				t.Errorf("parseRevocationKey(%q) = %q, %q, %v; want %q, %q, %v",
					c.key, kind, value, ok, c.kind, c.value, c.ok)
			}
		})
	}
}

func TestOpenBadgerCorruptAudit(t *testing.T) {
	cases := []struct {
		name string
		keys map[string][]byte
	}{
		{"short audit counter", map[string][]byte{string(keyAuditLastSeq): {1, 2}}},
		{"audit event past the counter", map[string][]byte{
			string(keyAuditLastSeq): encodeSeq(2),
			string(auditKey(3)):     []byte(`{}`),
		}},
		{"audit event without counter", map[string][]byte{string(auditKey(1)): []byte(`{}`)}},
		{"malformed audit key", map[string][]byte{
			string(keyAuditLastSeq): encodeSeq(2),
			"l/xyz":                 []byte(`{}`),
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			writeRaw(t, dir, c.keys)

			s, err := OpenBadger(BadgerOptions{Dir: dir})
			if err == nil {
				_ = s.Close()
				t.Fatal("OpenBadger succeeded")
			}
			if !errors.Is(err, ErrCorrupt) {
				t.Errorf("OpenBadger = %v, want ErrCorrupt", err)
			}
		})
	}
}

// TestBadgerCorruptRecords stores records the store cannot decode: reads report ErrCorrupt
// and the store stays healthy, since nothing failed to write.
func TestBadgerCorruptRecords(t *testing.T) {
	hash := [32]byte{1}
	dir := t.TempDir()
	writeRaw(t, dir, map[string][]byte{
		string(keyAuditLastSeq):               encodeSeq(1),
		string(auditKey(1)):                   []byte("not json"),
		string(revocationKey(RevokeJTI, "j")): []byte("not json"),
		string(apiKeyKey(hash)):               []byte("not json"),
		string(apiKeyIDKey("dangling")):       []byte("short"),
		string(apiKeyIDKey("to-missing")):     bytes.Repeat([]byte{2}, 32),
	})
	s, err := OpenBadger(BadgerOptions{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	calls := map[string]func() error{
		"RangeAudit":               func() error { _, err := s.RangeAudit(0, 10); return err },
		"Revocations":              func() error { _, err := s.Revocations(); return err },
		"APIKeyByHash":             func() error { _, err := s.APIKeyByHash(hash); return err },
		"APIKeys":                  func() error { _, err := s.APIKeys(); return err },
		"RevokeAPIKey short index": func() error { return s.RevokeAPIKey("dangling") },
		"RevokeAPIKey missing key": func() error { return s.RevokeAPIKey("to-missing") },
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, ErrCorrupt) || errors.Is(err, ErrFailed) {
			t.Errorf("%s = %v, want ErrCorrupt and not ErrFailed", name, err)
		}
	}
	if err := s.Health(); err != nil {
		t.Errorf("Health() = %v, want nil", err)
	}
}
