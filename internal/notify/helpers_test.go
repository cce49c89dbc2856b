package notify

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// testSecret is a webhook secret long enough for NewWebhook; tests look for it in output.
var testSecret = []byte("whsec-test-0123456789abcdef-0123456789")

// testPassword is the mail password; tests look for it in output.
const testPassword = "hunter2-mail-password"

// testTimeout bounds every wait of a test.
const testTimeout = 5 * time.Second

// receiver is an httptest server on 127.0.0.1 that verifies each request's signature and
// answers with the next status of its script (the last one repeats).
type receiver struct {
	srv      *httptest.Server
	statuses []int

	mu       sync.Mutex
	requests []receivedRequest
	hits     atomic.Int32
}

// receivedRequest is what the receiver saw of one request.
type receivedRequest struct {
	header    http.Header
	body      []byte
	verifyErr error
}

// newReceiver starts a receiver answering with statuses in turn; it is closed at cleanup.
func newReceiver(tb testing.TB, statuses ...int) *receiver {
	tb.Helper()
	r := &receiver{statuses: statuses}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	tb.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	err := Verify(testSecret, req.Header.Get(SignatureHeader), body, time.Now(),
		DefaultTolerance)
	n := int(r.hits.Add(1))

	r.mu.Lock()
	r.requests = append(r.requests, receivedRequest{req.Header.Clone(), body, err})
	r.mu.Unlock()

	w.WriteHeader(r.statuses[min(n, len(r.statuses))-1])
}

// got returns a copy of the requests received so far.
func (r *receiver) got() []receivedRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]receivedRequest(nil), r.requests...)
}

// newTestWebhook returns a Webhook posting to url with testSecret, failing tb on error.
func newTestWebhook(tb testing.TB, url string, timeout time.Duration) *Webhook {
	tb.Helper()
	w, err := NewWebhook(WebhookConfig{URL: url, Secret: testSecret, Timeout: timeout})
	if err != nil {
		tb.Fatalf("NewWebhook: %v", err)
	}
	return w
}

// logBuffer collects log output from several goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything logged so far.
func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// count returns how many lines hold s.
func (b *logBuffer) count(s string) int {
	n := 0
	for line := range strings.Lines(b.String()) {
		if strings.Contains(line, s) {
			n++
		}
	}
	return n
}

// newLogger returns a JSON logger writing to a new logBuffer.
func newLogger() (*slog.Logger, *logBuffer) {
	b := &logBuffer{}
	return slog.New(slog.NewJSONHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}

// testContext returns a context ending after testTimeout, cancelled at cleanup.
func testContext(tb testing.TB) context.Context {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	tb.Cleanup(cancel)
	return ctx
}

// waitFor polls cond every 5ms until it holds, failing tb after testTimeout.
func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(testTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
