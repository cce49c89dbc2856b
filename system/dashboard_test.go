package system_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/gorilla/websocket"

	"github.com/whalecast/whalecast/internal/auth"
	"github.com/whalecast/whalecast/internal/clock"
	"github.com/whalecast/whalecast/system"
	"github.com/whalecast/whalecast/system/systemtest"
	"github.com/whalecast/whalecast/transport"
)

// chromiumPath is where Debian's chromium package puts the browser.
const chromiumPath = "/usr/bin/chromium"

// requireBrowserEnv, set to 1 (as .ci/run does), turns a missing browser into a failure.
const requireBrowserEnv = "WHALECAST_REQUIRE_BROWSER"

// dashTokenKey is the sessionStorage key of the dashboard's token (app.js).
const dashTokenKey = "whalecast.token"

// Deadlines of the browser test: a browser under -race on two cores is slow to start, and a
// reconnect waits out its backoff.
const (
	browserTimeout = 3 * time.Minute
	pageWait       = 30 * time.Second
	pagePoll       = 100 * time.Millisecond
	// noRetryQuiet is how long the page must stay quiet after a refused token.
	noRetryQuiet = 3 * time.Second
)

// violationRecorder runs in every document before the page's own script (DevTools scripts
// are not subject to the page's policy) and keeps each Content-Security-Policy violation.
const violationRecorder = `window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(e.violatedDirective + " " + e.blockedURI);
});`

// rowsJS returns the alert rows the page shows, top to bottom.
const rowsJS = `[...document.querySelectorAll("#alerts tbody tr")].map((tr) => ({
  seq: Number(tr.dataset.seq), txid: tr.dataset.txid, status: tr.dataset.status || "",
  confirmations: Number(tr.dataset.confirmations || 0), test: tr.classList.contains("test"),
  text: tr.textContent}))`

// pageRow is one alert row of the page.
type pageRow struct {
	Seq           uint64 `json:"seq"`
	TxID          string `json:"txid"`
	Status        string `json:"status"`
	Confirmations int64  `json:"confirmations"`
	Test          bool   `json:"test"`
	Text          string `json:"text"`
}

// browser is a headless Chromium tab, with every console message it printed.
type browser struct {
	ctx context.Context

	mu      sync.Mutex
	console []chromedp.ConsoleMessage
}

// startBrowser starts Debian's Chromium headless with a profile of its own; it is stopped
// when the test ends. Without the browser the test is skipped, or fails when
// WHALECAST_REQUIRE_BROWSER=1.
func startBrowser(t *testing.T) *browser {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv(requireBrowserEnv) == "1" {
			t.Fatalf("no browser at %s (%v), and %s=1: apt-get install chromium",
				chromiumPath, err, requireBrowserEnv)
		}
		t.Skipf("no browser at %s: apt-get install chromium to run this test "+
			"(%s=1 makes this a failure)", chromiumPath, requireBrowserEnv)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.DisableGPU,
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("no-pings", true),
	)
	if os.Geteuid() == 0 {
		// Chromium refuses to start its sandbox as root.
		opts = append(opts, chromedp.NoSandbox)
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	b := &browser{ctx: ctx}

	// The first Run starts the browser, which lives as long as the context of that Run: a
	// timeout on it would end the browser too, so a timer bounds the start instead.
	giveUp := time.AfterFunc(browserTimeout, cancelTab)
	defer giveUp.Stop()
	if _, err := chromedp.Run(ctx, chromedp.Func(func(c context.Context,
		tgt *chromedp.Target) error {
		_, err := cdp.Call(c, tgt, page.AddScriptToEvaluateOnNewDocument,
			page.AddScriptToEvaluateOnNewDocumentParams{Source: violationRecorder})
		return err
	})); err != nil {
		cancelTab()
		cancelAlloc()
		t.Fatalf("start %s: %v", chromiumPath, err)
	}

	messages := chromedp.Console(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range messages {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.console = append(b.console, m)
			b.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
		<-done
	})
	return b
}

// do runs actions within pageWait.
func (b *browser) do(tb testing.TB, what string, actions ...chromedp.Action[chromedp.Void]) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, pageWait)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		tb.Fatalf("%s: %v", what, err)
	}
}

// eval evaluates a JavaScript expression in the page and decodes its value into v.
func (b *browser) eval(tb testing.TB, expr string, v any) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, pageWait)
	defer cancel()
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[[]byte](expr))
	if err != nil {
		tb.Fatalf("evaluate %.60q: %v", expr, err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		tb.Fatalf("evaluate %.60q: decode %s: %v", expr, raw, err)
	}
}

// waitPage polls cond, a function of the page's state, until it holds; cond runs in Go on
// what probe returns, so that a timeout can say what the page showed. (chromedp.Poll
// compiles its predicate with new Function, which the page's policy forbids.)
func waitPage[T any](tb testing.TB, b *browser, what, probe string, cond func(T) bool) T {
	tb.Helper()
	deadline := time.Now().Add(pageWait)
	for {
		var got T
		b.eval(tb, probe, &got)
		if cond(got) {
			return got
		}
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %v waiting for %s; the page shows %+v", pageWait, what,
				got)
		}
		time.Sleep(pagePoll)
	}
}

// connState waits until the page's connection state is want and returns its text.
func (b *browser) connState(tb testing.TB, want string) string {
	tb.Helper()
	var text string
	waitPage(tb, b, "connection state "+want,
		`[document.getElementById("conn").dataset.state, document.getElementById("conn").textContent]`,
		func(got []string) bool {
			if len(got) == 2 {
				text = got[1]
			}
			return len(got) == 2 && got[0] == want
		})
	return text
}

func (b *browser) rows(tb testing.TB) []pageRow {
	tb.Helper()
	var rows []pageRow
	b.eval(tb, rowsJS, &rows)
	return rows
}

// storage returns the token kept in sessionStorage ("" when none) and checks that nothing
// else is stored: no other sessionStorage key, nothing in localStorage, no cookie.
func (b *browser) storage(tb testing.TB) string {
	tb.Helper()
	var got struct {
		Token   *string `json:"token"`
		Session int     `json:"session"`
		Local   int     `json:"local"`
		Cookie  string  `json:"cookie"`
	}
	b.eval(tb, `({token: sessionStorage.getItem("`+dashTokenKey+`"),
		session: sessionStorage.length, local: localStorage.length, cookie: document.cookie})`,
		&got)
	if got.Local != 0 || got.Cookie != "" {
		tb.Errorf("localStorage holds %d keys and document.cookie is %q, want none",
			got.Local, got.Cookie)
	}
	want := 0
	if got.Token != nil {
		want = 1
	}
	if got.Session != want {
		tb.Errorf("sessionStorage holds %d keys, want %d (the token only)", got.Session, want)
	}
	if got.Token == nil {
		return ""
	}
	return *got.Token
}

// checkNoViolations checks that the page reported no Content-Security-Policy violation and
// threw no uncaught exception, in this document (the recorder) or any before (the console).
func (b *browser) checkNoViolations(tb testing.TB) {
	tb.Helper()
	var violations []string
	b.eval(tb, `window.__cspViolations || ["the violation recorder did not run"]`, &violations)
	if len(violations) > 0 {
		tb.Errorf("Content-Security-Policy violations: %q", violations)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, m := range b.console {
		if m.IsException() || strings.Contains(m.Text, "Content Security Policy") {
			tb.Errorf("console: %s (%s:%d)", m, m.URL, m.Line)
		}
	}
}

// signIn types tok into the sign-in form and submits it.
func (b *browser) signIn(tb testing.TB, tok string) {
	tb.Helper()
	b.do(tb, "sign in",
		chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), tok),
		chromedp.Click(chromedp.ID("signin-submit")),
	)
}

// dashEngine is an engine served on an address the test chooses, so that a second engine
// can take the first one's address after a restart.
type dashEngine struct {
	*system.Engine
	addr   string
	served chan error
	once   sync.Once
}

// serveEngineAt opens, starts and serves an engine on addr ("127.0.0.1:0" picks a port),
// failing tb if it cannot; it is stopped when owner (tb or a parent of it) ends, or earlier
// by stop.
func serveEngineAt(tb, owner testing.TB, cfg system.Config, addr string) *dashEngine {
	tb.Helper()
	eng, err := system.Open(cfg, testLogger(tb), clock.Real{})
	if err != nil {
		tb.Fatalf("open engine: %v", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		_ = eng.Shutdown(context.Background())
		tb.Fatalf("listen on %s: %v", addr, err)
	}
	if err := eng.Start(); err != nil {
		_ = ln.Close()
		_ = eng.Shutdown(context.Background())
		tb.Fatalf("start engine: %v", err)
	}
	e := &dashEngine{Engine: eng, addr: ln.Addr().String(), served: make(chan error, 1)}
	go func() { e.served <- eng.Serve(ln) }()
	owner.Cleanup(func() { e.stop(owner) })
	return e
}

// stop shuts the engine down once and checks that it stopped cleanly.
func (e *dashEngine) stop(tb testing.TB) {
	tb.Helper()
	e.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		if err := e.Shutdown(ctx); err != nil {
			tb.Errorf("shutdown: %v", err)
		}
		select {
		case err := <-e.served:
			if err != nil {
				tb.Errorf("serve: %v", err)
			}
		case <-ctx.Done():
			tb.Errorf("serve did not return within %v of shutdown", shutdownTimeout)
		}
	})
}

// publishTestAlert publishes one marked test alert through the admin API and returns its
// seq.
func publishTestAlert(tb testing.TB, addr, adminTok string) uint64 {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost,
		"http://"+addr+"/api/v1/admin/publish", strings.NewReader(`{"count":1}`))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+adminTok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("publish: %v", err)
	}
	defer resp.Body.Close()
	var body struct {
		Seqs []uint64 `json:"seqs"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil ||
		resp.StatusCode != http.StatusCreated || len(body.Seqs) != 1 {
		tb.Fatalf("publish: got %d %+v (%v), want 201 and one seq", resp.StatusCode, body, err)
	}
	return body.Seqs[0]
}

// checkWhaleRows checks that rows hold each whale of block 277647 exactly once, confirmed
// in one block, besides the test alerts named in tests (seq to true), and nothing else.
func checkWhaleRows(tb testing.TB, rows []pageRow, tests map[uint64]bool) {
	tb.Helper()
	seen := map[string]int{}
	for _, r := range rows {
		if r.Test {
			if !tests[r.Seq] {
				tb.Errorf("test alert row %+v, want only seqs %v", r, tests)
			}
			continue
		}
		seen[r.TxID]++
	}
	for i, txid := range wantWhales {
		if seen[txid] != 1 {
			tb.Errorf("whale %s: %d rows, want 1", txid, seen[txid])
		}
		delete(seen, txid)
		want := block277647[i]
		for _, r := range rows {
			if r.TxID == txid && (r.Seq != want.seq || r.Status != "confirmed" ||
				r.Confirmations != 1 || !strings.Contains(r.Text, "confirmed · 1 conf")) {
				tb.Errorf("whale row %+v, want seq %d confirmed with 1 confirmation",
					r, want.seq)
			}
		}
	}
	for txid, n := range seen {
		tb.Errorf("unexpected row for %q (%d times)", txid, n)
	}
	if got, want := len(rows), len(wantWhales)+len(tests); got != want {
		tb.Errorf("rows: got %d, want %d", got, want)
	}
}

// TestDashboardInBrowser drives the dashboard in a real headless Chromium against a real
// engine replaying mainnet block 277647: a refused token, sign-in, the replayed whales and
// their confirmations, the in-band token refresh, an engine restart on the same address and
// data directory, a live alert after it, a reload, sign-out, and a session revoked while
// live; all without a Content-Security-Policy violation and with nothing stored but the
// token in sessionStorage. Each step needs the previous one, so the first failure ends it.
func TestDashboardInBrowser(t *testing.T) {
	b := startBrowser(t)
	cfg := replayConfig(t)
	eng := serveEngineAt(t, t, cfg, "127.0.0.1:0")
	addr := eng.addr
	// 30 minutes: inside the refresh window (the last hour) from the start, so the page
	// refreshes its token right after signing in.
	tok, _, err := issuer(t, testSecret, nil).Issue("dash-user", []auth.Perm{auth.PermRead},
		30*time.Minute)
	if err != nil {
		t.Fatalf("issue token: %v", err)
	}
	adminTok := token(t, "dash-admin", auth.PermAdmin)
	b.do(t, "open the dashboard", chromedp.Navigate("http://"+addr+"/"))
	b.connState(t, "signed-out")

	whole := t
	steps := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"a refused token is reported and not retried", func(t *testing.T) {
			checkRefusedToken(t, b, eng)
		}},
		{"sign in and see the whales confirmed", func(t *testing.T) {
			b.signIn(t, tok)
			b.connState(t, "live")
			if got := b.storage(t); got != tok {
				t.Errorf("sessionStorage token: got %.20q…, want the one typed", got)
			}
			rows := waitPage(t, b, "three confirmed whales", rowsJS, func(rows []pageRow) bool {
				return countStatus(rows, "confirmed") == len(wantWhales)
			})
			checkWhaleRows(t, rows, nil)
			lastSeq := waitPage(t, b, "the stats",
				`document.querySelector('#stats [data-key="last_seq"]')?.textContent || ""`,
				func(s string) bool { return s != "" })
			if lastSeq != fmt.Sprint(lastSeq277647) {
				t.Errorf("stats last seq: got %q, want %d", lastSeq, lastSeq277647)
			}
		}},
		{"the token is refreshed in band", func(t *testing.T) {
			refreshed := waitPage(t, b, "a refreshed token in sessionStorage",
				`sessionStorage.getItem("`+dashTokenKey+`") || ""`,
				func(s string) bool { return s != "" && s != tok })
			if got := b.storage(t); got != refreshed {
				t.Errorf("sessionStorage token changed again")
			}
			var when string
			b.eval(t, `document.getElementById("session-refreshed").textContent`, &when)
			if when == "never" {
				t.Errorf("the page does not show the refresh")
			}
			if got := eng.Stats().TokensRefreshed.Load(); got != 1 {
				t.Errorf("tokens refreshed by the engine: got %d, want 1", got)
			}
		}},
		{"the engine stops and the page waits", func(t *testing.T) {
			eng.stop(t)
			text := b.connState(t, "reconnecting")
			if !strings.Contains(text, "reconnecting in ") {
				t.Errorf("connection state %q, want the time to the next try", text)
			}
		}},
		{"the engine starts again and the page resumes", func(t *testing.T) {
			// The engine outlives this step: the whole test owns it.
			eng = serveEngineAt(t, whole, cfg, addr)
			b.connState(t, "live")
			rows := b.rows(t)
			checkWhaleRows(t, rows, nil)
			seq := publishTestAlert(t, addr, adminTok)
			rows = waitPage(t, b, "the test alert", rowsJS, func(rows []pageRow) bool {
				return len(rows) > 0 && rows[0].Seq == seq
			})
			checkWhaleRows(t, rows, map[uint64]bool{seq: true})
		}},
		{"a reload keeps the session", func(t *testing.T) {
			before := b.rows(t)
			b.do(t, "reload", chromedp.Reload())
			b.connState(t, "live")
			rows := waitPage(t, b, "every alert again", rowsJS, func(rows []pageRow) bool {
				return len(rows) == len(before)
			})
			for i := range rows {
				if rows[i].Seq != before[i].Seq || rows[i].Status != before[i].Status {
					t.Errorf("row %d after the reload: got %+v, want %+v", i, rows[i],
						before[i])
				}
			}
			if got := b.storage(t); got == "" || got == tok {
				t.Errorf("after the reload sessionStorage holds %.20q…, want the refreshed "+
					"token", got)
			}
			b.checkNoViolations(t)
		}},
		{"sign out forgets the token", func(t *testing.T) {
			b.do(t, "sign out", chromedp.Click(chromedp.ID("signout")))
			b.connState(t, "signed-out")
			checkSignedOut(t, b)
			waitFor(t, "the session to end", func() bool {
				return eng.Stats().ConnsAuthenticated.Load() == 0
			})
			b.checkNoViolations(t)
		}},
		{"a revoked session is not retried", func(t *testing.T) {
			checkRevokedSession(t, b, eng, adminTok)
		}},
		{"the policy is enforced", func(t *testing.T) { checkPolicyEnforced(t, b) }},
	}
	for _, st := range steps {
		if !t.Run(st.name, st.run) {
			return
		}
	}
}

// checkRefusedToken signs in with a token of another key: the page must show the reason
// on the sign-in form, keep nothing, and not try the token again.
func checkRefusedToken(t *testing.T, b *browser, eng *dashEngine) {
	forged, _, err := issuer(t, strings.Repeat("f", 40), nil).Issue("dash-user",
		[]auth.Perm{auth.PermRead}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	b.signIn(t, forged)
	text := b.connState(t, "auth-failed")
	if !strings.Contains(text, "bad_signature") {
		t.Errorf("connection state %q, want the reason (bad_signature)", text)
	}
	var shown struct {
		Form  bool   `json:"form"`
		Error string `json:"error"`
	}
	b.eval(t, `({form: !document.getElementById("signin-view").hidden,
		error: document.getElementById("signin-error").textContent})`, &shown)
	if !shown.Form || !strings.Contains(shown.Error, "bad_signature") {
		t.Errorf("page shows %+v, want the sign-in form with the reason", shown)
	}
	if got := b.storage(t); got != "" {
		t.Errorf("sessionStorage keeps the refused token")
	}
	time.Sleep(noRetryQuiet)
	if got := eng.Stats().AuthFailures.Load(); got != 1 {
		t.Errorf("auth failures after %v: got %d, want 1 (no retry)", noRetryQuiet, got)
	}
}

// checkSignedOut checks that the page shows the sign-in form and nothing of the session.
func checkSignedOut(t *testing.T, b *browser) {
	t.Helper()
	if got := b.storage(t); got != "" {
		t.Errorf("sessionStorage still holds a token")
	}
	if rows := b.rows(t); len(rows) != 0 {
		t.Errorf("rows: got %d, want none", len(rows))
	}
	var form bool
	b.eval(t, `!document.getElementById("signin-view").hidden &&
		document.getElementById("dash-view").hidden`, &form)
	if !form {
		t.Errorf("the page does not show the sign-in form alone")
	}
}

// checkRevokedSession signs in, then revokes the client while its session is live: the
// engine closes it with 4003, and the page must show why, forget the token and stay on
// the sign-in form without connecting again.
func checkRevokedSession(t *testing.T, b *browser, eng *dashEngine, adminTok string) {
	b.signIn(t, token(t, "dash-revoked", auth.PermRead))
	b.connState(t, "live")
	status := postJSON(t, eng.addr, "/api/v1/admin/revocations", adminTok,
		`{"client":"dash-revoked"}`)
	if status != http.StatusCreated {
		t.Fatalf("revoke: got %d, want 201", status)
	}
	text := b.connState(t, "auth-failed")
	if !strings.Contains(text, "token revoked") {
		t.Errorf("connection state %q, want the close reason (token revoked)", text)
	}
	var shown string
	b.eval(t, `document.getElementById("signin-error").textContent`, &shown)
	if !strings.Contains(shown, "4003") {
		t.Errorf("sign-in error %q, want the close code 4003", shown)
	}
	checkSignedOut(t, b)
	failures := eng.Stats().AuthFailures.Load()
	time.Sleep(noRetryQuiet)
	if got := eng.Stats().AuthFailures.Load(); got != failures {
		t.Errorf("auth failures went from %d to %d after the close: the page retried",
			failures, got)
	}
	if got := eng.Stats().ConnsAuthenticated.Load() +
		eng.Stats().ConnsUnauthenticated.Load(); got != 0 {
		t.Errorf("connections after the close: got %d, want none", got)
	}
}

// checkPolicyEnforced is the control of the violation checks: an inline script, a style
// attribute and a data: image, added by the page's own event loop (code that DevTools
// evaluates directly is exempt from the policy), are blocked and reported.
func checkPolicyEnforced(t *testing.T, b *browser) {
	var ignored int
	b.eval(t, `(() => {
		setTimeout(() => {
			const s = document.createElement("script");
			s.textContent = "window.__inlineRan = true";
			document.head.append(s);
			document.body.setAttribute("style", "color: red");
			const img = document.createElement("img");
			img.src = "data:image/gif;base64,R0lGODlhAQABAAAAACw=";
			document.body.append(img);
		}, 0);
		return 0;
	})()`, &ignored)
	got := waitPage(t, b, "three reported violations",
		`[window.__inlineRan === true, ...window.__cspViolations]`,
		func(v []any) bool { return len(v) >= 4 })
	if got[0] != false {
		t.Errorf("the inline script ran")
	}
	want := []string{"script-src-elem inline", "style-src-attr inline", "img-src data"}
	for i, w := range want {
		if got[i+1] != w {
			t.Errorf("violation %d: got %v, want %q", i+1, got[i+1], w)
		}
	}
}

// postJSON posts body to path with tok as Bearer token and returns the status.
func postJSON(tb testing.TB, addr, path, tok, body string) int {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+path,
		strings.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("POST %s: %v", path, err)
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

// countStatus counts the rows with the given status.
func countStatus(rows []pageRow, status string) int {
	n := 0
	for _, r := range rows {
		if r.Status == status {
			n++
		}
	}
	return n
}

// TestDashboardOrigins checks that the dashboard's own origin may open the WebSocket while
// the engine's Origin rules still refuse every other, and that the engine serves the page
// with its policy.
func TestDashboardOrigins(t *testing.T) {
	te := startEngine(t, replayConfig(t))
	_, port, err := net.SplitHostPort(te.addr)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		origin string
		want   int
	}{
		{"the page's own origin", "http://" + te.addr, http.StatusSwitchingProtocols},
		{"a foreign origin", "http://evil.example", http.StatusForbidden},
		{"a foreign origin on the same port", "http://evil.example:" + port,
			http.StatusForbidden},
		{"localhost is another origin than 127.0.0.1", "http://localhost:" + port,
			http.StatusForbidden},
		{"null", "null", http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := websocket.Dialer{HandshakeTimeout: waitTimeout}
			ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
			defer cancel()
			c, resp, err := d.DialContext(ctx, te.wsURL(), http.Header{"Origin": {tt.origin}})
			if c != nil {
				_ = c.Close()
			}
			if resp == nil {
				t.Fatalf("dial: %v", err)
			}
			_ = resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Errorf("status: got %d, want %d", resp.StatusCode, tt.want)
			}
			if tt.want != http.StatusSwitchingProtocols && !errors.Is(err,
				websocket.ErrBadHandshake) {
				t.Errorf("dial error: got %v, want a bad handshake", err)
			}
		})
	}

	status, header, body := systemtest.Get(t, te.httpURL()+"/", "")
	if status != http.StatusOK || !strings.Contains(string(body), `src="/app.js"`) {
		t.Errorf("GET /: got %d %.60q, want 200 and the page", status, body)
	}
	if got := header.Get("Content-Security-Policy"); got != transport.DashboardCSP {
		t.Errorf("Content-Security-Policy: got %q, want %q", got, transport.DashboardCSP)
	}
}
