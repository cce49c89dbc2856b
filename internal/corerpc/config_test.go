package corerpc

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeCookie writes contents to a cookie file in a temporary directory.
func writeCookie(tb testing.TB, contents string) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), ".cookie")
	if err := os.WriteFile(path, []byte(contents), 0o600); err != nil {
		tb.Fatalf("write cookie: %v", err)
	}
	return path
}

func TestNewRefuses(t *testing.T) {
	const url = "http://127.0.0.1:8332"
	user := func(u string) Config { return Config{URL: u, User: "alice", Password: testPassword} }
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"empty URL", user(""), "scheme must be"},
		{"ftp", user("ftp://127.0.0.1:8332"), "scheme must be"},
		{"no scheme", user("127.0.0.1:8332"), "URL"},
		{"opaque", user("http:127.0.0.1:8332"), "scheme://host:port"},
		{"userinfo", user("http://alice:" + testPassword + "@127.0.0.1:8332"),
			"must not carry credentials"},
		{"user only", user("http://" + testPassword + "@127.0.0.1:8332"),
			"must not carry credentials"},
		{"userinfo and bad port", user("http://a:" + testPassword + "@127.0.0.1:x"),
			"does not parse"},
		{"query", user(url + "/?token=" + testPassword), "must not carry a query"},
		{"empty query", user(url + "/?"), "must not carry a query"},
		{"fragment", user(url + "#" + testPassword), "must not carry a fragment"},
		{"wallet path", user(url + "/wallet/hot"), "must not carry a path"},
		{"no port", user("http://127.0.0.1"), "host and a port"},
		{"no host", user("http://:8332"), "host and a port"},
		{"port 0", user("http://127.0.0.1:0"), "port must be"},
		{"port too big", user("http://127.0.0.1:65536"), "port must be"},
		{"cookie and user", Config{URL: url, CookieFile: "/c", User: "a"}, "not both"},
		{"cookie and password", Config{URL: url, CookieFile: "/c", Password: "p"},
			"not both"},
		{"no credentials", Config{URL: url}, "set CookieFile, or both"},
		{"user without password", Config{URL: url, User: "alice"}, "set CookieFile, or both"},
		{"password without user", Config{URL: url, Password: testPassword},
			"set CookieFile, or both"},
		{"colon in user", Config{URL: url, User: "a:b", Password: "p"}, "may not contain"},
		{"negative timeout", Config{URL: url, User: "a", Password: "p", Timeout: -1},
			"negative Timeout"},
		{"negative limit", Config{URL: url, User: "a", Password: "p", MaxResponse: -1},
			"MaxResponse"},
		{"limit too big", Config{URL: url, User: "a", Password: "p", MaxResponse: 1<<30 + 1},
			"MaxResponse"},
		{"missing cookie", Config{URL: url, CookieFile: filepath.Join(t.TempDir(), "none")},
			"read cookie"},
		{"empty cookie", Config{URL: url, CookieFile: writeCookie(t, "")}, "not user:password"},
		{"cookie without colon", Config{URL: url, CookieFile: writeCookie(t, testPassword)},
			"not user:password"},
		{"cookie without password", Config{URL: url, CookieFile: writeCookie(t,
			"__cookie__:")}, "not user:password"},
		{"cookie too large", Config{URL: url, CookieFile: writeCookie(t, "__cookie__:"+
			strings.Repeat(testPassword, 100))}, "larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(tt.cfg)
			if c != nil || !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("got %v, %v; want nil and ErrInvalidConfig", c, err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %q, want it to contain %q", err, tt.want)
			}
			if strings.Contains(err.Error(), testPassword) {
				t.Errorf("error %q shows the password", err)
			}
		})
	}
}

func TestNewAccepts(t *testing.T) {
	tests := []struct {
		name            string
		cfg             Config
		wantTimeout     time.Duration
		wantMaxResponse int64
		wantUser        string
	}{
		{"defaults", Config{URL: "http://127.0.0.1:8332", User: "a", Password: "p"},
			DefaultTimeout, DefaultMaxResponse, "a"},
		{"https with slash", Config{URL: "https://127.0.0.1:8332/", User: "a",
			Password: "p", Timeout: time.Second, MaxResponse: 1 << 20},
			time.Second, 1 << 20, "a"},
		{"ipv6", Config{URL: "http://[::1]:18443", User: "a", Password: "p"},
			DefaultTimeout, DefaultMaxResponse, "a"},
		{"cookie with newline", Config{URL: "http://127.0.0.1:8332",
			CookieFile: writeCookie(t, "__cookie__:abc123\n")},
			DefaultTimeout, DefaultMaxResponse, "__cookie__"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(tt.cfg)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			if c.http.Timeout != tt.wantTimeout || c.maxResponse != tt.wantMaxResponse {
				t.Errorf("got timeout %v, limit %d; want %v, %d", c.http.Timeout,
					c.maxResponse, tt.wantTimeout, tt.wantMaxResponse)
			}
			if got := c.creds.Load().user; got != tt.wantUser {
				t.Errorf("user: got %q, want %q", got, tt.wantUser)
			}
			transport, ok := c.http.Transport.(*http.Transport)
			if !ok || transport.Proxy != nil {
				t.Errorf("transport %T: want an *http.Transport with no proxy", c.http.Transport)
			}
			if c.http.CheckRedirect == nil {
				t.Error("CheckRedirect is nil: redirects would be followed")
			}
		})
	}
}

func TestConfigRedactsSecrets(t *testing.T) {
	cfg := Config{
		URL: "http://bob:" + testPassword + "@127.0.0.1:8332/?token=" + testPassword +
			"#" + testPassword,
		User:     "alice",
		Password: testPassword,
		Timeout:  time.Second,
	}
	var text, js bytes.Buffer
	slog.New(slog.NewTextHandler(&text, nil)).Info("rpc config", "config", cfg)
	slog.New(slog.NewJSONHandler(&js, nil)).Info("rpc config", "config", &cfg)
	client, err := New(Config{URL: "http://127.0.0.1:8332", User: "alice",
		Password: testPassword})
	if err != nil {
		t.Fatalf("New: %v", err)
	}

	tests := []struct {
		name string
		got  string
	}{
		{"%v", fmt.Sprintf("%v", cfg)},
		{"url", redactURL(cfg.URL)},
		{"%+v", fmt.Sprintf("%+v", cfg)},
		{"%#v", fmt.Sprintf("%#v", cfg)},
		{"%s of pointer", fmt.Sprintf("%s", &cfg)},
		{"slog text", text.String()},
		{"slog json", js.String()},
		{"client %+v", fmt.Sprintf("%+v", client)},
		{"client %#v", fmt.Sprintf("%#v", client)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if strings.Contains(tt.got, testPassword) {
				t.Errorf("%s shows the password", tt.got)
			}
			if strings.HasPrefix(tt.name, "client") || tt.name == "url" {
				return
			}
			if !strings.Contains(tt.got, "alice") || !strings.Contains(tt.got, redacted) {
				t.Errorf("%s: want the user and %s", tt.got, redacted)
			}
		})
	}
}
