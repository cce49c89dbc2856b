package transport

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"net/http"
	"time"
)

// dashboardFiles holds the dashboard: one page, one script and one style sheet, served as
// they are (no build step) from the binary itself.
//
//go:embed dashboard/index.html dashboard/app.js dashboard/app.css
var dashboardFiles embed.FS

// DashboardCSP is the Content-Security-Policy of every dashboard answer. Scripts and styles
// come only from the engine's own files (no inline script, style attribute or eval), the
// page talks only to its own origin ('self' covers its ws: and wss: URLs), and nothing may
// frame it, post a form or rebase its URLs.
const DashboardCSP = "default-src 'none'; script-src 'self'; style-src 'self'; " +
	"connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; " +
	"frame-ancestors 'none'"

// dashboardAsset is one embedded file, ready to serve.
type dashboardAsset struct {
	name  string
	ctype string
	body  []byte
	// etag is a strong validator of body, so that a browser revalidates cheaply.
	etag string
}

// dashboard holds the embedded assets, ready to serve.
type dashboard struct {
	page, script, style dashboardAsset
}

// dashboardAssets is read from dashboardFiles once, when the package is initialised: the
// files are part of the binary and never change.
var dashboardAssets = mustLoadDashboard()

// mustLoadDashboard reads the embedded assets. go:embed already refuses to build without
// them, so a failure here is a broken build and panics.
func mustLoadDashboard() *dashboard {
	load := func(name, ctype string) dashboardAsset {
		body, err := dashboardFiles.ReadFile("dashboard/" + name)
		if err != nil {
			panic(fmt.Sprintf("transport: dashboard asset %s: %v", name, err))
		}
		sum := sha256.Sum256(body)
		return dashboardAsset{name: name, ctype: ctype, body: body,
			etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
	}
	return &dashboard{
		page:   load("index.html", "text/html; charset=utf-8"),
		script: load("app.js", "text/javascript; charset=utf-8"),
		style:  load("app.css", "text/css; charset=utf-8"),
	}
}

// dashboardRoutes registers the dashboard: the page at / alone ("/{$}": other paths outside
// /api/ keep answering 404), its script and its style sheet. None needs a credential: the
// page holds no data, and signs in to the WebSocket and the REST API like any client.
func (s *Server) dashboardRoutes(mux *http.ServeMux) {
	d := dashboardAssets
	mux.HandleFunc("GET /{$}", d.servePage)
	mux.HandleFunc("GET /app.js", d.serveScript)
	mux.HandleFunc("GET /app.css", d.serveStyle)
}

func (d *dashboard) servePage(w http.ResponseWriter, r *http.Request) {
	serveDashboardAsset(w, r, d.page)
}

func (d *dashboard) serveScript(w http.ResponseWriter, r *http.Request) {
	serveDashboardAsset(w, r, d.script)
}

func (d *dashboard) serveStyle(w http.ResponseWriter, r *http.Request) {
	serveDashboardAsset(w, r, d.style)
}

// serveDashboardAsset answers GET and HEAD for one asset, 304 to a matching If-None-Match,
// with the dashboard's security headers; a query string is refused (400), as on every
// route that takes none. Cache-Control no-cache makes the browser
// revalidate every time, so that an upgraded engine's files are used at once. The
// embedded files carry no time, so no Last-Modified.
func serveDashboardAsset(w http.ResponseWriter, r *http.Request, a dashboardAsset) {
	h := w.Header()
	setDashboardHeaders(h)
	if !noParams(w, r) {
		return
	}
	h.Set("Content-Type", a.ctype)
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", a.etag)
	http.ServeContent(w, r, a.name, time.Time{}, bytes.NewReader(a.body))
}

// setDashboardHeaders sets the headers every dashboard answer carries.
func setDashboardHeaders(h http.Header) {
	h.Set("Content-Security-Policy", DashboardCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
}
