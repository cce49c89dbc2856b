package persistence_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"testing"

	"github.com/whalecast/whalecast/persistence"
)

var apiKeyShape = regexp.MustCompile(`^wck_[A-Za-z0-9_-]{43}$`)

func TestNewAPIKey(t *testing.T) {
	seenKeys, seenIDs := make(map[string]bool), make(map[string]bool)
	for range 100 {
		key, id := persistence.NewAPIKey()
		plain := key.Reveal()
		if !apiKeyShape.MatchString(plain) {
			t.Fatalf("key of %d bytes does not match %v", len(plain), apiKeyShape)
		}
		raw, err := base64.RawURLEncoding.Strict().DecodeString(plain[4:])
		if err != nil || len(raw) != 32 {
			t.Fatalf("key body decodes to %d bytes, %v; want 32", len(raw), err)
		}
		if len(id) != 16 || strings.Trim(id, "0123456789abcdef") != "" {
			t.Fatalf("id %q is not 16 hex digits", id)
		}
		if strings.Contains(plain, id) {
			t.Fatalf("id %s is part of its key", id)
		}
		if seenKeys[plain] || seenIDs[id] {
			t.Fatal("NewAPIKey repeated a key or an id")
		}
		seenKeys[plain], seenIDs[id] = true, true
	}
}

// TestAPIKeySecretRedacts formats a key every way a log line or a response could, and
// checks that only Reveal shows it.
func TestAPIKeySecretRedacts(t *testing.T) {
	key, _ := persistence.NewAPIKey()
	plain := key.Reveal()

	type holder struct {
		Exported persistence.APIKeySecret
		hidden   persistence.APIKeySecret
	}
	h := holder{key, key}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("created", "key", key, "holder", h)
	asJSON, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	asText, err := key.MarshalText()
	if err != nil {
		t.Fatal(err)
	}

	outputs := map[string]string{
		"%v": fmt.Sprintf("%v", key), "%s": fmt.Sprintf("%s", key),
		"%q": fmt.Sprintf("%q", key), "%#v": fmt.Sprintf("%#v", key),
		"%x": fmt.Sprintf("%x", key), "%d": fmt.Sprintf("%d", key),
		"struct %+v": fmt.Sprintf("%+v", h), "struct %#v": fmt.Sprintf("%#v", h),
		"pointer %v": fmt.Sprintf("%v", &h), "String": key.String(),
		"slog": logged.String(), "json": string(asJSON), "text": string(asText),
	}
	for name, out := range outputs {
		if strings.Contains(out, plain) || strings.Contains(out, plain[4:20]) {
			t.Errorf("%s shows the key: %s", name, out)
		}
	}
	if !strings.Contains(outputs["%v"], "[redacted]") {
		t.Errorf("%%v = %q, want [redacted]", outputs["%v"])
	}
	if (persistence.APIKeySecret{}).Reveal() != "" {
		t.Error("the zero APIKeySecret reveals something")
	}
}

func TestHashAPIKey(t *testing.T) {
	key, _ := persistence.NewAPIKey()
	plain := key.Reveal()
	got, err := persistence.HashAPIKey(plain)
	if err != nil || got != key.Hash() {
		t.Fatalf("HashAPIKey(new key) = %x, %v; want %x", got, err, key.Hash())
	}

	cases := []struct{ name, key string }{
		{"empty", ""},
		{"prefix only", persistence.APIKeyPrefix},
		{"no prefix", plain[4:] + "xxxx"},
		{"other prefix", "wcx_" + plain[4:]},
		{"upper-case prefix", "WCK_" + plain[4:]},
		{"one short", plain[:len(plain)-1]},
		{"one long", plain + "A"},
		{"padding", plain[:len(plain)-1] + "="},
		{"standard base64", plain[:len(plain)-1] + "+"},
		{"space", plain[:len(plain)-1] + " "},
		{"bearer token", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := persistence.HashAPIKey(c.key)
			if !errors.Is(err, persistence.ErrMalformedAPIKey) {
				t.Fatalf("HashAPIKey = %v, want ErrMalformedAPIKey", err)
			}
			if len(c.key) > 8 && strings.Contains(err.Error(), c.key) {
				t.Errorf("the error quotes the key: %v", err)
			}
		})
	}
}
