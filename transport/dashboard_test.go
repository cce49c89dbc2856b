package transport

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// dashboardGet sends method path to the fixture with the given headers and returns the
// answer with its whole body.
func dashboardGet(tb testing.TB, f *fixture, method, path string,
	header http.Header) (*http.Response, []byte) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, f.url+path, nil)
	if err != nil {
		tb.Fatalf("request: %v", err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		tb.Fatalf("read body: %v", err)
	}
	return resp, body
}

// checkDashboardHeaders checks the security headers every dashboard answer carries.
func checkDashboardHeaders(tb testing.TB, h http.Header) {
	tb.Helper()
	want := map[string]string{
		"Content-Security-Policy":      DashboardCSP,
		"X-Content-Type-Options":       "nosniff",
		"Referrer-Policy":              "no-referrer",
		"X-Frame-Options":              "DENY",
		"Cross-Origin-Opener-Policy":   "same-origin",
		"Cross-Origin-Resource-Policy": "same-origin",
	}
	for name, v := range want {
		if got := h.Get(name); got != v {
			tb.Errorf("%s: got %q, want %q", name, got, v)
		}
	}
}

func TestDashboardServesItsAssets(t *testing.T) {
	f := newFixture(t, nil)
	tests := []struct {
		name, path, file, ctype string
	}{
		{"page", "/", "index.html", "text/html; charset=utf-8"},
		{"script", "/app.js", "app.js", "text/javascript; charset=utf-8"},
		{"style sheet", "/app.css", "app.css", "text/css; charset=utf-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want, err := dashboardFiles.ReadFile("dashboard/" + tt.file)
			if err != nil {
				t.Fatal(err)
			}
			resp, body := dashboardGet(t, f, http.MethodGet, tt.path, nil)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status: got %d, want 200", resp.StatusCode)
			}
			if !bytes.Equal(body, want) {
				t.Errorf("body: got %d bytes, want the %d of %s", len(body), len(want), tt.file)
			}
			if got := resp.Header.Get("Content-Type"); got != tt.ctype {
				t.Errorf("Content-Type: got %q, want %q", got, tt.ctype)
			}
			if got := resp.Header.Get("Cache-Control"); got != "no-cache" {
				t.Errorf("Cache-Control: got %q, want no-cache", got)
			}
			checkDashboardHeaders(t, resp.Header)

			etag := resp.Header.Get("ETag")
			if !strings.HasPrefix(etag, `"`) || len(etag) < 10 {
				t.Fatalf("ETag: got %q, want a strong validator", etag)
			}
			again, body := dashboardGet(t, f, http.MethodGet, tt.path,
				http.Header{"If-None-Match": {etag}})
			if again.StatusCode != http.StatusNotModified || len(body) != 0 {
				t.Errorf("revalidation: got %d with %d bytes, want 304 and none",
					again.StatusCode, len(body))
			}
			checkDashboardHeaders(t, again.Header)

			head, body := dashboardGet(t, f, http.MethodHead, tt.path, nil)
			if head.StatusCode != http.StatusOK || len(body) != 0 ||
				head.Header.Get("Content-Type") != tt.ctype {
				t.Errorf("HEAD: got %d, %q, %d bytes; want 200, %q, none", head.StatusCode,
					head.Header.Get("Content-Type"), len(body), tt.ctype)
			}
		})
	}
}

func TestDashboardServesNothingElse(t *testing.T) {
	f := newFixture(t, nil)
	tests := []struct {
		name, method, path string
		status             int
	}{
		{"other path", http.MethodGet, "/index.html", http.StatusNotFound},
		{"path under the page", http.MethodGet, "/alerts", http.StatusNotFound},
		{"path under an asset", http.MethodGet, "/app.js/x", http.StatusNotFound},
		{"post to the page", http.MethodPost, "/", http.StatusMethodNotAllowed},
		{"query string", http.MethodGet, "/?token=abc", http.StatusBadRequest},
		{"query string on an asset", http.MethodGet, "/app.js?v=2", http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, _ := dashboardGet(t, f, tt.method, tt.path, nil)
			if resp.StatusCode != tt.status {
				t.Errorf("got %d, want %d", resp.StatusCode, tt.status)
			}
			if tt.status == http.StatusBadRequest {
				checkDashboardHeaders(t, resp.Header)
			}
		})
	}
}

// TestDashboardAssetsKeepTheirRules reads the embedded files for what the Content-Security-
// Policy would block or what the dashboard promises never to do, so that a change is caught
// here before a browser test.
func TestDashboardAssetsKeepTheirRules(t *testing.T) {
	tests := []struct {
		name string
		file string
		// bad matches what must not be there.
		bad *regexp.Regexp
	}{
		{"no style element", "index.html", regexp.MustCompile(`(?i)<style`)},
		{"no style attribute", "index.html", regexp.MustCompile(`(?i)\sstyle\s*=`)},
		{"no event handler attribute", "index.html", regexp.MustCompile(`(?i)\son[a-z]+\s*=`)},
		{"no javascript URL", "index.html", regexp.MustCompile(`(?i)javascript:`)},
		{"no third-party URL", "index.html", regexp.MustCompile(`(?i)(?:src|href)\s*=\s*"` +
			`(?:[a-z]+:|//)`)},
		{"no HTML from data", "app.js", regexp.MustCompile(
			`innerHTML|outerHTML|insertAdjacentHTML|document\.write`)},
		{"no eval", "app.js", regexp.MustCompile(`\beval\(|new Function|setTimeout\("`)},
		{"no localStorage or cookie", "app.js", regexp.MustCompile(
			`localStorage|document\.cookie`)},
		{"no token in a URL", "app.js", regexp.MustCompile(`[?&](?:token|access_token)=`)},
		{"no third-party fetch", "app.js", regexp.MustCompile(`(?i)https?://`)},
		{"no imports or remote fonts", "app.css", regexp.MustCompile(`(?i)@import|url\(`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, err := dashboardFiles.ReadFile("dashboard/" + tt.file)
			if err != nil {
				t.Fatal(err)
			}
			text := string(body)
			if m := tt.bad.FindString(text); m != "" {
				t.Errorf("%s holds %q", tt.file, m)
			}
		})
	}
}

// TestDashboardScriptIsAFile checks that the page's only script element loads app.js and
// holds no code of its own.
func TestDashboardScriptIsAFile(t *testing.T) {
	page, err := dashboardFiles.ReadFile("dashboard/index.html")
	if err != nil {
		t.Fatal(err)
	}
	scripts := regexp.MustCompile(`(?is)<script\b.*?</script>`).FindAllString(string(page), -1)
	want := []string{`<script src="/app.js" defer></script>`}
	if strings.Join(scripts, "\n") != strings.Join(want, "\n") {
		t.Errorf("script elements: got %q, want %q", scripts, want)
	}
}
