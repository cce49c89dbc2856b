package system_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/whalecast/whalecast/internal/auth"
	"github.com/whalecast/whalecast/transport"
)

// noRoutePath is the spec's path for the calls under /api/ that no route serves.
const noRoutePath = "/api/{route}"

// Limits of the engine TestOpenAPIMatchesEngine runs, so that the failures it causes on
// purpose neither ban it early nor make it refuse connections it needs.
const (
	// oasBanAfter is the auth failures that ban an IP: more than the cases cause.
	oasBanAfter = 40
	// oasMaxConnsPerIP caps WebSockets per IP, so that the cap can be reached.
	oasMaxConnsPerIP = 4
	// oasAttemptsPerIP is the upgrades allowed per IP per second: more than the cases make.
	oasAttemptsPerIP = 1000
	// oasWebhooksPerClient is the webhooks a client may have, so that the cap is reached.
	oasWebhooksPerClient = 2
)

// wsKey is a Sec-WebSocket-Key: 16 bytes in base64.
const wsKey = "dGhlIHNhbXBsZSBub25jZQ=="

// protobufType is the media type Prometheus scrapers ask /metrics for.
const protobufType = "application/vnd.google.protobuf"

// registerProtobuf teaches openapi3filter to read /metrics' protobuf answers as bytes.
var registerProtobuf sync.Once

// reqWant is what the spec should say of a case's request.
type reqWant int

const (
	// reqValid: the request follows the spec.
	reqValid reqWant = iota
	// reqInvalid: the spec refuses the request (a bad parameter, body or credential).
	reqInvalid
	// reqBeyond: the request is wrong by a rule the spec states only in words (unknown
	// query parameters, a credential in the URL, a past expiry), so its schemas accept it.
	reqBeyond
)

// apiCase is one real call, checked against the spec both ways.
type apiCase struct {
	name   string
	method string
	// target is the path and query.
	target string
	header http.Header
	// body is sent when not empty, as ctype (application/json when empty).
	body  string
	ctype string
	// host replaces the Host header when set.
	host string
	// noRoute marks a call that no route of its own serves: the spec's /api/{route}
	// describes it.
	noRoute bool
	// keepOpen keeps the WebSocket of a 101 answer open until the test ends.
	keepOpen bool
	request  reqWant
	// status is the answer's status; code the error code of a JSON error answer.
	status int
	code   string
}

// answer is what the engine answered to a case.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// specChecker validates real requests and answers against the spec.
type specChecker struct {
	doc    *openapi3.T
	router routers.Router
	opts   *openapi3filter.Options
}

func newSpecChecker(tb testing.TB) *specChecker {
	tb.Helper()
	doc := loadSpec(tb)
	// The spec's server is the default listen address; the test engine listens on another
	// port, so the router matches paths on any host.
	doc.Servers = nil
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		tb.Fatalf("router for %s: %v", specPath, err)
	}
	registerProtobuf.Do(func() {
		openapi3filter.RegisterBodyDecoder(protobufType, openapi3filter.FileBodyDecoder)
	})
	return &specChecker{doc: doc, router: router, opts: &openapi3filter.Options{
		IncludeResponseStatus: true,
		MultiError:            true,
		AuthenticationFunc:    presentsCredential,
	}}
}

// presentsCredential is the spec's view of a credential: a request satisfies a security
// scheme when it carries the header the scheme names. The engine checks the rest.
func presentsCredential(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	h := in.RequestValidationInput.Request.Header
	switch s := in.SecurityScheme; s.Type {
	case "http":
		scheme, tok, ok := strings.Cut(h.Get("Authorization"), " ")
		if !ok || !strings.EqualFold(scheme, s.Scheme) || tok == "" {
			return fmt.Errorf("no %s credential", s.Scheme)
		}
	case "apiKey":
		if h.Get(s.Name) == "" {
			return fmt.Errorf("no %s header", s.Name)
		}
	default:
		return fmt.Errorf("security scheme type %q unknown to this test", s.Type)
	}
	return nil
}

// route finds the spec's operation for req: the router's, or /api/{route} for a case that
// no route of its own serves.
func (s *specChecker) route(tb testing.TB, req *http.Request, noRoute bool) (*routers.Route,
	map[string]string) {
	tb.Helper()
	found, params, err := s.router.FindRoute(req)
	if !noRoute {
		if err != nil {
			tb.Fatalf("%s %s: the spec has no operation for it: %v", req.Method, req.URL.Path,
				err)
		}
		return found, params
	}
	if err == nil && found.Path != noRoutePath {
		tb.Fatalf("%s %s: the spec describes it as %s, want %s", req.Method, req.URL.Path,
			found.Path, noRoutePath)
	}
	rest, ok := strings.CutPrefix(req.URL.Path, "/api/")
	item := s.doc.Paths.Value(noRoutePath)
	if !ok || item == nil || item.GetOperation(req.Method) == nil {
		tb.Fatalf("%s %s: the spec's %s does not describe it", req.Method, req.URL.Path,
			noRoutePath)
	}
	return &routers.Route{Spec: s.doc, Path: noRoutePath, PathItem: item, Method: req.Method,
		Operation: item.GetOperation(req.Method)}, map[string]string{"route": rest}
}

// newRequest builds the case's request to te.
func (c apiCase) newRequest(tb testing.TB, ctx context.Context, te *testEngine) *http.Request {
	tb.Helper()
	var body io.Reader = http.NoBody
	if c.body != "" {
		body = strings.NewReader(c.body)
	}
	req, err := http.NewRequestWithContext(ctx, c.method, te.httpURL()+c.target, body)
	if err != nil {
		tb.Fatalf("request %s %s: %v", c.method, c.target, err)
	}
	req.Header = c.header.Clone()
	if req.Header == nil {
		req.Header = http.Header{}
	}
	if c.body != "" {
		ct := c.ctype
		if ct == "" {
			ct = "application/json"
		}
		req.Header.Set("Content-Type", ct)
	}
	if c.host != "" {
		req.Host = c.host
	}
	return req
}

// exchange validates the case's request against the spec as the case expects, sends it,
// and validates the answer against the spec, whatever its status.
func (s *specChecker) exchange(tb testing.TB, te *testEngine, c apiCase) answer {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()

	vreq := c.newRequest(tb, ctx, te)
	route, params := s.route(tb, vreq, c.noRoute)
	in := &openapi3filter.RequestValidationInput{Request: vreq, PathParams: params,
		Route: route, Options: s.opts}
	err := openapi3filter.ValidateRequest(ctx, in)
	switch {
	case c.request == reqInvalid && err == nil:
		tb.Errorf("request: the spec accepts it, want it refused")
	case c.request != reqInvalid && err != nil:
		tb.Errorf("request: the spec refuses it: %v", err)
	}

	resp, err := http.DefaultClient.Do(c.newRequest(tb, ctx, te))
	if err != nil {
		tb.Fatalf("%s %s: %v", c.method, c.target, err)
	}
	a := answer{status: resp.StatusCode, header: resp.Header}
	switch {
	case resp.StatusCode == http.StatusSwitchingProtocols && c.keepOpen:
		tb.Cleanup(func() { _ = resp.Body.Close() })
	case resp.StatusCode == http.StatusSwitchingProtocols:
		// The body is the WebSocket: nothing to read, and it would not end.
		_ = resp.Body.Close()
	default:
		a.body, err = io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		_ = resp.Body.Close()
		if err != nil {
			tb.Fatalf("%s %s: read: %v", c.method, c.target, err)
		}
	}

	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in,
		Status: a.status, Header: a.header, Options: s.opts}
	out.SetBodyBytes(a.body)
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		tb.Errorf("answer %d %.300s: does not match the spec: %v", a.status, a.body, err)
	}
	s.checkDescribed(tb, route, a)
	return a
}

// checkDescribed fails tb when an answer has a body that the spec gives no schema for:
// the validator checks a body only against a schema the spec has, and would pass any
// body of an answer described in words alone.
func (s *specChecker) checkDescribed(tb testing.TB, route *routers.Route, a answer) {
	tb.Helper()
	if len(a.body) == 0 {
		return
	}
	mt, _, err := mime.ParseMediaType(a.header.Get("Content-Type"))
	if err != nil {
		tb.Errorf("answer %d: Content-Type %q: %v", a.status, a.header.Get("Content-Type"),
			err)
		return
	}
	resp := route.Operation.Responses.Status(a.status)
	if resp == nil {
		resp = route.Operation.Responses.Default()
	}
	if resp == nil || resp.Value == nil || resp.Value.Content.Get(mt) == nil ||
		resp.Value.Content.Get(mt).Schema == nil {
		tb.Errorf("answer %d %s: the spec's %s %s gives no schema for its body", a.status, mt,
			route.Method, route.Path)
	}
}

// run checks one case: the spec's view of its request, its status and error code, and
// that its answer matches the spec.
func (s *specChecker) run(t *testing.T, te *testEngine, c apiCase) answer {
	t.Helper()
	a := s.exchange(t, te, c)
	if a.status != c.status {
		t.Fatalf("status: got %d (%.300s), want %d", a.status, a.body, c.status)
	}
	if c.code != "" {
		var e struct {
			Error string `json:"error"`
		}
		if err := json.Unmarshal(a.body, &e); err != nil || e.Error != c.code {
			t.Errorf("error code: got %q (%v), want %q", e.Error, err, c.code)
		}
	}
	return a
}

// upgrade returns the headers of a WebSocket upgrade, with extra added.
func upgrade(extra http.Header) http.Header {
	h := http.Header{"Upgrade": {"websocket"}, "Connection": {"Upgrade"},
		"Sec-Websocket-Version": {"13"}, "Sec-Websocket-Key": {wsKey}}
	for k, v := range extra {
		h[k] = v
	}
	return h
}

func withHeader(h http.Header, name, value string) http.Header {
	h = h.Clone()
	h.Set(name, value)
	return h
}

// TestOpenAPIMatchesEngine makes real calls to every route of a running engine, successes
// and the main refusals, and checks each request and answer against docs/openapi.yaml:
// every status, header and body the engine gives must be in the spec, and the spec must
// accept the good requests and refuse the bad ones it can describe.
func TestOpenAPIMatchesEngine(t *testing.T) {
	spec := newSpecChecker(t)
	cfg := replayConfig(t)
	cfg.Guard.BanAfter = oasBanAfter
	cfg.Guard.MaxConnsPerIP = oasMaxConnsPerIP
	cfg.Guard.AttemptsPerIP = oasAttemptsPerIP
	cfg.Webhooks.AllowCIDRs = []string{"127.0.0.1/32"} // the webhook cases' receivers
	cfg.Webhooks.MaxPerClient = oasWebhooksPerClient
	te := startEngine(t, cfg)
	te.waitLastSeq(t, lastSeq277647)

	read := authHeader(token(t, "oas-reader", auth.PermRead))
	writeOnly := authHeader(token(t, "oas-writer", auth.PermWrite))
	admin := authHeader(token(t, "oas-admin", auth.PermAdmin))
	forgedTok, _, err := issuer(t, strings.Repeat("z", 32), nil).Issue("oas-forger",
		[]auth.Perm{auth.PermRead}, time.Hour)
	if err != nil {
		t.Fatalf("issue forged token: %v", err)
	}
	forged := authHeader(forgedTok)

	var key transport.NewAPIKeyResponse
	t.Run("create api key", func(t *testing.T) {
		a := spec.run(t, te, apiCase{method: "POST", target: "/api/v1/admin/apikeys",
			header: admin, body: `{"client":"oas-key","perms":["read","read"]}`,
			status: 201})
		if err := json.Unmarshal(a.body, &key); err != nil || key.Key == "" {
			t.Fatalf("decode %s: %v", a.body, err)
		}
	})
	if key.Key == "" {
		t.FailNow()
	}
	apiKey := http.Header{"X-Api-Key": {key.Key}}

	for _, c := range oasCases(read, writeOnly, admin, forged, apiKey) {
		t.Run(c.name, func(t *testing.T) { spec.run(t, te, c) })
	}
	t.Run("webhooks", func(t *testing.T) { checkWebhookRoutes(t, spec, te, read) })

	t.Run("revoked api key", func(t *testing.T) {
		spec.run(t, te, apiCase{method: "DELETE", target: "/api/v1/admin/apikeys/" + key.ID,
			header: admin, status: 204})
		spec.run(t, te, apiCase{method: "GET", target: "/api/v1/alerts", header: apiKey,
			status: 401, code: "unauthorized"})
	})
	t.Run("methods without an operation", func(t *testing.T) { checkUnlisted(t, spec, te) })
	t.Run("rate limited", func(t *testing.T) {
		burst := authHeader(token(t, "oas-burst", auth.PermRead))
		c := apiCase{method: "GET", target: "/api/v1/stats", header: burst}
		for range 2*cfg.RateLimit + 1 {
			if a := spec.exchange(t, te, c); a.status == http.StatusTooManyRequests ||
				t.Failed() {
				return
			}
		}
		t.Fatalf("no 429 after %d calls of a %d-call bucket", 2*cfg.RateLimit+1,
			cfg.RateLimit)
	})
	t.Run("connection cap", func(t *testing.T) { checkConnCap(t, spec, te, read) })
	// Last: the ban refuses every later call from this IP.
	t.Run("banned", func(t *testing.T) { checkBan(t, spec, te, forged, read) })
}

// oasCases are the calls of TestOpenAPIMatchesEngine that need nothing made before them
// but the API key.
func oasCases(read, writeOnly, admin, forged, apiKey http.Header) []apiCase {
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	return []apiCase{
		{name: "healthz", method: "GET", target: "/healthz", status: 200},
		{name: "healthz foreign host", method: "GET", target: "/healthz",
			host: "rebound.example", status: 421, code: "misdirected_request"},

		{name: "alerts page", method: "GET", target: "/api/v1/alerts?since=0&limit=4",
			header: read, status: 200},
		{name: "alerts by api key", method: "GET", target: "/api/v1/alerts?since=3",
			header: apiKey, status: 200},
		{name: "alerts without credential", method: "GET", target: "/api/v1/alerts",
			request: reqInvalid, status: 401, code: "unauthorized"},
		{name: "alerts with forged token", method: "GET", target: "/api/v1/alerts",
			header: forged, status: 401, code: "unauthorized"},
		{name: "alerts with basic auth", method: "GET", target: "/api/v1/alerts",
			header: http.Header{"Authorization": {"Basic eDp5"}}, request: reqInvalid,
			status: 401, code: "unauthorized"},
		{name: "alerts write-only", method: "GET", target: "/api/v1/alerts",
			header: writeOnly, status: 403, code: "forbidden"},
		{name: "alerts limit 0", method: "GET", target: "/api/v1/alerts?limit=0",
			header: read, request: reqInvalid, status: 400, code: "bad_request"},
		{name: "alerts limit 1001", method: "GET", target: "/api/v1/alerts?limit=1001",
			header: read, request: reqInvalid, status: 400, code: "bad_request"},
		{name: "alerts negative since", method: "GET", target: "/api/v1/alerts?since=-1",
			header: read, request: reqInvalid, status: 400, code: "bad_request"},
		{name: "alerts unknown parameter", method: "GET", target: "/api/v1/alerts?debug=1",
			header: read, request: reqBeyond, status: 400, code: "bad_request"},
		{name: "alerts token in url", method: "GET", target: "/api/v1/alerts?token=x",
			header: read, request: reqBeyond, status: 400, code: "bad_request"},

		{name: "stats", method: "GET", target: "/api/v1/stats", header: read, status: 200},
		{name: "stats write-only", method: "GET", target: "/api/v1/stats", header: writeOnly,
			status: 403, code: "forbidden"},
		{name: "stats with a parameter", method: "GET", target: "/api/v1/stats?x=1",
			header: read, request: reqBeyond, status: 400, code: "bad_request"},

		{name: "metrics text", method: "GET", target: "/metrics", header: read, status: 200},
		{name: "metrics protobuf", method: "GET", target: "/metrics",
			header: withHeader(read, "Accept", protobufType+
				";proto=io.prometheus.client.MetricFamily;encoding=delimited"), status: 200},
		{name: "metrics without credential", method: "GET", target: "/metrics",
			request: reqInvalid, status: 401, code: "unauthorized"},
		{name: "metrics with a parameter", method: "GET", target: "/metrics?x=1",
			header: read, request: reqBeyond, status: 400, code: "bad_request"},

		{name: "revoke jti", method: "POST", target: "/api/v1/admin/revocations",
			header: admin, body: `{"jti":"oas-jti-1","expires_at":"` + future + `"}`,
			status: 201},
		{name: "revoke client", method: "POST", target: "/api/v1/admin/revocations",
			header: admin, body: `{"client":"oas-gone"}`, status: 201},
		{name: "revoke both", method: "POST", target: "/api/v1/admin/revocations",
			header: admin, body: `{"jti":"a","client":"b"}`, request: reqInvalid,
			status: 400, code: "bad_request"},
		{name: "revoke expired", method: "POST", target: "/api/v1/admin/revocations",
			header: admin, body: `{"jti":"a","expires_at":"2001-01-01T00:00:00Z"}`,
			request: reqBeyond, status: 400, code: "bad_request"},
		{name: "revoke trailing data", method: "POST", target: "/api/v1/admin/revocations",
			header: admin, body: `{"jti":"a"} {}`, request: reqBeyond, status: 400,
			code: "bad_request"},
		{name: "revoke not json", method: "POST", target: "/api/v1/admin/revocations",
			header: admin, body: `jti=a`, ctype: "text/plain", request: reqInvalid,
			status: 415, code: "unsupported_media_type"},
		{name: "revoke over 16 KiB", method: "POST", target: "/api/v1/admin/revocations",
			header: admin, body: `{"jti":"` + strings.Repeat("a", 17<<10) + `"}`,
			request: reqInvalid, status: 413, code: "too_large"},
		{name: "revoke as reader", method: "POST", target: "/api/v1/admin/revocations",
			header: read, body: `{"client":"oas-gone"}`, status: 403, code: "forbidden"},
		{name: "revocations", method: "GET", target: "/api/v1/admin/revocations",
			header: admin, status: 200},
		{name: "revocations as reader", method: "GET", target: "/api/v1/admin/revocations",
			header: read, status: 403, code: "forbidden"},

		{name: "api key unknown perm", method: "POST", target: "/api/v1/admin/apikeys",
			header: admin, body: `{"client":"oas-key","perms":["root"]}`, request: reqInvalid,
			status: 400, code: "bad_request"},
		{name: "api key bad client", method: "POST", target: "/api/v1/admin/apikeys",
			header: admin, body: `{"client":"oas key","perms":["read"]}`, request: reqInvalid,
			status: 400, code: "bad_request"},
		{name: "api key unknown field", method: "POST", target: "/api/v1/admin/apikeys",
			header: admin, body: `{"client":"oas-key","perms":["read"],"ttl":1}`,
			request: reqInvalid, status: 400, code: "bad_request"},
		{name: "api keys", method: "GET", target: "/api/v1/admin/apikeys", header: admin,
			status: 200},
		{name: "api key unknown id", method: "DELETE",
			target: "/api/v1/admin/apikeys/00000000000000ff", header: admin, status: 404,
			code: "not_found"},
		{name: "api key bad id", method: "DELETE", target: "/api/v1/admin/apikeys/bad.id",
			header: admin, request: reqInvalid, status: 404, code: "not_found"},

		{name: "audit", method: "GET", target: "/api/v1/admin/audit?since=0&limit=50",
			header: admin, status: 200},
		{name: "audit limit 0", method: "GET", target: "/api/v1/admin/audit?limit=0",
			header: admin, request: reqInvalid, status: 400, code: "bad_request"},
		{name: "audit as reader", method: "GET", target: "/api/v1/admin/audit", header: read,
			status: 403, code: "forbidden"},

		{name: "token keys", method: "GET", target: "/api/v1/admin/keys", header: admin,
			status: 200},
		{name: "token keys with a parameter", method: "GET", target: "/api/v1/admin/keys?x=1",
			header: admin, request: reqBeyond, status: 400, code: "bad_request"},

		{name: "publish", method: "POST", target: "/api/v1/admin/publish", header: admin,
			body: `{"count":2,"value_btc":1.5,"detector":"bench"}`, status: 201},
		{name: "published alerts", method: "GET", target: "/api/v1/alerts?since=6",
			header: read, status: 200},
		{name: "publish count 0", method: "POST", target: "/api/v1/admin/publish",
			header: admin, body: `{"count":0}`, request: reqInvalid, status: 400,
			code: "bad_request"},
		{name: "publish unknown detector", method: "POST", target: "/api/v1/admin/publish",
			header: admin, body: `{"count":1,"detector":"prod"}`, request: reqInvalid,
			status: 400, code: "bad_request"},
		{name: "publish as writer", method: "POST", target: "/api/v1/admin/publish",
			header: writeOnly, body: `{"count":1}`, status: 403, code: "forbidden"},

		{name: "no route", method: "GET", target: "/api/v2", header: read, noRoute: true,
			status: 404, code: "not_found"},
		{name: "no route deep", method: "GET", target: "/api/v1/nothing/here", header: read,
			noRoute: true, status: 404, code: "not_found"},
		{name: "no route for the method", method: "PUT", target: "/api/v1/alerts",
			header: read, noRoute: true, status: 404, code: "not_found"},
		{name: "no route for a collection delete", method: "DELETE",
			target: "/api/v1/admin/apikeys", header: admin, noRoute: true, status: 404,
			code: "not_found"},
		{name: "no route without credential", method: "GET", target: "/api/v1/nothing",
			noRoute: true, request: reqInvalid, status: 401, code: "unauthorized"},

		{name: "ws with bearer", method: "GET", target: "/ws", header: upgrade(read),
			status: 101},
		{name: "ws with bearer and since", method: "GET", target: "/ws?since=2",
			header: upgrade(read), status: 101},
		{name: "ws without credential", method: "GET", target: "/ws", header: upgrade(nil),
			status: 101},
		{name: "ws not an upgrade", method: "GET", target: "/ws", header: read,
			request: reqInvalid, status: 400, code: "bad_request"},
		{name: "ws version 12", method: "GET", target: "/ws",
			header:  withHeader(upgrade(nil), "Sec-Websocket-Version", "12"),
			request: reqInvalid, status: 400},
		{name: "ws forged token", method: "GET", target: "/ws", header: upgrade(forged),
			status: 401, code: "unauthorized"},
		{name: "ws foreign origin", method: "GET", target: "/ws",
			header: withHeader(upgrade(nil), "Origin", "http://elsewhere.example"),
			status: 403, code: "forbidden"},
		{name: "ws since without bearer", method: "GET", target: "/ws?since=1",
			header: upgrade(nil), request: reqBeyond, status: 400, code: "bad_request"},
		{name: "ws api key", method: "GET", target: "/ws", header: upgrade(apiKey),
			request: reqBeyond, status: 400, code: "bad_request"},
		{name: "ws token in url", method: "GET", target: "/ws?access_token=x",
			header: upgrade(nil), request: reqBeyond, status: 400, code: "bad_request"},
		{name: "ws foreign host", method: "GET", target: "/ws", header: upgrade(read),
			host: "rebound.example", status: 421, code: "misdirected_request"},
	}
}

// checkUnlisted checks what the spec says in words of methods it lists no operation for:
// outside /api/ they answer 405 with Allow, and the spec's router agrees there is none.
func checkUnlisted(t *testing.T, spec *specChecker, te *testEngine) {
	for _, path := range []string{"/healthz", "/ws", "/metrics"} {
		c := apiCase{method: "POST", target: path}
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		req := c.newRequest(t, ctx, te)
		if _, _, err := spec.router.FindRoute(req); !errors.Is(err, routers.ErrMethodNotAllowed) {
			t.Errorf("POST %s: the spec's router says %v, want method not allowed", path, err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			cancel()
			t.Fatalf("POST %s: %v", path, err)
		}
		_ = resp.Body.Close()
		cancel()
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") == "" {
			t.Errorf("POST %s: got %d with Allow %q, want 405 with Allow", path,
				resp.StatusCode, resp.Header.Get("Allow"))
		}
	}
}

// checkConnCap opens WebSockets until the per-IP cap refuses one with 503.
func checkConnCap(t *testing.T, spec *specChecker, te *testEngine, read http.Header) {
	c := apiCase{method: "GET", target: "/ws", header: upgrade(read), keepOpen: true}
	for range oasMaxConnsPerIP + 1 {
		// The sockets stay open until the subtest ends, so the cap is reached within
		// oasMaxConnsPerIP+1 tries, whatever the earlier cases left open.
		if a := spec.exchange(t, te, c); a.status == http.StatusServiceUnavailable {
			return
		}
	}
	t.Errorf("no 503 after %d upgrades with a cap of %d per IP", oasMaxConnsPerIP+1,
		oasMaxConnsPerIP)
}

// checkBan fails authentication until the engine bans this IP, then checks the 429 answers
// of the API and of /ws.
func checkBan(t *testing.T, spec *specChecker, te *testEngine, forged, read http.Header) {
	c := apiCase{method: "GET", target: "/api/v1/stats", header: forged}
	deadline := time.Now().Add(waitTimeout)
	banned := false
	for i := range 4 * oasBanAfter {
		if banned || t.Failed() || time.Now().After(deadline) {
			break
		}
		banned = spec.exchange(t, te, c).status == http.StatusTooManyRequests
		if !banned && i >= oasBanAfter {
			time.Sleep(pollEvery) // the ban follows the audit, which is asynchronous
		}
	}
	if !banned {
		t.Fatalf("no ban after up to %d auth failures", 4*oasBanAfter)
	}
	spec.run(t, te, apiCase{method: "GET", target: "/api/v1/stats", header: read,
		status: 429, code: "banned"})
	spec.run(t, te, apiCase{method: "GET", target: "/ws", header: upgrade(read),
		status: 429, code: "banned"})
}

// waitWebhook polls GET path as tok, at most every 50 ms (the caller's bucket is the
// engine's default), until done accepts the answer decoded into v.
func waitWebhook(tb testing.TB, te *testEngine, tok, path string, v any, done func() bool) {
	tb.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		if code := getJSON(tb, te, path, tok, v); code == http.StatusOK && done() {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %v polling %s", waitTimeout, path)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// checkWebhookRoutes runs the webhook routes through their answers: a webhook whose
// receiver refuses every post, so that its record becomes a dead letter at once, with its
// log, dead letters and replays; the per-client cap; another client's view; a webhook
// suspended by its owner's revocation; and the refusals the spec can and cannot describe.
func checkWebhookRoutes(t *testing.T, spec *specChecker, te *testEngine, read http.Header) {
	ownerTok, adminTok := token(t, "oas-hooks", auth.PermWrite), token(t, "oas-hooks-admin",
		auth.PermAdmin)
	owner, admin := authHeader(ownerTok), authHeader(adminTok)
	stranger := authHeader(token(t, "oas-stranger", auth.PermWrite))
	rcv := newCustomerReceiver(t, answerWith(http.StatusBadRequest))
	create := `{"url":"` + rcv.srv.URL + `/in?k=v","min_btc":21000000,` +
		`"detectors":["large_value"],"statuses":["mempool"]}`

	var hook transport.NewWebhookResponse
	a := spec.run(t, te, apiCase{method: "POST", target: "/api/v1/webhooks", header: owner,
		body: create, status: 201})
	if err := json.Unmarshal(a.body, &hook); err != nil || hook.ID == "" {
		t.Fatalf("decode %s: %v", a.body, err)
	}
	base := "/api/v1/webhooks/" + hook.ID
	if got := a.header.Get("Location"); got != base {
		t.Errorf("Location: got %q, want %q", got, base)
	}
	var pub transport.PublishResponse
	a = spec.run(t, te, apiCase{method: "POST", target: "/api/v1/admin/publish",
		header: admin, body: `{"count":1}`, status: 201})
	if err := json.Unmarshal(a.body, &pub); err != nil || len(pub.Seqs) != 1 {
		t.Fatalf("decode %s: %v", a.body, err)
	}
	var dead transport.DeadLetterPage
	waitWebhook(t, te, ownerTok, base+"/dead-letters", &dead, func() bool {
		return len(dead.DeadLetters) == 1
	})
	seq := strconv.FormatUint(pub.Seqs[0], 10)

	for _, c := range []apiCase{
		{name: "create another", method: "POST", target: "/api/v1/webhooks", header: owner,
			body: create, status: 201},
		{name: "create past the cap", method: "POST", target: "/api/v1/webhooks",
			header: owner, body: create, status: 409, code: "limit_reached"},
		{name: "create ftp url", method: "POST", target: "/api/v1/webhooks",
			header: stranger, body: `{"url":"ftp://hooks.example/x","min_btc":1}`,
			request: reqBeyond, status: 400, code: "bad_request"},
		{name: "create private address", method: "POST", target: "/api/v1/webhooks",
			header: stranger, body: `{"url":"http://10.0.0.1/x","min_btc":1}`,
			request: reqBeyond, status: 400, code: "bad_request"},
		{name: "create without min_btc", method: "POST", target: "/api/v1/webhooks",
			header: stranger, body: `{"url":"https://hooks.example/x"}`,
			request: reqInvalid, status: 400, code: "bad_request"},
		{name: "create unknown field", method: "POST", target: "/api/v1/webhooks",
			header: stranger, body: `{"url":"https://hooks.example/x","min_btc":1,"x":1}`,
			request: reqInvalid, status: 400, code: "bad_request"},
		{name: "create not json", method: "POST", target: "/api/v1/webhooks",
			header: stranger, body: `url=x`, ctype: "text/plain", request: reqInvalid,
			status: 415, code: "unsupported_media_type"},
		{name: "create as reader", method: "POST", target: "/api/v1/webhooks", header: read,
			body: create, status: 403, code: "forbidden"},
		{name: "create without credential", method: "POST", target: "/api/v1/webhooks",
			body: create, request: reqInvalid, status: 401, code: "unauthorized"},

		{name: "list", method: "GET", target: "/api/v1/webhooks", header: owner,
			status: 200},
		{name: "list as admin", method: "GET", target: "/api/v1/webhooks", header: admin,
			status: 200},
		{name: "list as reader", method: "GET", target: "/api/v1/webhooks", header: read,
			status: 403, code: "forbidden"},
		{name: "list with a parameter", method: "GET", target: "/api/v1/webhooks?x=1",
			header: owner, request: reqBeyond, status: 400, code: "bad_request"},
		{name: "get", method: "GET", target: base, header: owner, status: 200},
		{name: "get another client's", method: "GET", target: base, header: stranger,
			status: 404, code: "not_found"},
		{name: "get unknown", method: "GET", target: "/api/v1/webhooks/wh_00000000000000ff",
			header: owner, status: 404, code: "not_found"},
		{name: "get bad id", method: "GET", target: "/api/v1/webhooks/nope", header: owner,
			request: reqInvalid, status: 404, code: "not_found"},

		{name: "deliveries", method: "GET", target: base + "/deliveries?since=0&limit=10",
			header: owner, status: 200},
		{name: "deliveries limit 0", method: "GET", target: base + "/deliveries?limit=0",
			header: owner, request: reqInvalid, status: 400, code: "bad_request"},
		{name: "dead letters", method: "GET", target: base + "/dead-letters", header: owner,
			status: 200},
		{name: "dead letters of another client", method: "GET",
			target: base + "/dead-letters", header: stranger, status: 404, code: "not_found"},
		{name: "replay seqs", method: "POST", target: base + "/dead-letters/replay",
			header: owner, body: `{"seqs":[` + seq + `]}`, status: 200},
		{name: "replay oldest", method: "POST", target: base + "/dead-letters/replay",
			header: owner, status: 200},
		{name: "replay no seqs", method: "POST", target: base + "/dead-letters/replay",
			header: owner, body: `{"seqs":[]}`, request: reqInvalid, status: 400,
			code: "bad_request"},
		{name: "replay another client's", method: "POST",
			target: base + "/dead-letters/replay", header: stranger, status: 404,
			code: "not_found"},
		{name: "delete another client's", method: "DELETE", target: base, header: stranger,
			status: 404, code: "not_found"},
		{name: "delete", method: "DELETE", target: base, header: owner, status: 204},
		{name: "delete again", method: "DELETE", target: base, header: owner, status: 404,
			code: "not_found"},
	} {
		t.Run(c.name, func(t *testing.T) { spec.run(t, te, c) })
	}

	t.Run("suspended", func(t *testing.T) {
		a := spec.run(t, te, apiCase{method: "POST", target: "/api/v1/webhooks",
			header: authHeader(token(t, "oas-doomed", auth.PermWrite)), body: create,
			status: 201})
		var doomed transport.NewWebhookResponse
		if err := json.Unmarshal(a.body, &doomed); err != nil {
			t.Fatalf("decode %s: %v", a.body, err)
		}
		spec.run(t, te, apiCase{method: "POST", target: "/api/v1/admin/revocations",
			header: admin, body: `{"client":"oas-doomed"}`, status: 201})
		path := "/api/v1/webhooks/" + doomed.ID
		var info transport.WebhookInfo
		waitWebhook(t, te, adminTok, path, &info, func() bool {
			return info.Status == transport.WebhookSuspended
		})
		spec.run(t, te, apiCase{method: "GET", target: path, header: admin, status: 200})
		spec.run(t, te, apiCase{method: "POST", target: path + "/dead-letters/replay",
			header: admin, status: 409, code: "suspended"})
	})
}
