package actors_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/whalecast/whalecast/actors"
	"github.com/whalecast/whalecast/internal/auth"
)

// answers returns the type of each frame, with the code of errors: "pong",
// "error:rate_limited".
func answers(frames []serverFrame) []string {
	out := make([]string, len(frames))
	for i, f := range frames {
		out[i] = f.Type
		if f.Type == "error" {
			out[i] += ":" + f.Code
		}
	}
	return out
}

// repeat returns n copies of v.
func repeat[T any](v T, n int) []T {
	out := make([]T, n)
	for i := range out {
		out[i] = v
	}
	return out
}

func TestRateLimitWindow(t *testing.T) {
	t.Parallel()
	// RateLimit 5 per 10 s: one message's worth comes back every 2 s.
	steps := []struct {
		name    string
		advance time.Duration
		pings   int
		want    []string
	}{
		{"the limit passes", 0, 5, repeat("pong", 5)},
		{"the sixth is refused", 0, 1, []string{"error:rate_limited"}},
		{"still refused just before a refill", 2*time.Second - time.Nanosecond, 1,
			[]string{"error:rate_limited"}},
		{"one refilled", time.Nanosecond, 2, []string{"pong", "error:rate_limited"}},
		{"a whole window refills the limit", 10 * time.Second, 6,
			append(repeat("pong", 5), "error:rate_limited")},
	}
	e := newEngine(t, engineConfig{Session: actors.SessionConfig{
		RateLimit: 5, RateWindow: 10 * time.Second, AbuseLimit: 1000,
	}})
	peer := newFakePeer(0)
	pid, _ := e.connect(t, peer, auth.PermRead)
	sent, refused := 1, 0 // the auth message
	for _, st := range steps {
		e.clock.Advance(st.advance)
		for range st.pings {
			e.send(pid, `{"type":"ping"}`)
		}
		sent += st.pings
		got := answers(peer.next(t, len(st.want)))
		if fmt.Sprint(got) != fmt.Sprint(st.want) {
			t.Errorf("%s: got %q, want %q", st.name, got, st.want)
		}
		for _, a := range st.want {
			if a == "error:rate_limited" {
				refused++
			}
		}
	}
	peer.waitReleased(t, sent)
	if peer.isClosed() {
		t.Errorf("connection closed; rate_limited must keep it open")
	}
	if got := e.stats.RateLimited.Load(); got != int64(refused) {
		t.Errorf("RateLimited %d, want %d", got, refused)
	}
}

func TestRateLimitAbuseCloses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		abuseLimit int
		wantDenied int // refused messages, the last of which closes
	}{
		{"configured", 3, 3},
		{"default is at least ten", 0, 10},
		{"one strike", 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEngine(t, engineConfig{Session: actors.SessionConfig{
				RateLimit: 5, RateWindow: 10 * time.Second, AbuseLimit: tt.abuseLimit,
			}})
			peer := newFakePeer(0)
			pid, _ := e.connect(t, peer, auth.PermRead)
			for range 5 + tt.wantDenied + 3 {
				e.send(pid, `{"type":"ping"}`)
			}

			code, reason := peer.waitClosed(t)
			if code != actors.CloseRateLimitAbused {
				t.Fatalf("close code %d %q, want %d", code, reason, actors.CloseRateLimitAbused)
			}
			var got []serverFrame
			for _, b := range peer.untaken() {
				got = append(got, decodeFrame(t, b))
			}
			want := append(repeat("pong", 5), repeat("error:rate_limited", tt.wantDenied-1)...)
			if fmt.Sprint(answers(got)) != fmt.Sprint(want) {
				t.Errorf("before the close got %q, want %q", answers(got), want)
			}
			if got := e.stats.RateLimited.Load(); got != int64(tt.wantDenied) {
				t.Errorf("RateLimited %d, want %d", got, tt.wantDenied)
			}
		})
	}
}
