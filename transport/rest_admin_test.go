package transport

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/whalecast/whalecast/internal/auth"
	"github.com/whalecast/whalecast/persistence"
)

func TestAdminRoutesNeedAdmin(t *testing.T) {
	f := newFixture(t, nil)
	reader := f.token(t, "reader", auth.PermRead, auth.PermWrite)
	admin := f.token(t, "root", auth.PermAdmin)
	readKey, _ := f.apiKey(t, "keyed", "read", "write")
	adminKey, _ := f.apiKey(t, "keyed-admin", "admin")
	routes := []struct {
		method, path, body string
		want               int
	}{
		{http.MethodGet, "/api/v1/admin/revocations", "", 200},
		{http.MethodPost, "/api/v1/admin/revocations", `{"client":"mallory"}`, 201},
		{http.MethodGet, "/api/v1/admin/apikeys", "", 200},
		{http.MethodPost, "/api/v1/admin/apikeys", `{"client":"c1","perms":["read"]}`, 201},
		{http.MethodDelete, "/api/v1/admin/apikeys/0123456789abcdef", "", 404},
		{http.MethodGet, "/api/v1/admin/audit", "", 200},
		{http.MethodGet, "/api/v1/admin/keys", "", 200},
	}
	callers := []struct {
		name    string
		headers map[string]string
		admin   bool
	}{
		{"read and write token", bearer(reader), false},
		{"read and write api key", map[string]string{"X-API-Key": readKey}, false},
		{"admin token", bearer(admin), true},
		{"admin api key", map[string]string{"X-API-Key": adminKey}, true},
	}
	for _, c := range callers {
		for _, rt := range routes {
			t.Run(c.name+" "+rt.method+" "+rt.path, func(t *testing.T) {
				h := map[string]string{"Content-Type": "application/json", "Body": rt.body}
				for k, v := range c.headers {
					h[k] = v
				}
				want := rt.want
				if !c.admin {
					want = 403
				}
				if got := call(t, rt.method, f.url+rt.path, h); got.status != want {
					t.Errorf("status: got %d (%s), want %d", got.status, got.body, want)
				}
			})
		}
	}
}

func TestAdminAPIKeyLifecycle(t *testing.T) {
	f := newFixture(t, nil)
	admin := f.token(t, "root", auth.PermAdmin)

	created := call(t, http.MethodPost, f.url+"/api/v1/admin/apikeys",
		jsonBody(t, admin, APIKeyRequest{Client: "bot-1", Perms: []string{"read", "read"}}))
	if created.status != 201 {
		t.Fatalf("create: status got %d (%s), want 201", created.status, created.body)
	}
	var nk NewAPIKeyResponse
	if err := json.Unmarshal(created.body, &nk); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(nk.Key, persistence.APIKeyPrefix) || nk.ID == "" ||
		nk.Client != "bot-1" || !slices.Equal(nk.Perms, []string{"read"}) {
		t.Fatalf("create: got %+v, want a key for bot-1 with read", nk)
	}
	if got := created.header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("create: Cache-Control got %q, want no-store", got)
	}
	if got := created.header.Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("create: X-Content-Type-Options got %q, want nosniff", got)
	}

	use := map[string]string{"X-API-Key": nk.Key}
	if got := call(t, http.MethodGet, f.url+"/api/v1/alerts", use); got.status != 200 {
		t.Fatalf("use: status got %d, want 200", got.status)
	}
	list := call(t, http.MethodGet, f.url+"/api/v1/admin/apikeys", bearer(admin))
	if strings.Contains(string(list.body), nk.Key) || !strings.Contains(string(list.body),
		nk.ID) {
		t.Fatalf("list: got %s, want the id and no key", list.body)
	}

	del := call(t, http.MethodDelete, f.url+"/api/v1/admin/apikeys/"+nk.ID, bearer(admin))
	if del.status != 204 {
		t.Fatalf("revoke: status got %d (%s), want 204", del.status, del.body)
	}
	got := call(t, http.MethodGet, f.url+"/api/v1/alerts", use)
	if got.status != 401 || got.err.Reason != "revoked" {
		t.Errorf("use after revoke: got %d %q, want 401 revoked", got.status, got.err.Reason)
	}

	wantTypes := map[string]bool{}
	for _, ev := range f.audit.all() {
		if ev.KeyID == nk.ID {
			wantTypes[ev.Type] = true
			admin := ev.Type == persistence.AuditAPIKeyCreated ||
				ev.Type == persistence.AuditAPIKeyRevoked
			if admin && ev.Client != "root" {
				t.Errorf("%s: client got %q, want the caller root", ev.Type, ev.Client)
			}
		}
	}
	for _, typ := range []string{persistence.AuditAPIKeyCreated, persistence.AuditAuthSuccess,
		persistence.AuditAPIKeyRevoked, persistence.AuditAuthFailure} {
		if !wantTypes[typ] {
			t.Errorf("no %s audit event for the key", typ)
		}
	}
}

func TestAdminBodies(t *testing.T) {
	f := newFixture(t, nil)
	admin := f.token(t, "root", auth.PermAdmin)
	future := f.clock.Now().Add(time.Hour).Format(time.RFC3339)
	past := f.clock.Now().Add(-time.Hour).Format(time.RFC3339)
	tests := []struct {
		name        string
		path        string
		contentType string
		body        string
		want        int
		wantCode    string
	}{
		{"revoke a jti", "/revocations", "application/json",
			`{"jti":"0123456789abcdef","expires_at":"` + future + `"}`, 201, ""},
		{"revoke a client", "/revocations", "application/json; charset=utf-8",
			`{"client":"mallory"}`, 201, ""},
		{"jti and client", "/revocations", "application/json",
			`{"jti":"0123456789abcdef","client":"mallory"}`, 400, "bad_request"},
		{"neither", "/revocations", "application/json", `{}`, 400, "bad_request"},
		{"expires_at with client", "/revocations", "application/json",
			`{"client":"mallory","expires_at":"` + future + `"}`, 400, "bad_request"},
		{"expires_at passed", "/revocations", "application/json",
			`{"jti":"0123456789abcdef","expires_at":"` + past + `"}`, 400, "bad_request"},
		{"expires_at not RFC 3339", "/revocations", "application/json",
			`{"jti":"0123456789abcdef","expires_at":"tomorrow"}`, 400, "bad_request"},
		{"jti with a quote", "/revocations", "application/json", `{"jti":"a'b"}`, 400,
			"bad_request"},
		{"jti too long", "/revocations", "application/json",
			`{"jti":"` + strings.Repeat("a", 65) + `"}`, 400, "bad_request"},
		{"unknown field", "/revocations", "application/json",
			`{"jti":"0123456789abcdef","admin":true}`, 400, "bad_request"},
		{"trailing data", "/revocations", "application/json",
			`{"client":"mallory"}{"client":"x"}`, 400, "bad_request"},
		{"not json", "/revocations", "application/json", `client=mallory`, 400,
			"bad_request"},
		{"form content type", "/revocations", "application/x-www-form-urlencoded",
			`{"client":"mallory"}`, 415, "unsupported_media_type"},
		{"no content type", "/revocations", "", `{"client":"mallory"}`, 415,
			"unsupported_media_type"},
		{"over 16 KiB", "/revocations", "application/json",
			`{"client":"` + strings.Repeat("a", 17<<10) + `"}`, 413, "too_large"},
		{"api key without perms", "/apikeys", "application/json", `{"client":"c"}`, 400,
			"bad_request"},
		{"api key with unknown perm", "/apikeys", "application/json",
			`{"client":"c","perms":["root"]}`, 400, "bad_request"},
		{"api key perm in upper case", "/apikeys", "application/json",
			`{"client":"c","perms":["READ"]}`, 400, "bad_request"},
		{"api key client with a space", "/apikeys", "application/json",
			`{"client":"a b","perms":["read"]}`, 400, "bad_request"},
		{"api key perms not a list", "/apikeys", "application/json",
			`{"client":"c","perms":"read"}`, 400, "bad_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := map[string]string{"Authorization": "Bearer " + admin, "Body": tt.body}
			if tt.contentType != "" {
				h["Content-Type"] = tt.contentType
			}
			got := call(t, http.MethodPost, f.url+"/api/v1/admin"+tt.path, h)
			if got.status != tt.want || got.err.Error != tt.wantCode {
				t.Errorf("got %d %q (%s), want %d %q", got.status, got.err.Error, got.body,
					tt.want, tt.wantCode)
			}
		})
	}
}

func TestAdminRevocationsAndAudit(t *testing.T) {
	f := newFixture(t, nil)
	admin := f.token(t, "root", auth.PermAdmin)
	post := call(t, http.MethodPost, f.url+"/api/v1/admin/revocations",
		jsonBody(t, admin, RevokeRequest{Client: "mallory"}))
	if post.status != 201 {
		t.Fatalf("revoke: status got %d (%s)", post.status, post.body)
	}
	var rev RevocationInfo
	if err := json.Unmarshal(post.body, &rev); err != nil {
		t.Fatal(err)
	}
	if rev.Kind != "client" || rev.Value != "mallory" || !rev.Until.After(rev.At) {
		t.Errorf("revocation: got %+v, want client mallory with until after at", rev)
	}
	var list RevocationList
	got := call(t, http.MethodGet, f.url+"/api/v1/admin/revocations", bearer(admin))
	if err := json.Unmarshal(got.body, &list); err != nil || len(list.Revocations) != 1 {
		t.Fatalf("list: got %s, want one revocation", got.body)
	}

	call(t, http.MethodGet, f.url+"/api/v1/alerts", bearer("bad"))
	var page AuditPage
	got = call(t, http.MethodGet, f.url+"/api/v1/admin/audit?since=0&limit=1", bearer(admin))
	if err := json.Unmarshal(got.body, &page); err != nil || len(page.Events) != 1 ||
		page.Next != page.Events[0].Seq {
		t.Fatalf("audit page: got %s, want one event and next its seq", got.body)
	}
	var all AuditPage
	got = call(t, http.MethodGet, f.url+"/api/v1/admin/audit?since="+
		strconv.FormatUint(page.Next, 10), bearer(admin))
	if err := json.Unmarshal(got.body, &all); err != nil {
		t.Fatal(err)
	}
	var sawFailure bool
	for _, e := range all.Events {
		sawFailure = sawFailure || e.Type == "auth_failure" && e.Reason == "malformed" &&
			e.Remote == "127.0.0.1"
	}
	if !sawFailure {
		t.Errorf("audit: got %s, want the malformed auth_failure from 127.0.0.1", got.body)
	}
	for _, q := range []string{"?since=-1", "?limit=5000", "?since=1&x=2"} {
		if got := call(t, http.MethodGet, f.url+"/api/v1/admin/audit"+q, bearer(admin)); got.
			status != 400 {
			t.Errorf("audit%s: status got %d, want 400", q, got.status)
		}
	}
	var keys TokenKeyList
	got = call(t, http.MethodGet, f.url+"/api/v1/admin/keys", bearer(admin))
	if err := json.Unmarshal(got.body, &keys); err != nil || len(keys.Keys) != 1 ||
		keys.Keys[0].KID != "k1" {
		t.Errorf("keys: got %s, want k1", got.body)
	}
}
