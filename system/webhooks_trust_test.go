package system_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/whalecast/whalecast/actors"
	"github.com/whalecast/whalecast/internal/auth"
	"github.com/whalecast/whalecast/transport"
)

// webhookInfo reads one webhook through REST with tok.
func webhookInfo(tb testing.TB, te *testEngine, tok, id string) transport.WebhookInfo {
	tb.Helper()
	var info transport.WebhookInfo
	if code := getJSON(tb, te, "/api/v1/webhooks/"+id, tok, &info); code != http.StatusOK {
		tb.Fatalf("GET webhook %s: got %d, want 200", id, code)
	}
	return info
}

// TestWebhookSuspendedWhenOwnerRevoked revokes, in turn, the client that owns a webhook,
// the token that created one and the API key that created one. Each webhook has a delivery
// waiting for a receiver that is down; once its credential is revoked it is suspended: GET
// says so, the waiting delivery is kept, nothing more is posted, and records published
// after are not taken. A webhook of a client left alone keeps delivering.
func TestWebhookSuspendedWhenOwnerRevoked(t *testing.T) {
	te := startEngine(t, webhookConfig(t, time.Minute))
	te.waitLastSeq(t, lastSeq277647)
	admin := token(t, "ops", auth.PermAdmin)
	adminHeader := authHeader(admin)

	tokenHolder, claims, err := issuer(t, testSecret, nil).Issue("tess",
		[]auth.Perm{auth.PermWrite}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	ans := doHTTP(t, te, http.MethodPost, "/api/v1/admin/apikeys", adminHeader,
		map[string]any{"client": "kim", "perms": []string{"write"}})
	var key transport.NewAPIKeyResponse
	if ans.status != http.StatusCreated || json.Unmarshal(ans.body, &key) != nil {
		t.Fatalf("create api key: got %d %s", ans.status, ans.body)
	}

	tests := []struct {
		name   string
		create http.Header
		revoke func(t *testing.T)
		reason string
	}{
		{"client revoked", authHeader(token(t, "alice", auth.PermWrite)), func(t *testing.T) {
			revoke(t, te, adminHeader, map[string]any{"client": "alice"})
		}, "client was revoked"},
		{"token revoked", authHeader(tokenHolder), func(t *testing.T) {
			revoke(t, te, adminHeader, map[string]any{"jti": claims.ID,
				"expires_at": claims.ExpiresAt.Format(time.RFC3339)})
		}, "token that created it was revoked"},
		{"api key revoked", http.Header{"X-Api-Key": {key.Key}}, func(t *testing.T) {
			if got := doHTTP(t, te, http.MethodDelete, "/api/v1/admin/apikeys/"+key.ID,
				adminHeader, nil); got.status != http.StatusNoContent {
				t.Fatalf("revoke api key: got %d %s", got.status, got.body)
			}
		}, "API key that created it was revoked"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rcv := newCustomerReceiver(t, answerWith(http.StatusServiceUnavailable))
			ans := doHTTP(t, te, http.MethodPost, "/api/v1/webhooks", tt.create,
				map[string]any{"url": rcv.srv.URL + "/in", "min_btc": 21_000_000})
			var hook transport.NewWebhookResponse
			if ans.status != http.StatusCreated || json.Unmarshal(ans.body, &hook) != nil {
				t.Fatalf("create webhook: got %d %s", ans.status, ans.body)
			}
			seq := publishOne(t, te)
			waitOutcome(t, te, admin, hook.ID, seq, "retry")

			tt.revoke(t)
			var info transport.WebhookInfo
			waitFor(t, "webhook "+hook.ID+" suspended", func() bool {
				info = webhookInfo(t, te, admin, hook.ID)
				return info.Status == transport.WebhookSuspended
			})
			if !strings.Contains(info.SuspendReason, tt.reason) || info.SuspendedAt == nil {
				t.Errorf("suspended: got reason %q at %v, want %q", info.SuspendReason,
					info.SuspendedAt, tt.reason)
			}
			if info.Pending == nil || *info.Pending != 1 {
				t.Errorf("pending: got %v, want the waiting delivery kept", info.Pending)
			}

			hits := rcv.hits.Load()
			later := publishOne(t, te)
			time.Sleep(300 * time.Millisecond) // several retry intervals (20 to 100 ms)
			if got := rcv.hits.Load(); got != hits {
				t.Errorf("receiver hit %d times after the suspension, want none", got-hits)
			}
			for _, e := range deliveryLog(t, te, admin, hook.ID) {
				if e.Seq == later {
					t.Errorf("log: got %+v for a record published after the suspension", e)
				}
			}
			ans = doHTTP(t, te, http.MethodPost, "/api/v1/webhooks/"+hook.ID+
				"/dead-letters/replay", adminHeader, nil)
			if ans.status != http.StatusConflict || ans.err.Error != "suspended" {
				t.Errorf("replay: got %d %s, want 409 suspended", ans.status, ans.body)
			}
			if got := doHTTP(t, te, http.MethodDelete, "/api/v1/webhooks/"+hook.ID,
				adminHeader, nil); got.status != http.StatusNoContent {
				t.Errorf("delete: got %d %s, want 204", got.status, got.body)
			}
		})
	}

	t.Run("owner left alone", func(t *testing.T) {
		bob := token(t, "bob", auth.PermWrite)
		rcv := newCustomerReceiver(t, answerWith(http.StatusNoContent))
		hook := createWebhook(t, te, bob, rcv.srv.URL+"/in")
		revoke(t, te, adminHeader, map[string]any{"client": "bobby"})
		seq := publishOne(t, te)
		waitOutcome(t, te, bob, hook.ID, seq, "delivered")
		if info := webhookInfo(t, te, bob, hook.ID); info.Status != transport.WebhookActive {
			t.Errorf("status: got %q, want active", info.Status)
		}
	})
}

// revoke posts a revocation as an admin.
func revoke(tb testing.TB, te *testEngine, admin http.Header, body map[string]any) {
	tb.Helper()
	if got := doHTTP(tb, te, http.MethodPost, "/api/v1/admin/revocations", admin,
		body); got.status != http.StatusCreated {
		tb.Fatalf("revoke %v: got %d %s", body, got.status, got.body)
	}
}

// hangingReceiver is a receiver that never answers until the test ends; it counts the
// requests it holds at once.
type hangingReceiver struct {
	*customerReceiver
	mu      sync.Mutex
	held    int
	maxHeld int
}

func newHangingReceiver(tb testing.TB) *hangingReceiver {
	tb.Helper()
	release := make(chan struct{})
	h := &hangingReceiver{}
	h.customerReceiver = newCustomerReceiver(tb, func(_ int, _ http.ResponseWriter,
		r *http.Request) {
		h.mu.Lock()
		h.held++
		h.maxHeld = max(h.maxHeld, h.held)
		h.mu.Unlock()
		select {
		case <-r.Context().Done():
		case <-release:
		}
		h.mu.Lock()
		h.held--
		h.mu.Unlock()
	})
	tb.Cleanup(func() { close(release) }) // before the server's Close, which waits
	return h
}

// most returns the most requests held at once.
func (h *hangingReceiver) most() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.maxHeld
}

// TestWebhookOwnersShareSlots gives two clients ten webhooks each whose receivers never
// answer (each attempt holds its slot for the whole 3 s timeout), enough to take every
// attempt slot of the engine. A third client's receiver that works still gets each record
// at once: an owner holds at most its share of the slots.
func TestWebhookOwnersShareSlots(t *testing.T) {
	cfg := webhookConfig(t, time.Minute)
	cfg.Webhooks.Timeout = 3 * time.Second
	te := startEngine(t, cfg)
	te.waitLastSeq(t, lastSeq277647)
	hang := newHangingReceiver(t)
	for _, client := range []string{"mallory", "trudy"} {
		tok := token(t, client, auth.PermWrite)
		for i := range 10 {
			createWebhook(t, te, tok, hang.srv.URL+"/"+client+"/"+string(rune('a'+i)))
		}
	}
	got := doHTTP(t, te, http.MethodPost, "/api/v1/admin/publish",
		authHeader(token(t, "ops", auth.PermAdmin)), transport.PublishRequest{Count: 4})
	if got.status != http.StatusCreated {
		t.Fatalf("publish: got %d %s", got.status, got.body)
	}
	share := 2 * actors.DefaultWebhookOwnerInflight
	waitFor(t, "the hanging receivers to hold their share", func() bool {
		return hang.hits.Load() >= int32(share)
	})

	gail := token(t, "gail", auth.PermWrite)
	rcv := newCustomerReceiver(t, answerWith(http.StatusNoContent))
	hook := createWebhook(t, te, gail, rcv.srv.URL)
	for range 3 {
		start := time.Now()
		seq := publishOne(t, te)
		waitOutcome(t, te, gail, hook.ID, seq, "delivered")
		if took := time.Since(start); took > 1500*time.Millisecond {
			t.Errorf("seq %d delivered after %v, want well within the 3 s that the hanging "+
				"receivers hold their slots", seq, took)
		}
	}
	if most := hang.most(); most > share {
		t.Errorf("the hanging receivers held %d attempts at once, want at most %d (%d per "+
			"owner)", most, share, actors.DefaultWebhookOwnerInflight)
	}
}
