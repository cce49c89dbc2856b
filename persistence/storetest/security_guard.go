package storetest

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/whalecast/whalecast/persistence"
)

// leakedToken is a well-formed HS256 token, as it would look if a caller leaked one.
var leakedToken = JWTLike(`{"sub":"desk-7","perms":["read"],"iat":1713571767,`+
	`"exp":1713575367,"jti":"9f2b61c4a0d84e1fb7c35a1e6d0c2b44"}`, false)

// auditFieldSetters set one free-text field of an event, by the name errors use.
var auditFieldSetters = map[string]func(e *persistence.AuditEvent, v string){
	"client":   func(e *persistence.AuditEvent, v string) { e.Client = v },
	"reason":   func(e *persistence.AuditEvent, v string) { e.Reason = v },
	"key_id":   func(e *persistence.AuditEvent, v string) { e.KeyID = v },
	"token_id": func(e *persistence.AuditEvent, v string) { e.TokenID = v },
	"detail":   func(e *persistence.AuditEvent, v string) { e.Detail = v },
}

// withField returns AuditEvent(0) with one field replaced.
func withField(field, v string) persistence.AuditEvent {
	e := AuditEvent(0)
	auditFieldSetters[field](&e, v)
	return e
}

func withRemote(v string) persistence.AuditEvent {
	e := AuditEvent(0)
	e.Remote = v
	return e
}

func withType(v string) persistence.AuditEvent {
	e := AuditEvent(0)
	e.Type = v
	return e
}

// testAuditGuard checks what AppendAudit accepts and refuses. A refused batch stores
// nothing, takes no seq, leaves the store healthy, and its error never quotes the refused
// value.
func testAuditGuard(t *testing.T, s SharedStore) {
	key, _ := persistence.NewAPIKey()
	cutToken := leakedToken[strings.IndexByte(leakedToken, '.')+1:]
	spacedHeader := JWTLike(`{"sub":"x"}`, false)
	spacedHeader = base64.RawURLEncoding.EncodeToString([]byte(" {\n \"alg\" : \"HS256\" }")) +
		spacedHeader[strings.IndexByte(spacedHeader, '.'):]

	accepted := []struct {
		name  string
		event persistence.AuditEvent
	}{
		{"normal reason text", withField("detail", "token expired 12s ago; client must refresh")},
		{"host names and versions", withField("detail",
			"origin https://evil.example.com refused by engine 1.26.8 (api.v1.admin)")},
		{"json text, not base64", withField("detail", `{"alg":"none"} header refused`)},
		{"uuid token id", withField("token_id", "6f2c1f0e-8d9b-4a7c-9e3d-2b1a0c9d8e7f")},
		{"dotted words", withField("reason", "release.candidate.build")},
		{"header alone", withField("detail", "header "+leakedToken[:strings.IndexByte(
			leakedToken, '.')+1]+" only")},
		{"unicode", withField("client", "Zürich desk ✓ 東京")},
		{"field at the limit", withField("detail", strings.Repeat("x",
			persistence.MaxAuditFieldLen))},
		{"ipv6 remote", withRemote("2001:db8::1")},
		{"no remote", withRemote("")},
		{"type with digits", withType("ip_banned_v2")},
	}
	var seq uint64
	for _, c := range accepted {
		t.Run("accepts "+c.name, func(t *testing.T) {
			got := MustAppendAudit(t, s, []persistence.AuditEvent{c.event})
			seq++
			want := c.event
			want.Seq = seq
			if !sameEvent(got[0], want) {
				t.Errorf("stored %+v, want %+v", got[0], want)
			}
		})
	}

	type refusal struct {
		name   string
		events []persistence.AuditEvent
		secret bool   // the error must wrap ErrLooksSecret
		value  string // the refused value, which the error must not quote
	}
	refused := []refusal{
		{"jwt in detail", []persistence.AuditEvent{withField("detail",
			"verify failed for token "+leakedToken)}, true, leakedToken},
		{"bearer header in detail", []persistence.AuditEvent{withField("detail",
			"Authorization: Bearer "+leakedToken)}, true, leakedToken},
		{"jwt quoted in json", []persistence.AuditEvent{withField("detail",
			`{"type":"auth","token":"`+leakedToken+`"}`)}, true, leakedToken},
		{"alg none token", []persistence.AuditEvent{withField("detail",
			JWTLike(`{"sub":"admin","perms":["admin"]}`, true))}, true, ""},
		{"jwt without its header", []persistence.AuditEvent{withField("detail",
			cutToken)}, true, cutToken},
		{"jwt with a spaced header", []persistence.AuditEvent{withField("detail",
			spacedHeader)}, true, spacedHeader},
		{"api key in detail", []persistence.AuditEvent{withField("detail",
			"created "+key.Reveal())}, true, key.Reveal()},
		{"api key in upper case", []persistence.AuditEvent{withField("detail",
			strings.ToUpper(key.Reveal()))}, true, strings.ToUpper(key.Reveal())},
		{"api key prefix alone", []persistence.AuditEvent{withField("key_id", "wck_")},
			true, ""},
		{"one bad event among good ones", append(AuditEvents(1, 2),
			withField("detail", leakedToken)), true, leakedToken},
		{"over-long field", []persistence.AuditEvent{withField("detail",
			strings.Repeat("y", persistence.MaxAuditFieldLen+1))}, false, ""},
		{"line break", []persistence.AuditEvent{withField("reason",
			"bad_signature\nauth_success forged")}, false, ""},
		{"bidi override", []persistence.AuditEvent{withField("client",
			"desk-7\u202eelif")}, false, ""},
		{"nul byte", []persistence.AuditEvent{withField("detail", "a\x00b")}, false, ""},
		{"invalid utf-8", []persistence.AuditEvent{withField("detail", "a\xffb")}, false, ""},
		{"remote with port", []persistence.AuditEvent{withRemote("203.0.113.7:443")},
			false, ""},
		{"remote host name", []persistence.AuditEvent{withRemote("example.com")}, false, ""},
		{"jwt as remote", []persistence.AuditEvent{withRemote(leakedToken)}, true,
			leakedToken},
		{"empty type", []persistence.AuditEvent{withType("")}, false, ""},
		{"upper-case type", []persistence.AuditEvent{withType("Auth_Failure")}, false, ""},
		{"type with a space", []persistence.AuditEvent{withType("auth failure")}, false, ""},
		{"over-long type", []persistence.AuditEvent{withType(strings.Repeat("t",
			persistence.MaxAuditTypeLen+1))}, false, ""},
		{"time past year 9999", []persistence.AuditEvent{func() persistence.AuditEvent {
			e := AuditEvent(0)
			e.Time = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
			return e
		}()}, false, ""},
		{"too many events", AuditEvents(0, persistence.MaxAuditBatch+1), false, ""},
	}
	for field := range auditFieldSetters {
		refused = append(refused, refusal{"jwt in " + field,
			[]persistence.AuditEvent{withField(field, leakedToken)}, true, leakedToken})
	}

	for _, c := range refused {
		t.Run("refuses "+c.name, func(t *testing.T) {
			got, err := s.AppendAudit(c.events)
			if !errors.Is(err, persistence.ErrInvalidBatch) ||
				errors.Is(err, persistence.ErrFailed) {
				t.Fatalf("AppendAudit = %v, want ErrInvalidBatch and not ErrFailed", err)
			}
			if secret := errors.Is(err, persistence.ErrLooksSecret); secret != c.secret {
				t.Errorf("AppendAudit = %v: ErrLooksSecret %v, want %v", err, secret, c.secret)
			}
			if c.value != "" && strings.Contains(err.Error(), c.value) {
				t.Errorf("the error quotes the refused value: %v", err)
			}
			if len(got) != 0 {
				t.Errorf("AppendAudit returned %d events with its error", len(got))
			}
			if err := s.Health(); err != nil {
				t.Errorf("Health() = %v after a refused batch, want nil", err)
			}
			if all := MustRangeAudit(t, s, seq, 100); len(all) != 0 {
				t.Errorf("a refused batch stored %d events", len(all))
			}
			next := MustAppendAudit(t, s, AuditEvents(5, 1))
			if seq++; next[0].Seq != seq {
				t.Errorf("next event has seq %d, want %d", next[0].Seq, seq)
			}
		})
	}
}

// testAuditRedacted checks that RedactAuditEvent turns refused events into storable ones
// that keep what is safe and drop what looks secret.
func testAuditRedacted(t *testing.T, s SharedStore) {
	key, _ := persistence.NewAPIKey()
	long := strings.Repeat("é", persistence.MaxAuditFieldLen) // 2 bytes a rune

	raw := AuditEvent(0)
	raw.Client, raw.Reason, raw.Detail = "desk-7\n", key.Reveal(), "tok "+leakedToken
	raw.Remote, raw.TokenID, raw.KeyID = "not an ip", long, "a\xffb"

	got := MustAppendAudit(t, s, []persistence.AuditEvent{persistence.RedactAuditEvent(raw)})
	e := got[0]
	checks := []struct{ field, got, want string }{
		{"client", e.Client, "desk-7?"},
		{"reason", e.Reason, "[redacted]"},
		{"detail", e.Detail, "[redacted]"},
		{"remote", e.Remote, ""},
		{"token_id", e.TokenID, strings.Repeat("é", persistence.MaxAuditFieldLen/2)},
		{"key_id", e.KeyID, "a?b"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("redacted %s = %q, want %q", c.field, c.got, c.want)
		}
	}

	clean := AuditEvent(3)
	if got := persistence.RedactAuditEvent(clean); !sameEvent(got, clean) {
		t.Errorf("RedactAuditEvent changed a clean event: %+v, want %+v", got, clean)
	}
}
