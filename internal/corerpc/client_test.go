package corerpc

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// testCtx returns a context that ends with the test or after ten seconds.
func testCtx(tb testing.TB) context.Context {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

func TestRequestShape(t *testing.T) {
	node := newFakeNode(t)
	c := node.client(t, Config{})

	var ids []uint64
	for height := range int64(2) {
		_, _ = c.BlockHash(testCtx(t), 277647+height)
		node.mu.Lock()
		header, body := node.lastHeader, node.lastBody
		node.mu.Unlock()

		var req map[string]any
		if err := json.Unmarshal(body, &req); err != nil {
			t.Fatalf("request %s: %v", body, err)
		}
		if got := header.Get("Content-Type"); got != "application/json" {
			t.Errorf("Content-Type: got %q, want application/json", got)
		}
		if req["jsonrpc"] != "1.0" || req["method"] != "getblockhash" {
			t.Errorf("request %s: want jsonrpc 1.0 and method getblockhash", body)
		}
		params, _ := req["params"].([]any)
		if len(params) != 1 || params[0] != float64(277647+height) {
			t.Errorf("params: got %v, want [%d]", req["params"], 277647+height)
		}
		id, _ := req["id"].(float64)
		ids = append(ids, uint64(id))
	}
	if ids[0] == 0 || ids[1] != ids[0]+1 {
		t.Errorf("ids %v: want a counter", ids)
	}
}

// status answers every request with status and body.
func status(code int, body string) func(http.ResponseWriter, *http.Request, []byte) bool {
	return func(w http.ResponseWriter, _ *http.Request, _ []byte) bool {
		w.Header().Set("Content-Type", "text/html; charset=ISO-8859-1")
		w.WriteHeader(code)
		_, _ = w.Write([]byte(body))
		return true
	}
}

// rawReply answers every request with status 200 and a JSON body.
func rawReply(body string) func(http.ResponseWriter, *http.Request, []byte) bool {
	return func(w http.ResponseWriter, _ *http.Request, _ []byte) bool {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(body))
		return true
	}
}

func TestErrors(t *testing.T) {
	best := func(ctx context.Context, c *Client) error {
		_, err := c.BestBlockHash(ctx)
		return err
	}
	tests := []struct {
		name         string
		setup        func(f *fakeNode)
		call         func(ctx context.Context, c *Client) error
		wantIs       error
		wantCode     int
		wantStatus   int
		wantBody     string
		wantRequests int
	}{
		{name: "wrong password", setup: func(f *fakeNode) { f.password = "other" },
			call: best, wantIs: ErrUnauthorized, wantRequests: 1},
		{name: "forbidden", setup: func(f *fakeNode) { f.override = status(403, "") },
			call: best, wantIs: ErrUnauthorized, wantRequests: 1},
		{name: "method not found", setup: func(f *fakeNode) {
			f.disabled["getbestblockhash"] = true
		}, call: best, wantCode: CodeMethodNotFound, wantRequests: 1},
		{name: "warming up", setup: func(f *fakeNode) { f.warmup = "Loading block index…" },
			call: best, wantCode: CodeInWarmup, wantRequests: 1},
		{name: "height out of range", call: func(ctx context.Context, c *Client) error {
			_, err := c.BlockHash(ctx, 900_000)
			return err
		}, wantCode: CodeInvalidParameter, wantRequests: 1},
		{name: "unknown block", call: func(ctx context.Context, c *Client) error {
			_, err := c.Block(ctx, strings.Repeat("0", 64))
			return err
		}, wantCode: CodeNotFound, wantRequests: 1},
		{name: "work queue full", setup: func(f *fakeNode) {
			f.override = status(503, "Work queue depth exceeded")
		}, call: best, wantStatus: 503, wantBody: "Work queue depth exceeded", wantRequests: 1},
		{name: "long error page", setup: func(f *fakeNode) {
			f.override = status(502, strings.Repeat("é", 150))
		}, call: best, wantStatus: 502, wantBody: strings.Repeat("é", 100), wantRequests: 1},
		{name: "500 without error object", setup: func(f *fakeNode) {
			f.override = status(500, `{"result":"00","error":null,"id":1}`)
		}, call: best, wantStatus: 500, wantBody: `{"result":"00"`, wantRequests: 1},
		{name: "redirect not followed", setup: func(f *fakeNode) {
			f.override = func(w http.ResponseWriter, r *http.Request, _ []byte) bool {
				http.Redirect(w, r, "/elsewhere", http.StatusTemporaryRedirect)
				return true
			}
		}, call: best, wantStatus: 307, wantRequests: 1},
		{name: "not JSON", setup: func(f *fakeNode) { f.override = rawReply("<html>") },
			call: best, wantIs: ErrBadResponse, wantRequests: 1},
		{name: "null result", setup: func(f *fakeNode) {
			f.override = rawReply(`{"result":null,"error":null,"id":1}`)
		}, call: best, wantIs: ErrBadResponse, wantRequests: 1},
		{name: "wrong id", setup: func(f *fakeNode) {
			f.override = rawReply(`{"result":"` + strings.Repeat("a", 64) +
				`","error":null,"id":99999}`)
		}, call: best, wantIs: ErrBadResponse, wantRequests: 1},
		{name: "error object with 200", setup: func(f *fakeNode) {
			f.override = rawReply(`{"result":null,"error":{"code":-1,"message":"x"},"id":1}`)
		}, call: best, wantCode: -1, wantRequests: 1},
		{name: "hash not hex", setup: func(f *fakeNode) {
			f.best = strings.Repeat("z", 64)
		}, call: best, wantIs: ErrBadResponse, wantRequests: 1},
		{name: "block not hex", setup: func(f *fakeNode) {
			f.override = rawReply(`{"result":"abc","error":null,"id":1}`)
		}, call: func(ctx context.Context, c *Client) error {
			_, err := c.Block(ctx, strings.Repeat("0", 64))
			return err
		}, wantIs: ErrBadResponse, wantRequests: 1},
		{name: "negative height", call: func(ctx context.Context, c *Client) error {
			_, err := c.BlockHash(ctx, -1)
			return err
		}, wantIs: ErrInvalidArgument},
		{name: "short hash", call: func(ctx context.Context, c *Client) error {
			_, err := c.BlockHeader(ctx, "00ff")
			return err
		}, wantIs: ErrInvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			node := newFakeNode(t)
			if tt.setup != nil {
				node.set(tt.setup)
			}
			c := node.client(t, Config{})

			err := tt.call(testCtx(t), c)
			checkErr(t, err, tt.wantIs, tt.wantCode, tt.wantStatus, tt.wantBody)
			if got, _ := node.stats(); got != tt.wantRequests {
				t.Errorf("requests: got %d, want %d", got, tt.wantRequests)
			}
		})
	}
}

// checkErr checks that err is wantIs, or an *Error with wantCode, or a *StatusError with
// wantStatus whose body starts with wantBody, and that it shows no password.
func checkErr(tb testing.TB, err error, wantIs error, wantCode, wantStatus int,
	wantBody string) {
	tb.Helper()
	switch {
	case err == nil:
		tb.Fatal("got no error")
	case strings.Contains(err.Error(), testPassword):
		tb.Errorf("error %q shows the password", err)
	case wantIs != nil && !errors.Is(err, wantIs):
		tb.Errorf("got %v, want %v", err, wantIs)
	}
	if wantCode != 0 {
		rpcErr, ok := errors.AsType[*Error](err)
		if !ok || rpcErr.Code != wantCode || rpcErr.Method == "" {
			tb.Errorf("got %v, want an *Error with code %d and a method", err, wantCode)
		}
	}
	if wantStatus != 0 {
		statusErr, ok := errors.AsType[*StatusError](err)
		if !ok || statusErr.Status != wantStatus || len(statusErr.Body) > maxErrorText ||
			!strings.HasPrefix(statusErr.Body, wantBody) {
			tb.Errorf("got %v, want a *StatusError %d with a body of at most %d bytes "+
				"starting %q", err, wantStatus, maxErrorText, wantBody)
		}
	}
}

func TestResponseLimit(t *testing.T) {
	node := newFakeNode(t)
	hashReply, _ := json.Marshal(fakeReply{Result: node.blk.hash, ID: json.RawMessage("1")})
	size := int64(len(hashReply)) + 1 // writeJSON ends with a newline
	tests := []struct {
		name  string
		limit int64
		call  func(context.Context, *Client) error
		ok    bool
	}{
		{"hash at the limit", size, func(ctx context.Context, c *Client) error {
			_, err := c.BestBlockHash(ctx)
			return err
		}, true},
		{"hash one byte over", size - 1, func(ctx context.Context, c *Client) error {
			_, err := c.BestBlockHash(ctx)
			return err
		}, false},
		{"block streamed over the limit", 64 << 10, func(ctx context.Context, c *Client) error {
			_, err := c.Block(ctx, node.blk.hash)
			return err
		}, false},
		{"block under the default", 0, func(ctx context.Context, c *Client) error {
			_, err := c.Block(ctx, node.blk.hash)
			return err
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := node.client(t, Config{MaxResponse: tt.limit})
			// Each client's ids start at 1, as in the reply whose size was measured.
			err := tt.call(testCtx(t), c)
			if tt.ok && err != nil {
				t.Errorf("got %v, want success", err)
			}
			if !tt.ok && !errors.Is(err, ErrResponseTooLarge) {
				t.Errorf("got %v, want ErrResponseTooLarge", err)
			}
		})
	}
}

func TestSlowNode(t *testing.T) {
	tests := []struct {
		name    string
		timeout time.Duration
		ctx     func() (context.Context, context.CancelFunc)
		want    func(error) bool
	}{
		{"client timeout", 100 * time.Millisecond, func() (context.Context,
			context.CancelFunc) {
			return context.WithCancel(context.Background())
		}, func(err error) bool {
			netErr, ok := errors.AsType[net.Error](err)
			return ok && netErr.Timeout()
		}},
		{"context deadline", time.Minute, func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 100*time.Millisecond)
		}, func(err error) bool { return errors.Is(err, context.DeadlineExceeded) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			node := newFakeNode(t)
			node.set(func(f *fakeNode) {
				f.override = func(_ http.ResponseWriter, r *http.Request, _ []byte) bool {
					select {
					case <-r.Context().Done():
					case <-time.After(5 * time.Second):
					}
					return true
				}
			})
			c := node.client(t, Config{Timeout: tt.timeout})
			ctx, cancel := tt.ctx()
			defer cancel()

			start := time.Now()
			_, err := c.BestBlockHash(ctx)
			if elapsed := time.Since(start); elapsed > 3*time.Second {
				t.Errorf("returned after %v, want about 100ms", elapsed)
			}
			if err == nil || !tt.want(err) || strings.Contains(err.Error(), testPassword) {
				t.Errorf("got %v, want a timeout", err)
			}
		})
	}
}

func TestBatchAnswers(t *testing.T) {
	tests := []struct {
		name     string
		edit     func([]fakeReply) []fakeReply
		override func(http.ResponseWriter, *http.Request, []byte) bool
		wantIs   error
		wantCode int
	}{
		{name: "in order", edit: func(r []fakeReply) []fakeReply { return r }},
		{name: "reversed", edit: func(r []fakeReply) []fakeReply {
			for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
				r[i], r[j] = r[j], r[i]
			}
			return r
		}},
		{name: "rotated", edit: func(r []fakeReply) []fakeReply {
			return append(r[1:], r[0])
		}},
		{name: "one missing", edit: func(r []fakeReply) []fakeReply { return r[:len(r)-1] },
			wantIs: ErrBadResponse},
		{name: "one extra", edit: func(r []fakeReply) []fakeReply { return append(r, r[0]) },
			wantIs: ErrBadResponse},
		{name: "repeated id", edit: func(r []fakeReply) []fakeReply {
			r[len(r)-1] = r[0]
			return r
		}, wantIs: ErrBadResponse},
		{name: "foreign id", edit: func(r []fakeReply) []fakeReply {
			r[1].ID = json.RawMessage("424242")
			return r
		}, wantIs: ErrBadResponse},
		{name: "string id", edit: func(r []fakeReply) []fakeReply {
			r[0].ID = json.RawMessage(`"` + string(r[0].ID) + `"`)
			return r
		}, wantIs: ErrBadResponse},
		{name: "null id", edit: func(r []fakeReply) []fakeReply {
			r[0].ID = json.RawMessage("null")
			return r
		}, wantIs: ErrBadResponse},
		{name: "object instead of array", override: rawReply(`{"result":[],"id":1}`),
			wantIs: ErrBadResponse},
		{name: "whole batch refused", override: func(w http.ResponseWriter, _ *http.Request,
			_ []byte) bool {
			writeJSON(w, 500, fakeReply{Error: &fakeError{Code: -32700, Message: "Parse error"},
				ID: json.RawMessage("null")})
			return true
		}, wantCode: -32700},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			node := newFakeNode(t)
			node.set(func(f *fakeNode) { f.editBatch, f.override = tt.edit, tt.override })
			c := node.client(t, Config{})
			txids := node.blk.txids[:5]

			got, err := c.RawTransactions(testCtx(t), txids)
			if tt.wantIs != nil || tt.wantCode != 0 {
				checkErr(t, err, tt.wantIs, tt.wantCode, 0, "")
				return
			}
			if err != nil {
				t.Fatalf("RawTransactions: %v", err)
			}
			for i, raw := range got {
				if txidOf(raw) != txids[i] {
					t.Errorf("answer %d is tx %s, want %s", i, txidOf(raw), txids[i])
				}
			}
		})
	}
}

func TestCookieRotation(t *testing.T) {
	tests := []struct {
		name         string
		rewrite      string // the cookie file after the node restarts; "" removes it
		wantOK       bool
		wantRequests int
	}{
		{"new cookie", "__cookie__:fresh-secret\n", true, 2},
		{"cookie unchanged", "__cookie__:" + testPassword, false, 1},
		{"cookie removed", "", false, 1},
		{"cookie garbled", testPassword + "-fresh", false, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			node := newFakeNode(t)
			node.set(func(f *fakeNode) { f.user = "__cookie__" })
			path := writeCookie(t, "__cookie__:"+testPassword)
			c := node.client(t, Config{CookieFile: path})
			if _, err := c.BestBlockHash(testCtx(t)); err != nil {
				t.Fatalf("before the restart: %v", err)
			}

			node.set(func(f *fakeNode) { f.password, f.requests = "fresh-secret", 0 })
			if tt.rewrite == "" {
				if err := os.Remove(path); err != nil {
					t.Fatal(err)
				}
			} else if err := os.WriteFile(path, []byte(tt.rewrite), 0o600); err != nil {
				t.Fatal(err)
			}

			_, err := c.BestBlockHash(testCtx(t))
			if tt.wantOK && err != nil {
				t.Errorf("after the restart: %v", err)
			}
			if !tt.wantOK {
				checkErr(t, err, ErrUnauthorized, 0, 0, "")
				if strings.Contains(err.Error(), "fresh") {
					t.Errorf("error %q shows the cookie", err)
				}
			}
			if got, _ := node.stats(); got != tt.wantRequests {
				t.Errorf("requests: got %d, want %d", got, tt.wantRequests)
			}
		})
	}
}

func TestCookieRotationConcurrent(t *testing.T) {
	node := newFakeNode(t)
	node.set(func(f *fakeNode) { f.user = "__cookie__" })
	path := writeCookie(t, "__cookie__:old")
	node.set(func(f *fakeNode) { f.password = "old" })
	c := node.client(t, Config{CookieFile: path})
	node.set(func(f *fakeNode) { f.password = "new" })
	if err := os.WriteFile(path, []byte("__cookie__:new"), 0o600); err != nil {
		t.Fatal(err)
	}

	const callers = 8
	errs := make(chan error, callers)
	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() {
			_, err := c.BlockHeader(testCtx(t), node.blk.hash)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("caller: %v", err)
		}
	}
}

// TestEchoedCredentialsScrubbed has the node echo the request's Authorization header in its
// error bodies: no error may carry the password or the basic-auth token made of it.
func TestEchoedCredentialsScrubbed(t *testing.T) {
	echo := func(code int, asRPC bool) func(http.ResponseWriter, *http.Request,
		[]byte) bool {
		return func(w http.ResponseWriter, r *http.Request, _ []byte) bool {
			auth := r.Header.Get("Authorization")
			user, pass, _ := r.BasicAuth()
			text := "echo: Authorization: " + auth + " user=" + user + " pass=" + pass
			w.WriteHeader(code)
			if asRPC {
				b, _ := json.Marshal(map[string]any{"result": nil, "id": 1,
					"error": map[string]any{"code": -1, "message": text}})
				_, _ = w.Write(b)
				return true
			}
			_, _ = w.Write([]byte(text))
			return true
		}
	}
	tests := []struct {
		name  string
		code  int
		asRPC bool
	}{
		{"plain body", http.StatusBadGateway, false},
		{"json-rpc error message", http.StatusInternalServerError, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			node := newFakeNode(t)
			node.override = echo(tt.code, tt.asRPC)
			c := node.client(t, Config{})
			_, err := c.BestBlockHash(testCtx(t))
			if err == nil {
				t.Fatal("an echoing node's error answer gave no error")
			}
			node.mu.Lock()
			pass := node.password
			node.mu.Unlock()
			if strings.Contains(err.Error(), pass) || strings.Contains(err.Error(), "Basic ") &&
				!strings.Contains(err.Error(), "Basic [redacted]") {
				t.Errorf("error %q carries the credentials", err)
			}
			if !strings.Contains(err.Error(), "[redacted]") {
				t.Errorf("error %q: want the echoed secrets replaced by [redacted]", err)
			}
		})
	}
}
