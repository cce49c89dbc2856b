package actors_test

import (
	"testing"
	"time"

	"github.com/whalecast/whalecast/actors"
	"github.com/whalecast/whalecast/internal/auth"
)

// BenchmarkSessionLifecycle runs one session from start to end per op: started already
// authenticated (as by an Authorization header), it sends auth_success, subscribes and sends
// welcome on the broadcaster's ack; then its client leaves, it unsubscribes and stops.
func BenchmarkSessionLifecycle(b *testing.B) {
	e := newEngine(b, engineConfig{Quiet: true})
	claims := auth.Claims{Subject: "bench", Perms: []auth.Perm{auth.PermRead},
		IssuedAt: testStart, ExpiresAt: testStart.Add(time.Hour), ID: "bench-jti"}
	b.ReportAllocs()
	for b.Loop() {
		peer := newFakePeer(0)
		res, err := e.sys.Root.RequestFuture(e.sessions,
			&actors.StartSession{Peer: peer, Claims: &claims}, waitLimit).Result()
		if err != nil {
			b.Fatalf("start session: %v", err)
		}
		if got := peer.next(b, 2); got[1].Type != "welcome" {
			b.Fatalf("got %q, want welcome", got[1].Type)
		}
		e.sys.Root.Send(res.(*actors.SessionStarted).PID, &actors.PeerGone{})
		peer.waitClosed(b)
	}
	b.StopTimer()
	waitFor(b, "every session to stop", func() bool { return e.sessionCount(b) == 0 })
}
