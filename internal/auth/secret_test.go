package auth

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// secretForms returns the ways the bytes of s could show up in output.
func secretForms(s Secret) []string {
	raw := s.bytes()
	decimal := strings.Trim(fmt.Sprint(raw), "[]")
	return []string{
		string(raw),
		string(raw[:8]),
		hex.EncodeToString(raw),
		strings.ToUpper(hex.EncodeToString(raw)),
		base64.StdEncoding.EncodeToString(raw),
		base64.RawURLEncoding.EncodeToString(raw),
		decimal,
		strings.ReplaceAll(decimal, " ", ", "),
	}
}

// assertNoSecret fails tb if out contains any form of s.
func assertNoSecret(tb testing.TB, s Secret, out string) {
	tb.Helper()
	for _, form := range secretForms(s) {
		if strings.Contains(out, form) {
			tb.Errorf("output %q reveals the secret as %q", out, form)
		}
	}
}

func TestSecretNeverPrinted(t *testing.T) {
	s := testSecret(t)
	holder := struct {
		Exported Secret
		hidden   Secret
		ptr      *Secret
	}{s, s, &s}
	iss, ver, _ := newPair(t, 0)

	jsonOf := func(v any) string {
		data, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("json.Marshal: %v", err)
		}
		return string(data)
	}
	slogOf := func(h func(*bytes.Buffer) slog.Handler) string {
		var buf bytes.Buffer
		slog.New(h(&buf)).Info("loaded", "secret", s, "holder", holder, "issuer", iss)
		return buf.String()
	}
	tests := []struct {
		name string
		out  string
		want string
	}{
		{"Println", fmt.Sprintln(s, &s), redacted + " " + redacted},
		{"String", s.String(), redacted},
		{"GoString", s.GoString(), redacted},
		{"json.Marshal", jsonOf(s), `"[redacted]"`},
		{"json.Marshal struct", jsonOf(holder), `{"Exported":"[redacted]"}`},
		{"slog JSON", slogOf(func(b *bytes.Buffer) slog.Handler {
			return slog.NewJSONHandler(b, nil)
		}), `"secret":"[redacted]"`},
		{"slog text", slogOf(func(b *bytes.Buffer) slog.Handler {
			return slog.NewTextHandler(b, nil)
		}), "secret=[redacted]"},
	}
	// Every verb, the wrong ones included: fmt prints a bad verb's operand its own way.
	verbs := []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%t", "%p", "%10.3s"}
	values := []struct {
		name string
		v    any
		want string
	}{
		{"secret", s, redacted},
		{"pointer", &s, redacted},
		{"holder", holder, ""},
		{"holder pointer", &holder, ""},
		{"issuer", iss, ""},
		{"verifier", *ver, ""},
		{"slice", []any{s, holder, iss}, ""},
	}
	for _, val := range values {
		for _, verb := range verbs {
			want := val.want
			if verb == "%p" || verb == "%10.3s" {
				want = ""
			}
			tests = append(tests, struct {
				name string
				out  string
				want string
			}{val.name + " " + verb, fmt.Sprintf(verb, val.v), want})
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assertNoSecret(t, s, tt.out)
			if !strings.Contains(tt.out, tt.want) {
				t.Errorf("output %q does not contain %q", tt.out, tt.want)
			}
		})
	}
}

func TestNewSecret(t *testing.T) {
	tests := []struct {
		name    string
		key     []byte
		wantErr error
	}{
		{"nil", nil, ErrWeakSecret},
		{"one short", bytes.Repeat([]byte{7}, MinSecretLen-1), ErrWeakSecret},
		{"minimum", bytes.Repeat([]byte{7}, MinSecretLen), nil},
		{"long", bytes.Repeat([]byte{7}, 4*MinSecretLen), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := NewSecret(tt.key)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("NewSecret error = %v, want %v", err, tt.wantErr)
			}
			if err == nil && s.Len() != len(tt.key) {
				t.Errorf("Len = %d, want %d", s.Len(), len(tt.key))
			}
			if err != nil && s.Len() != 0 {
				t.Errorf("Len = %d after an error, want 0", s.Len())
			}
		})
	}
}

func TestNewSecretCopies(t *testing.T) {
	key := bytes.Repeat([]byte{'k'}, MinSecretLen)
	s, err := NewSecret(key)
	if err != nil {
		t.Fatalf("NewSecret: %v", err)
	}
	key[0] = 'x'
	if s.bytes()[0] != 'k' {
		t.Errorf("changing the caller's slice changed the secret")
	}
}
