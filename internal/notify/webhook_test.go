package notify

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestWebhookPostSigned(t *testing.T) {
	r := newReceiver(t, http.StatusNoContent)
	w := newTestWebhook(t, r.srv.URL+"/hooks/ops", time.Second)
	body := []byte(`{"kind":"accuracy_degraded"}`)

	if err := w.Post(testContext(t), "alert-42-degraded", body); err != nil {
		t.Fatalf("Post: %v", err)
	}

	got := r.got()
	if len(got) != 1 {
		t.Fatalf("receiver got %d requests, want 1", len(got))
	}
	req := got[0]
	if req.verifyErr != nil {
		t.Errorf("receiver's Verify: %v", req.verifyErr)
	}
	if string(req.body) != string(body) {
		t.Errorf("body %q, want %q", req.body, body)
	}
	wantHeaders := map[string]string{
		"Content-Type":    "application/json",
		"User-Agent":      "whalecast",
		"Idempotency-Key": "alert-42-degraded",
	}
	for name, want := range wantHeaders {
		if got := req.header.Get(name); got != want {
			t.Errorf("header %s = %q, want %q", name, got, want)
		}
	}
}

func TestWebhookStatuses(t *testing.T) {
	tests := []struct {
		status    int
		wantErr   bool
		retryable bool
	}{
		{status: http.StatusOK},
		{status: http.StatusCreated},
		{status: http.StatusAccepted},
		{status: http.StatusNoContent},
		{status: http.StatusMovedPermanently, wantErr: true},
		{status: http.StatusNotModified, wantErr: true},
		{status: http.StatusBadRequest, wantErr: true},
		{status: http.StatusUnauthorized, wantErr: true},
		{status: http.StatusNotFound, wantErr: true},
		{status: http.StatusConflict, wantErr: true},
		{status: http.StatusTooManyRequests, wantErr: true, retryable: true},
		{status: http.StatusInternalServerError, wantErr: true, retryable: true},
		{status: http.StatusBadGateway, wantErr: true, retryable: true},
		{status: http.StatusServiceUnavailable, wantErr: true, retryable: true},
	}
	for _, tt := range tests {
		t.Run(http.StatusText(tt.status), func(t *testing.T) {
			r := newReceiver(t, tt.status)
			w := newTestWebhook(t, r.srv.URL, time.Second)

			err := w.Post(testContext(t), "k1", []byte(`{}`))

			if n := r.hits.Load(); n != 1 {
				t.Errorf("receiver hit %d times, want 1", n)
			}
			if !tt.wantErr {
				if err != nil {
					t.Errorf("Post: %v, want success", err)
				}
				return
			}
			var de *DeliveryError
			if !errors.As(err, &de) {
				t.Fatalf("Post error %v (%T), want *DeliveryError", err, err)
			}
			if de.StatusCode != tt.status || de.Retryable() != tt.retryable {
				t.Errorf("status %d retryable %v, want %d %v", de.StatusCode, de.Retryable(),
					tt.status, tt.retryable)
			}
			if Retryable(err) != tt.retryable {
				t.Errorf("Retryable(err) = %v, want %v", Retryable(err), tt.retryable)
			}
		})
	}
}

func TestWebhookRedirectNotFollowed(t *testing.T) {
	var elsewhere atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		elsewhere.Add(1)
	}))
	t.Cleanup(other.Close)
	redirector := httptest.NewServer(http.HandlerFunc(
		func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, other.URL+"/stolen", http.StatusFound)
		}))
	t.Cleanup(redirector.Close)
	w := newTestWebhook(t, redirector.URL, time.Second)

	err := w.Post(testContext(t), "k1", []byte(`{}`))

	var de *DeliveryError
	if !errors.As(err, &de) || de.StatusCode != http.StatusFound || de.Retryable() {
		t.Fatalf("Post error %v, want a non-retryable *DeliveryError with status 302", err)
	}
	if !strings.Contains(err.Error(), "302") || !strings.Contains(err.Error(), "redirect") {
		t.Errorf("error %q does not name the redirect status", err)
	}
	if n := elsewhere.Load(); n != 0 {
		t.Errorf("redirect target contacted %d times, want 0", n)
	}
}

func TestWebhookTimeout(t *testing.T) {
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(hang.Close)
	t.Cleanup(func() { close(release) })
	w := newTestWebhook(t, hang.URL, 100*time.Millisecond)

	start := time.Now()
	err := w.Post(testContext(t), "k1", []byte(`{}`))

	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("Post took %v with a 100ms timeout", took)
	}
	var de *DeliveryError
	if !errors.As(err, &de) || !de.Retryable() || de.StatusCode != 0 {
		t.Fatalf("Post error %v, want a retryable *DeliveryError without status", err)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v does not wrap context.DeadlineExceeded", err)
	}
}

func TestWebhookCallerCancel(t *testing.T) {
	r := newReceiver(t, http.StatusOK)
	w := newTestWebhook(t, r.srv.URL, time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	err := w.Post(ctx, "k1", []byte(`{}`))

	if err == nil || Retryable(err) {
		t.Errorf("Post with a cancelled context: %v, want a non-retryable error", err)
	}
}

func TestWebhookLargeResponseBody(t *testing.T) {
	big := strings.Repeat("x", 1<<20)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(big))
	}))
	t.Cleanup(srv.Close)
	w := newTestWebhook(t, srv.URL, time.Second)

	err := w.Post(testContext(t), "k1", []byte(`{}`))

	if err == nil || strings.Contains(err.Error(), "xxxx") {
		t.Errorf("Post error %v, want a status error without the response body", err)
	}
}

func TestWebhookErrorsHideURLPathAndQuery(t *testing.T) {
	r := newReceiver(t, http.StatusInternalServerError)
	refused := httptest.NewServer(http.NotFoundHandler())
	refusedURL := refused.URL
	refused.Close()
	tests := []struct {
		name string
		url  string
	}{
		{"status", r.srv.URL + "/services/T0/B0/pathtoken?token=querytoken"},
		{"connection refused", refusedURL + "/services/T0/B0/pathtoken?token=querytoken"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newTestWebhook(t, tt.url, time.Second)

			err := w.Post(testContext(t), "k1", []byte(`{}`))

			if err == nil {
				t.Fatal("Post succeeded, want an error")
			}
			for _, secret := range []string{"pathtoken", "querytoken", string(testSecret)} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q reveals %q", err, secret)
				}
			}
			if !strings.Contains(err.Error(), "127.0.0.1") {
				t.Errorf("error %q does not name the host", err)
			}
		})
	}
}

func TestWebhookInvalidKey(t *testing.T) {
	r := newReceiver(t, http.StatusOK)
	w := newTestWebhook(t, r.srv.URL, time.Second)
	tests := []struct{ name, key string }{
		{"empty", ""},
		{"space", "a b"},
		{"newline", "a\r\nX-Injected: 1"},
		{"non-ASCII", "clé"},
		{"too long", strings.Repeat("k", MaxKeyLen+1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := w.Post(testContext(t), tt.key, []byte(`{}`))
			if !errors.Is(err, ErrInvalidKey) || Retryable(err) {
				t.Errorf("Post(key %q) error %v, want non-retryable ErrInvalidKey", tt.key, err)
			}
		})
	}
	if n := r.hits.Load(); n != 0 {
		t.Errorf("receiver hit %d times by invalid keys, want 0", n)
	}
}

func TestNewWebhookValidation(t *testing.T) {
	tests := []struct {
		name string
		cfg  WebhookConfig
		want string
	}{
		{"ftp scheme", WebhookConfig{URL: "ftp://127.0.0.1/x", Secret: testSecret}, "scheme"},
		{"no scheme", WebhookConfig{URL: "127.0.0.1:8080/x", Secret: testSecret}, ""},
		{"relative", WebhookConfig{URL: "/hooks", Secret: testSecret}, "scheme"},
		{"no host", WebhookConfig{URL: "http:///hooks", Secret: testSecret}, "host"},
		{"port only", WebhookConfig{URL: "http://:8080/hooks", Secret: testSecret}, "host"},
		{
			"userinfo",
			WebhookConfig{URL: "https://ops:" + testPassword + "@127.0.0.1/", Secret: testSecret},
			"userinfo",
		},
		{"short secret", WebhookConfig{URL: "https://127.0.0.1/", Secret: []byte("short")},
			"secret is 5 bytes"},
		{"no secret", WebhookConfig{URL: "https://127.0.0.1/"}, "secret is 0 bytes"},
		{
			"negative timeout",
			WebhookConfig{URL: "https://127.0.0.1/", Secret: testSecret, Timeout: -1},
			"timeout",
		},
		{"bad URL", WebhookConfig{URL: "http://[::1", Secret: testSecret}, "parse"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewWebhook(tt.cfg)
			if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("NewWebhook error %v, want ErrInvalidConfig mentioning %q", err, tt.want)
			}
			if strings.Contains(err.Error(), testPassword) {
				t.Errorf("error reveals the URL's password: %v", err)
			}
		})
	}
}

func TestWebhookClientSettings(t *testing.T) {
	own := newTestWebhook(t, "https://127.0.0.1/", 0)
	supplied, err := NewWebhook(WebhookConfig{URL: "https://127.0.0.1/", Secret: testSecret,
		Client: &http.Client{}})
	if err != nil {
		t.Fatalf("NewWebhook: %v", err)
	}

	for name, w := range map[string]*Webhook{"own": own, "supplied": supplied} {
		tr, ok := w.client.Transport.(*http.Transport)
		if !ok || tr.Proxy != nil {
			t.Errorf("%s client: transport %T with a proxy function, want none", name,
				w.client.Transport)
		}
		if w.client.CheckRedirect == nil {
			t.Errorf("%s client follows redirects", name)
		}
	}
	if own.timeout != DefaultWebhookTimeout {
		t.Errorf("timeout %v, want the default %v", own.timeout, DefaultWebhookTimeout)
	}
	tr := own.client.Transport.(*http.Transport)
	if tr.MaxResponseHeaderBytes != maxResponseHeader || !tr.DisableCompression ||
		tr.ResponseHeaderTimeout != DefaultWebhookTimeout || tr.MaxConnsPerHost < 1 ||
		tr.IdleConnTimeout <= 0 || tr.ExpectContinueTimeout != 0 {
		t.Errorf("transport: headers %d B, compression off %v, header timeout %v, conns %d, "+
			"idle %v, expect-continue %v; want bounded", tr.MaxResponseHeaderBytes,
			tr.DisableCompression, tr.ResponseHeaderTimeout, tr.MaxConnsPerHost,
			tr.IdleConnTimeout, tr.ExpectContinueTimeout)
	}
}

// TestWebhookHugeResponseHeaders posts to a receiver that answers with a megabyte of
// headers: the attempt fails at once, retryable, having read no more than the bound.
func TestWebhookHugeResponseHeaders(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		for i := range 64 {
			w.Header().Set("X-Padding-"+strconv.Itoa(i), strings.Repeat("p", 16<<10))
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	w := newTestWebhook(t, srv.URL, 5*time.Second)
	defer w.CloseIdleConnections()

	start := time.Now()
	err := w.Post(testContext(t), "k1", []byte(`{}`))

	if err == nil {
		t.Fatal("Post succeeded with 1 MiB of response headers, want a failure")
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("Post took %v, want a quick failure", took)
	}
	if !Retryable(err) || PublicReason(err) != "response headers too large" {
		t.Errorf("Post error %v (%q): want a retryable failure, response headers too large",
			err, PublicReason(err))
	}
}

// resolverFunc resolves with a function.
type resolverFunc func(ctx context.Context, network, host string) ([]netip.Addr, error)

func (f resolverFunc) LookupNetIP(ctx context.Context, network, host string) (
	[]netip.Addr, error) {
	return f(ctx, network, host)
}

// TestPublicReason fails posts every way a receiver or the network can, and checks that
// the reason shown to a webhook's owner names the kind of failure and nothing of the
// engine's network: no resolver, no address a name resolved to.
func TestPublicReason(t *testing.T) {
	down := httptest.NewServer(http.NotFoundHandler())
	downURL := down.URL
	down.Close()
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter,
		r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(hang.Close)
	t.Cleanup(func() { close(release) })
	redirect := httptest.NewServer(http.RedirectHandler("http://10.0.0.1/", http.StatusFound))
	t.Cleanup(redirect.Close)
	failing := newReceiver(t, http.StatusInternalServerError)
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(failing.srv.URL, "http://"))

	resolver := resolverFunc(func(_ context.Context, _, host string) ([]netip.Addr, error) {
		switch host {
		case "loopback.test":
			return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
		case "empty.test":
			return nil, nil
		}
		return nil, &net.DNSError{Err: "no such host", Name: host,
			Server: "10.255.255.53:53", IsNotFound: true}
	})
	open := newTestGuard(t, resolver, "127.0.0.1/32")
	strict := newTestGuard(t, resolver)

	tests := []struct {
		name    string
		url     string
		guard   *Guard
		timeout time.Duration
		want    string
	}{
		{"status", failing.srv.URL, open, time.Second, "http 500"},
		{"redirect", redirect.URL, open, time.Second, "redirect not followed (http 302)"},
		{"unknown name", "http://nowhere.test:" + port + "/", open, time.Second,
			"dns lookup failed"},
		{"name without addresses", "http://empty.test:" + port + "/", open, time.Second,
			"dns lookup failed"},
		{"name to a refused address", "http://loopback.test:" + port + "/", strict,
			time.Second, "address refused by the engine's policy"},
		{"refused literal", failing.srv.URL, strict, time.Second,
			"address refused by the engine's policy"},
		{"connection refused", downURL, open, time.Second, "connection refused"},
		{"timeout", hang.URL, open, 100 * time.Millisecond, "timed out"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := NewWebhook(WebhookConfig{URL: tt.url, Secret: testSecret,
				Timeout: tt.timeout, Guard: tt.guard})
			if err != nil {
				t.Fatal(err)
			}
			defer w.CloseIdleConnections()

			got := PublicReason(w.Post(testContext(t), "k1", []byte(`{}`)))

			if got != tt.want {
				t.Errorf("reason: got %q, want %q", got, tt.want)
			}
		})
	}
	if got := PublicReason(nil); got != "" {
		t.Errorf("reason of nil: got %q, want empty", got)
	}
}
