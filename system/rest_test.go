package system_test

import (
	"strings"
	"testing"
	"time"

	"github.com/whalecast/whalecast/internal/auth"
	"github.com/whalecast/whalecast/internal/clock"
)

// alertsPage is the body of GET /api/v1/alerts, and of its errors. Its rows are the stored
// records: whale alerts and alert updates alike.
type alertsPage struct {
	Alerts []struct {
		Seq  uint64 `json:"seq"`
		Data struct {
			TxID     string `json:"txid"`
			Status   string `json:"status"`
			AlertSeq uint64 `json:"alert_seq"`
		} `json:"data"`
	} `json:"alerts"`
	Next  uint64 `json:"next"`
	Error string `json:"error"`
}

func TestREST(t *testing.T) {
	te := startEngine(t, replayConfig(t))
	te.waitLastSeq(t, lastSeq277647)

	read := token(t, "rest-reader", auth.PermRead)
	writeOnly := token(t, "rest-writer", auth.PermWrite)
	forged, _, err := issuer(t, strings.Repeat("z", 32), nil).Issue("forger",
		[]auth.Perm{auth.PermRead}, time.Hour)
	if err != nil {
		t.Fatalf("issue forged token: %v", err)
	}
	expired, _, err := issuer(t, testSecret, clock.NewFake(time.Now().Add(-3*time.Hour))).
		Issue("late", []auth.Perm{auth.PermRead}, time.Hour)
	if err != nil {
		t.Fatalf("issue expired token: %v", err)
	}

	tests := []struct {
		name      string
		path      string
		token     string
		want      int
		wantErr   string
		wantSeqs  []uint64
		wantNext  uint64
		checkPage bool
	}{
		{name: "first page", path: "/api/v1/alerts?since=0&limit=2", token: read, want: 200,
			checkPage: true, wantSeqs: []uint64{1, 2}, wantNext: 2},
		{name: "next page", path: "/api/v1/alerts?since=2&limit=2", token: read, want: 200,
			checkPage: true, wantSeqs: []uint64{3, 4}, wantNext: 4},
		{name: "last page", path: "/api/v1/alerts?since=4&limit=2", token: read, want: 200,
			checkPage: true, wantSeqs: []uint64{5, 6}, wantNext: 6},
		{name: "page cut by the end", path: "/api/v1/alerts?since=5&limit=2", token: read,
			want: 200, checkPage: true, wantSeqs: []uint64{6}, wantNext: 6},
		{name: "past the end", path: "/api/v1/alerts?since=6", token: read, want: 200,
			checkPage: true, wantSeqs: []uint64{}, wantNext: 6},
		{name: "default limit", path: "/api/v1/alerts", token: read, want: 200,
			checkPage: true, wantSeqs: []uint64{1, 2, 3, 4, 5, 6}, wantNext: 6},
		{name: "largest limit", path: "/api/v1/alerts?limit=1000", token: read, want: 200,
			checkPage: true, wantSeqs: []uint64{1, 2, 3, 4, 5, 6}, wantNext: 6},
		{name: "no token", path: "/api/v1/alerts?since=0&limit=2", want: 401,
			wantErr: "unauthorized"},
		{name: "forged token", path: "/api/v1/alerts", token: forged, want: 401,
			wantErr: "unauthorized"},
		{name: "expired token", path: "/api/v1/alerts", token: expired, want: 401,
			wantErr: "unauthorized"},
		{name: "token not a JWT", path: "/api/v1/alerts", token: "not-a-jwt", want: 401,
			wantErr: "unauthorized"},
		{name: "write-only token", path: "/api/v1/alerts", token: writeOnly, want: 403,
			wantErr: "forbidden"},
		{name: "limit 0", path: "/api/v1/alerts?limit=0", token: read, want: 400,
			wantErr: "bad_request"},
		{name: "limit 1001", path: "/api/v1/alerts?limit=1001", token: read, want: 400,
			wantErr: "bad_request"},
		{name: "limit not a number", path: "/api/v1/alerts?limit=ten", token: read, want: 400,
			wantErr: "bad_request"},
		{name: "negative since", path: "/api/v1/alerts?since=-1", token: read, want: 400,
			wantErr: "bad_request"},
		{name: "stats without token", path: "/api/v1/stats", want: 401,
			wantErr: "unauthorized"},
		{name: "stats with write-only token", path: "/api/v1/stats", token: writeOnly,
			want: 403, wantErr: "forbidden"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var page alertsPage
			if got := getJSON(t, te, tt.path, tt.token, &page); got != tt.want {
				t.Fatalf("status: got %d, want %d", got, tt.want)
			}
			if page.Error != tt.wantErr {
				t.Errorf("error code: got %q, want %q", page.Error, tt.wantErr)
			}
			if !tt.checkPage {
				return
			}
			got := make([]uint64, len(page.Alerts))
			for i, a := range page.Alerts {
				got[i] = a.Seq
				if a.Seq < 1 || a.Seq > lastSeq277647 {
					t.Errorf("row %d: got seq %d, want 1 to %d", i+1, a.Seq, lastSeq277647)
					continue
				}
				w := block277647[a.Seq-1]
				if a.Data.TxID != w.txid || a.Data.Status != w.status ||
					a.Data.AlertSeq != w.alertSeq {
					t.Errorf("seq %d: got txid %s status %q alert_seq %d, want %s %q %d",
						a.Seq, a.Data.TxID, a.Data.Status, a.Data.AlertSeq, w.txid, w.status,
						w.alertSeq)
				}
			}
			if !equalSeqs(got, tt.wantSeqs) {
				t.Errorf("seqs: got %v, want %v", got, tt.wantSeqs)
			}
			if page.Next != tt.wantNext {
				t.Errorf("next: got %d, want %d", page.Next, tt.wantNext)
			}
		})
	}
}

// TestHealthz checks that the unauthenticated /healthz says ok and nothing more, and that
// the details it used to show are behind /api/v1/stats.
func TestHealthz(t *testing.T) {
	te := startEngine(t, replayConfig(t))
	te.waitLastSeq(t, lastSeq277647)

	var h map[string]any
	if got := getJSON(t, te, "/healthz", "", &h); got != 200 {
		t.Fatalf("status: got %d, want 200", got)
	}
	if len(h) != 1 || h["status"] != "ok" {
		t.Errorf("body: got %v, want only status ok", h)
	}

	var stats struct {
		Version string `json:"version"`
		LastSeq uint64 `json:"last_seq"`
		Health  struct {
			Status string `json:"status"`
			Error  string `json:"error"`
		} `json:"health"`
	}
	if got := getJSON(t, te, "/api/v1/stats", token(t, "health-reader", auth.PermRead),
		&stats); got != 200 {
		t.Fatalf("stats status: got %d, want 200", got)
	}
	if stats.LastSeq != lastSeq277647 || stats.Version == "" || stats.Health.Status != "ok" ||
		stats.Health.Error != "" {
		t.Errorf("stats: got %+v, want last_seq %d, a version and health ok", stats,
			lastSeq277647)
	}
}

func TestStatsCountsConnections(t *testing.T) {
	te := startEngine(t, replayConfig(t))
	tok := token(t, "counter", auth.PermRead)

	authed := dial(t, te.wsURL())
	authenticate(t, authed, tok, 0)
	check277647(t, readRecords(t, authed, len(block277647)), 0)
	dial(t, te.wsURL()) // connected, never authenticates (the auth timeout is 5 s)
	dial(t, te.wsURL())

	var stats struct {
		Connections struct {
			Authenticated   int64 `json:"authenticated"`
			Unauthenticated int64 `json:"unauthenticated"`
		} `json:"connections"`
		AlertsStored  int64   `json:"alerts_stored"`
		UpdatesStored int64   `json:"updates_stored"`
		TxsReceived   int64   `json:"txs_received"`
		UptimeSeconds float64 `json:"uptime_seconds"`
	}
	te.waitTxs(t, txsIn277647)
	waitFor(t, "stats to count 1 authenticated and 2 unauthenticated connections", func() bool {
		if got := getJSON(t, te, "/api/v1/stats", tok, &stats); got != 200 {
			t.Fatalf("status: got %d, want 200", got)
		}
		return stats.Connections.Authenticated == 1 && stats.Connections.Unauthenticated == 2
	})
	// The client read every record, so each is stored: 3 alerts and their 3 confirmations.
	if stats.AlertsStored != 3 || stats.UpdatesStored != 3 || stats.TxsReceived != txsIn277647 ||
		stats.UptimeSeconds <= 0 {
		t.Errorf("stats: got %+v, want 3 alerts and 3 updates stored, %d txs and a positive "+
			"uptime", stats, txsIn277647)
	}
}

func equalSeqs(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
