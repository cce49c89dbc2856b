package transport

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/whalecast/whalecast/internal/alert"
	"github.com/whalecast/whalecast/internal/auth"
	"github.com/whalecast/whalecast/persistence"
)

// fakePublisher numbers alerts from 1 as the store would, and keeps what it was given.
// lose makes it refuse that many alerts at the end of each call; err fails every call.
type fakePublisher struct {
	lose int
	err  error

	mu     sync.Mutex
	last   uint64
	alerts []alert.Alert
}

func (f *fakePublisher) Publish(_ context.Context, alerts []alert.Alert) ([]uint64, error) {
	if f.err != nil {
		return nil, f.err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.alerts = append(f.alerts, alerts...)
	seqs := make([]uint64, len(alerts))
	for i := range max(len(alerts)-f.lose, 0) {
		f.last++
		seqs[i] = f.last
	}
	return seqs, nil
}

func (f *fakePublisher) got() []alert.Alert {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.alerts)
}

// publishFixture serves the REST routes with pub as the publisher.
func publishFixture(t *testing.T, pub Publisher, edit func(*Config)) *fixture {
	t.Helper()
	return newFixture(t, func(c *Config) {
		c.Publisher = pub
		if edit != nil {
			edit(c)
		}
	})
}

func publishHeaders(tok, body string) map[string]string {
	return map[string]string{"Authorization": "Bearer " + tok,
		"Content-Type": "application/json", "Body": body}
}

func TestPublishStoresMarkedAlerts(t *testing.T) {
	pub := &fakePublisher{}
	f := publishFixture(t, pub, nil)
	admin := f.token(t, "ops", auth.PermAdmin)

	got := call(t, http.MethodPost, f.url+"/api/v1/admin/publish",
		publishHeaders(admin, `{"count":3,"value_btc":150.5,"detector":"bench"}`))
	if got.status != 201 {
		t.Fatalf("status: got %d (%s), want 201", got.status, got.body)
	}
	var resp PublishResponse
	if err := json.Unmarshal(got.body, &resp); err != nil {
		t.Fatal(err)
	}
	if want := (PublishResponse{Published: 3, Seqs: []uint64{1, 2, 3}}); resp.Published !=
		want.Published || !slices.Equal(resp.Seqs, want.Seqs) || resp.Lost != 0 {
		t.Errorf("body: got %+v, want %+v", resp, want)
	}

	txids := map[string]bool{}
	for i, a := range pub.got() {
		txids[a.TxID] = true
		if !a.Test || a.Detector != "bench" || a.ValueSat != 15_050_000_000 ||
			!a.FirstSeen.Equal(f.clock.Now()) || len(a.TxID) != 64 {
			t.Errorf("alert %d: got %+v, want a bench test alert of 150.5 BTC first seen "+
				"now with a 64-digit txid", i, a)
		}
	}
	if len(txids) != 3 {
		t.Errorf("txids: got %d distinct, want 3", len(txids))
	}

	var audited []persistence.AuditEvent
	for _, ev := range f.audit.all() {
		if ev.Type == persistence.AuditTestPublished {
			audited = append(audited, ev)
		}
	}
	if len(audited) != 1 || audited[0].Client != "ops" ||
		!strings.Contains(audited[0].Detail, "seqs 1 to 3") {
		t.Errorf("audit: got %+v, want one test_published event by ops naming seqs 1 to 3",
			audited)
	}
}

func TestPublishDefaultsToTestDetector(t *testing.T) {
	pub := &fakePublisher{}
	f := publishFixture(t, pub, nil)
	got := call(t, http.MethodPost, f.url+"/api/v1/admin/publish",
		publishHeaders(f.token(t, "ops", auth.PermAdmin), `{"count":1}`))
	if got.status != 201 {
		t.Fatalf("status: got %d (%s), want 201", got.status, got.body)
	}
	if a := pub.got(); len(a) != 1 || a[0].Detector != "test" || a[0].ValueSat != 0 {
		t.Errorf("alerts: got %+v, want one test alert of 0 BTC", a)
	}
}

func TestPublishRefusals(t *testing.T) {
	long := `{"count":1,"detector":"` + strings.Repeat("b", MaxAdminBody) + `"}`
	tests := []struct {
		name     string
		perms    []auth.Perm
		noToken  bool
		ctype    string
		path     string
		body     string
		want     int
		wantCode string
	}{
		{name: "read and write token", perms: []auth.Perm{auth.PermRead, auth.PermWrite},
			body: `{"count":1}`, want: 403, wantCode: "forbidden"},
		{name: "no credential", noToken: true, body: `{"count":1}`, want: 401,
			wantCode: "unauthorized"},
		{name: "count missing", body: `{}`, want: 400, wantCode: "bad_request"},
		{name: "count zero", body: `{"count":0}`, want: 400, wantCode: "bad_request"},
		{name: "count over the bound", body: `{"count":101}`, want: 400,
			wantCode: "bad_request"},
		{name: "count negative", body: `{"count":-1}`, want: 400, wantCode: "bad_request"},
		{name: "count not a whole number", body: `{"count":1.5}`, want: 400,
			wantCode: "bad_request"},
		{name: "count a string", body: `{"count":"1"}`, want: 400, wantCode: "bad_request"},
		{name: "negative value", body: `{"count":1,"value_btc":-1}`, want: 400,
			wantCode: "bad_request"},
		{name: "value over the supply", body: `{"count":1,"value_btc":21000001}`, want: 400,
			wantCode: "bad_request"},
		{name: "unknown detector", body: `{"count":1,"detector":"large_value"}`, want: 400,
			wantCode: "bad_request"},
		{name: "unknown field", body: `{"count":1,"txid":"aa"}`, want: 400,
			wantCode: "bad_request"},
		{name: "not JSON", body: `count=1`, want: 400, wantCode: "bad_request"},
		{name: "a list", body: `[{"count":1}]`, want: 400, wantCode: "bad_request"},
		{name: "trailing data", body: `{"count":1}{"count":1}`, want: 400,
			wantCode: "bad_request"},
		{name: "empty body", body: ``, want: 400, wantCode: "bad_request"},
		{name: "query parameter", path: "?count=1", body: `{"count":1}`, want: 400,
			wantCode: "bad_request"},
		{name: "not application/json", ctype: "text/plain", body: `{"count":1}`, want: 415,
			wantCode: "unsupported_media_type"},
		{name: "body over 16 KiB", body: long, want: 413, wantCode: "too_large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pub := &fakePublisher{}
			f := publishFixture(t, pub, nil)
			perms := tt.perms
			if perms == nil {
				perms = []auth.Perm{auth.PermAdmin}
			}
			h := publishHeaders(f.token(t, "caller", perms...), tt.body)
			if tt.noToken {
				delete(h, "Authorization")
			}
			if tt.ctype != "" {
				h["Content-Type"] = tt.ctype
			}
			got := call(t, http.MethodPost, f.url+"/api/v1/admin/publish"+tt.path, h)
			if got.status != tt.want || got.err.Error != tt.wantCode {
				t.Errorf("got %d %q (%s), want %d %q", got.status, got.err.Error, got.body,
					tt.want, tt.wantCode)
			}
			if n := len(pub.got()); n != 0 {
				t.Errorf("publisher got %d alerts, want none", n)
			}
		})
	}
}

func TestPublishStoreOutcomes(t *testing.T) {
	tests := []struct {
		name      string
		pub       Publisher
		count     int
		want      int
		wantLost  int
		wantSeqs  int
		wantError string
	}{
		{name: "publishing off", pub: nil, count: 1, want: 503, wantError: "unavailable"},
		{name: "store did not answer", pub: &fakePublisher{err: errors.New("timeout")},
			count: 1, want: 503, wantError: "unavailable"},
		{name: "store took nothing", pub: &fakePublisher{lose: 5}, count: 2, want: 503,
			wantError: "unavailable"},
		{name: "store took some", pub: &fakePublisher{lose: 1}, count: 3, want: 201,
			wantLost: 1, wantSeqs: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := publishFixture(t, tt.pub, nil)
			body, _ := json.Marshal(PublishRequest{Count: tt.count})
			got := call(t, http.MethodPost, f.url+"/api/v1/admin/publish",
				publishHeaders(f.token(t, "ops", auth.PermAdmin), string(body)))
			if got.status != tt.want || got.err.Error != tt.wantError {
				t.Fatalf("got %d %q (%s), want %d %q", got.status, got.err.Error, got.body,
					tt.want, tt.wantError)
			}
			if tt.want != 201 {
				return
			}
			var resp PublishResponse
			if err := json.Unmarshal(got.body, &resp); err != nil {
				t.Fatal(err)
			}
			if resp.Lost != tt.wantLost || len(resp.Seqs) != tt.wantSeqs ||
				resp.Published != tt.wantSeqs {
				t.Errorf("body: got %+v, want %d seqs and %d lost", resp, tt.wantSeqs,
					tt.wantLost)
			}
		})
	}
}

// TestPublishIsRateLimited checks that publish calls spend the caller's REST bucket like
// every admin route.
func TestPublishIsRateLimited(t *testing.T) {
	pub := &fakePublisher{}
	f := publishFixture(t, pub, func(c *Config) { c.RateLimit = 2 })
	admin := f.token(t, "ops", auth.PermAdmin)
	var statuses []int
	for range 3 {
		got := call(t, http.MethodPost, f.url+"/api/v1/admin/publish",
			publishHeaders(admin, `{"count":1}`))
		statuses = append(statuses, got.status)
		if got.status == 429 && got.header.Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
	}
	if want := []int{201, 201, 429}; !slices.Equal(statuses, want) {
		t.Errorf("statuses: got %v, want %v", statuses, want)
	}
	if n := len(pub.got()); n != 2 {
		t.Errorf("published: got %d alerts, want 2", n)
	}
}

func TestPublishRequestCheck(t *testing.T) {
	tests := []struct {
		name    string
		req     PublishRequest
		want    PublishRequest
		wantErr bool
	}{
		{"defaults", PublishRequest{Count: 1}, PublishRequest{Count: 1, Detector: "test"},
			false},
		{"bench at the bounds", PublishRequest{Count: MaxPublishCount, ValueBTC: MaxPublishBTC,
			Detector: "bench"}, PublishRequest{Count: MaxPublishCount,
			ValueBTC: MaxPublishBTC, Detector: "bench"}, false},
		{"count zero", PublishRequest{}, PublishRequest{}, true},
		{"detector case", PublishRequest{Count: 1, Detector: "Bench"}, PublishRequest{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.req.Check()
			if (err != nil) != tt.wantErr {
				t.Fatalf("error: got %v, want error %v", err, tt.wantErr)
			}
			if err != nil {
				if !errors.Is(err, ErrInvalidRequest) {
					t.Errorf("error %v does not wrap ErrInvalidRequest", err)
				}
				return
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}
