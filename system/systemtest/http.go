package systemtest

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"
)

// maxBody bounds what Get reads of an answer.
const maxBody = 1 << 20

// getTimeout bounds one Get.
const getTimeout = 20 * time.Second

// Get sends GET url with tok as Bearer token (none when empty) and returns the answer's
// status, headers and body (at most 1 MiB). It fails tb if no answer comes.
func Get(tb testing.TB, url, tok string) (int, http.Header, []byte) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), getTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		tb.Fatalf("request %s: %v", url, err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		tb.Fatalf("GET %s: read body: %v", url, err)
	}
	return resp.StatusCode, resp.Header, body
}
