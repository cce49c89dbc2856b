package system_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/whalecast/whalecast/internal/auth"
	"github.com/whalecast/whalecast/persistence"
	"github.com/whalecast/whalecast/transport"
)

// TestPublishEndToEnd publishes bench alerts through the admin route of a real engine and
// follows them: numbered after the replayed block's records, persisted, delivered live to a
// session, and audited.
func TestPublishEndToEnd(t *testing.T) {
	te := startEngine(t, replayConfig(t))
	te.waitLastSeq(t, lastSeq277647)
	c := dial(t, te.wsURL())
	welcome := authenticate(t, c, token(t, "watcher", auth.PermRead), -1)
	admin := authHeader(token(t, "ops", auth.PermAdmin))

	got := doHTTP(t, te, http.MethodPost, "/api/v1/admin/publish", admin,
		transport.PublishRequest{Count: 2, ValueBTC: 250, Detector: "bench"})
	if got.status != 201 {
		t.Fatalf("publish: got %d (%s), want 201", got.status, got.body)
	}
	var resp transport.PublishResponse
	if err := json.Unmarshal(got.body, &resp); err != nil {
		t.Fatal(err)
	}
	want := []uint64{welcome + 1, welcome + 2}
	if resp.Published != 2 || !slices.Equal(resp.Seqs, want) {
		t.Fatalf("publish: got %+v, want seqs %v", resp, want)
	}

	for i, m := range readRecords(t, c, 2) {
		var msg struct {
			Data struct {
				Detector  string `json:"detector"`
				Test      bool   `json:"test"`
				ValueSat  int64  `json:"value_sat"`
				FirstSeen string `json:"first_seen"`
			} `json:"data"`
		}
		if err := json.Unmarshal(m.Raw, &msg); err != nil {
			t.Fatal(err)
		}
		d := msg.Data
		if m.Type != "whale_alert" || m.Seq != want[i] || d.Detector != "bench" || !d.Test ||
			d.ValueSat != 25_000_000_000 || d.FirstSeen == "" {
			t.Errorf("record %d: got %s seq %d %+v, want a 250 BTC bench test alert with "+
				"seq %d", i+1, m.Type, m.Seq, d, want[i])
		}
	}

	var page alertsPage
	path := "/api/v1/alerts?since=" + strconv.FormatUint(lastSeq277647, 10)
	if got := getJSON(t, te, path, token(t, "reader", auth.PermRead), &page); got != 200 {
		t.Fatalf("alerts: got %d, want 200", got)
	}
	if len(page.Alerts) != 2 || page.Alerts[0].Seq != want[0] || page.Alerts[1].Seq != want[1] {
		t.Errorf("stored: got %+v, want seqs %v", page.Alerts, want)
	}
	waitAudit(t, te, "test_published by ops", func(ev persistence.AuditEvent) bool {
		return ev.Type == persistence.AuditTestPublished && ev.Client == "ops" &&
			strings.Contains(ev.Detail, "2 bench alerts")
	})
}

func TestPublishRefusedEndToEnd(t *testing.T) {
	te := startEngine(t, replayConfig(t))
	te.waitLastSeq(t, lastSeq277647)
	admin := authHeader(token(t, "ops", auth.PermAdmin))
	tests := []struct {
		name     string
		header   http.Header
		body     any
		want     int
		wantCode string
	}{
		{"read and write token", authHeader(token(t, "rw", auth.PermRead, auth.PermWrite)),
			transport.PublishRequest{Count: 1}, 403, "forbidden"},
		{"no credential", nil, transport.PublishRequest{Count: 1}, 401, "unauthorized"},
		{"a string, not an object", admin, "count=1", 400, "bad_request"},
		{"unknown field", admin, json.RawMessage(`{"count":1,"seq":9}`), 400, "bad_request"},
		{"count over the bound", admin, transport.PublishRequest{Count: 101}, 400,
			"bad_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := doHTTP(t, te, http.MethodPost, "/api/v1/admin/publish", tt.header, tt.body)
			if got.status != tt.want || got.err.Error != tt.wantCode {
				t.Errorf("got %d %q (%s), want %d %q", got.status, got.err.Error, got.body,
					tt.want, tt.wantCode)
			}
		})
	}
	if last := te.Store().LastSeq(); last != lastSeq277647 {
		t.Errorf("last seq: got %d, want %d: a refused call stored something", last,
			lastSeq277647)
	}
}
