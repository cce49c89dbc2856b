package corerpc

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync/atomic"
)

// Client calls one Bitcoin Core node. It is safe for concurrent use.
type Client struct {
	url         string
	cookieFile  string
	maxResponse int64
	http        *http.Client
	nextID      atomic.Uint64
	// creds is swapped whole when the cookie is read again; behind a pointer, it never
	// shows in a %v of the Client.
	creds atomic.Pointer[credentials]
}

// New validates cfg, reads the cookie file if one is set, and returns a client. It sends
// nothing to the node.
func New(cfg Config) (*Client, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}

	creds := &credentials{user: cfg.User, password: cfg.Password}
	if cfg.CookieFile != "" {
		if creds, err = readCookie(cfg.CookieFile); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
		}
	}

	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.Proxy = nil
	transport.MaxResponseHeaderBytes = 64 << 10
	c := &Client{
		url:         cfg.URL,
		cookieFile:  cfg.CookieFile,
		maxResponse: cfg.MaxResponse,
		http: &http.Client{
			Transport: transport,
			Timeout:   cfg.Timeout,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		},
	}
	c.creds.Store(creds)
	return c, nil
}

// CloseIdleConnections closes the connections kept open for later calls. The client stays
// usable.
func (c *Client) CloseIdleConnections() { c.http.CloseIdleConnections() }

// request is one JSON-RPC 1.0 call, as bitcoin-cli sends it.
type request struct {
	JSONRPC string `json:"jsonrpc"`
	ID      uint64 `json:"id"`
	Method  string `json:"method"`
	Params  []any  `json:"params"`
}

// response is one answer. Error is nil on success.
type response struct {
	Result json.RawMessage `json:"result"`
	Error  *wireError      `json:"error"`
	ID     json.RawMessage `json:"id"`
}

// wireError is the error object of a response.
type wireError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// err returns r's error as an *Error, or nil.
func (r *response) err(method string) error {
	if r.Error == nil {
		return nil
	}
	return &Error{Code: r.Error.Code, Message: clip(r.Error.Message), Method: method}
}

// result decodes r's result into v; a missing or null result is malformed, since no
// method this package calls answers null.
func (r *response) result(method string, v any) error {
	if len(r.Result) == 0 || string(r.Result) == "null" {
		return fmt.Errorf("corerpc: %s: %w: null result", method, ErrBadResponse)
	}
	if err := json.Unmarshal(r.Result, v); err != nil {
		return fmt.Errorf("corerpc: %s: %w: %v", method, ErrBadResponse, err)
	}
	return nil
}

// call makes one call and decodes its result into result.
func (c *Client) call(ctx context.Context, method string, result any, params ...any) error {
	if params == nil {
		params = []any{}
	}
	id := c.nextID.Add(1)
	body, err := json.Marshal(request{JSONRPC: "1.0", ID: id, Method: method, Params: params})
	if err != nil {
		return fmt.Errorf("corerpc: %s: encode request: %w", method, err)
	}

	data, err := c.exchange(ctx, method, body)
	if err != nil {
		return err
	}

	var resp response
	if err := json.Unmarshal(data, &resp); err != nil {
		return fmt.Errorf("corerpc: %s: %w: %v", method, ErrBadResponse, err)
	}
	if err := resp.err(method); err != nil {
		return err
	}
	if string(resp.ID) != strconv.FormatUint(id, 10) {
		return fmt.Errorf("corerpc: %s: %w: id %.40q, want %d", method, ErrBadResponse,
			resp.ID, id)
	}
	return resp.result(method, result)
}

// batch sends one call of method per element of params in a single request and returns
// the responses in the order of params, whatever order the node answered in.
func (c *Client) batch(ctx context.Context, method string, params [][]any) ([]response, error) {
	n := uint64(len(params))
	first := c.nextID.Add(n) - n + 1
	reqs := make([]request, len(params))
	for i, p := range params {
		reqs[i] = request{JSONRPC: "1.0", ID: first + uint64(i), Method: method, Params: p}
	}
	body, err := json.Marshal(reqs)
	if err != nil {
		return nil, fmt.Errorf("corerpc: %s: encode batch: %w", method, err)
	}

	data, err := c.exchange(ctx, method, body)
	if err != nil {
		return nil, err
	}

	var resps []response
	if err := json.Unmarshal(data, &resps); err != nil {
		return nil, fmt.Errorf("corerpc: %s: %w: batch: %v", method, ErrBadResponse, err)
	}
	if len(resps) != len(reqs) {
		return nil, fmt.Errorf("corerpc: %s: %w: %d answers to %d calls", method,
			ErrBadResponse, len(resps), len(reqs))
	}

	ordered := make([]response, len(resps))
	filled := make([]bool, len(resps))
	for _, r := range resps {
		id, err := strconv.ParseUint(string(r.ID), 10, 64)
		if err != nil || id < first || id-first >= n || filled[id-first] {
			return nil, fmt.Errorf("corerpc: %s: %w: unexpected or repeated id %.40q",
				method, ErrBadResponse, r.ID)
		}
		ordered[id-first], filled[id-first] = r, true
	}
	return ordered, nil
}

// exchange posts body and returns the body of a 200 answer. On 401 with a cookie file it
// reads the cookie again and, if it differs from the one refused, retries once with it.
func (c *Client) exchange(ctx context.Context, method string, body []byte) ([]byte, error) {
	used := c.creds.Load()
	status, data, err := c.post(ctx, method, body, used)
	if err != nil {
		return nil, err
	}

	if status == http.StatusUnauthorized && c.cookieFile != "" {
		fresh, err := readCookie(c.cookieFile)
		if err != nil {
			return nil, fmt.Errorf("corerpc: %s: %w; %v", method, ErrUnauthorized, err)
		}
		if *fresh != *used {
			c.creds.CompareAndSwap(used, fresh)
			if status, data, err = c.post(ctx, method, body, fresh); err != nil {
				return nil, err
			}
		}
	}

	switch status {
	case http.StatusOK:
		return data, nil
	case http.StatusUnauthorized, http.StatusForbidden:
		return nil, fmt.Errorf("corerpc: %s: %w (http status %d)", method, ErrUnauthorized,
			status)
	}
	// A node (or a proxy in front of it) may echo the request: nothing of it that could
	// hold our credentials goes into an error, and so into a log.
	data = scrub(data, c.creds.Load(), used)
	var resp response
	if json.Unmarshal(data, &resp) == nil && resp.Error != nil {
		return nil, resp.err(method)
	}
	return nil, &StatusError{Method: method, Status: status, Body: clip(string(data))}
}

// redactedText replaces a credential found in a node's answer.
const redactedText = "[redacted]"

// scrub returns data with every password of creds, and every basic-auth token made of them,
// replaced by redactedText.
func scrub(data []byte, creds ...*credentials) []byte {
	for _, c := range creds {
		if c == nil || c.password == "" {
			continue
		}
		token := base64.StdEncoding.EncodeToString([]byte(c.user + ":" + c.password))
		for _, secret := range []string{token, c.password} {
			data = bytes.ReplaceAll(data, []byte(secret), []byte(redactedText))
		}
	}
	return data
}

// post makes one HTTP exchange with creds and returns the status and the body, read up to
// the limit.
func (c *Client) post(ctx context.Context, method string, body []byte,
	creds *credentials) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, fmt.Errorf("corerpc: %s: build request: %w", method, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth(creds.user, creds.password)

	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("corerpc: %s: %w", method, err)
	}
	defer resp.Body.Close()

	if resp.ContentLength > c.maxResponse {
		return 0, nil, fmt.Errorf("corerpc: %s: %w: %d bytes announced, limit %d", method,
			ErrResponseTooLarge, resp.ContentLength, c.maxResponse)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, c.maxResponse+1))
	if err != nil {
		return 0, nil, fmt.Errorf("corerpc: %s: read response: %w", method, err)
	}
	if int64(len(data)) > c.maxResponse {
		return 0, nil, fmt.Errorf("corerpc: %s: %w: limit %d bytes", method,
			ErrResponseTooLarge, c.maxResponse)
	}
	return resp.StatusCode, data, nil
}
