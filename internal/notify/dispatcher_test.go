package notify

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/whalecast/whalecast/internal/leakcheck"
)

// fastRetries retries quickly: three attempts, waits of at most two milliseconds.
var fastRetries = DispatcherConfig{Attempts: 3, MinBackoff: time.Millisecond,
	MaxBackoff: 2 * time.Millisecond}

// newTestDispatcher returns a dispatcher over channels, closed at cleanup.
func newTestDispatcher(tb testing.TB, cfg DispatcherConfig, channels ...Channel) *Dispatcher {
	tb.Helper()
	d, err := NewDispatcher(cfg, channels...)
	if err != nil {
		tb.Fatalf("NewDispatcher: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		_ = d.Close(ctx)
	})
	return d
}

// closeAndStats closes d, failing tb if it does not drain in time, and returns the stats
// of its first channel.
func closeAndStats(tb testing.TB, d *Dispatcher) ChannelStats {
	tb.Helper()
	if err := d.Close(testContext(tb)); err != nil {
		tb.Fatalf("Close: %v", err)
	}
	return d.Stats().Channels[0]
}

// testNotification is a notification for the webhook tests.
func testNotification(key string) Notification {
	return Notification{Kind: "accuracy_degraded", Subject: "Accuracy degraded",
		Text: "Accuracy 61% < 70%", Body: []byte(`{"accuracy":0.61}`), Key: key,
		At: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)}
}

func TestDispatcherWebhookRetries(t *testing.T) {
	tests := []struct {
		name     string
		statuses []int
		want     ChannelStats
		wantHits int32
	}{
		{
			name:     "success first time",
			statuses: []int{http.StatusOK},
			want:     ChannelStats{Channel: "ops", Sent: 1},
			wantHits: 1,
		},
		{
			name:     "500 then success",
			statuses: []int{http.StatusInternalServerError, http.StatusNoContent},
			want:     ChannelStats{Channel: "ops", Sent: 1, Retries: 1},
			wantHits: 2,
		},
		{
			name:     "429 then success",
			statuses: []int{http.StatusTooManyRequests, http.StatusOK},
			want:     ChannelStats{Channel: "ops", Sent: 1, Retries: 1},
			wantHits: 2,
		},
		{
			name:     "400 is not retried",
			statuses: []int{http.StatusBadRequest, http.StatusOK},
			want:     ChannelStats{Channel: "ops", Failed: 1},
			wantHits: 1,
		},
		{
			name:     "503 until attempts run out",
			statuses: []int{http.StatusServiceUnavailable},
			want:     ChannelStats{Channel: "ops", Failed: 1, Retries: 2},
			wantHits: 3,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newReceiver(t, tt.statuses...)
			cfg := fastRetries
			cfg.Logger, _ = newLogger()
			d := newTestDispatcher(t, cfg,
				WebhookChannel("ops", newTestWebhook(t, r.srv.URL, time.Second)))

			if !d.Notify(testNotification("n-1")) {
				t.Fatal("Notify refused a notification")
			}

			if got := closeAndStats(t, d); got != tt.want {
				t.Errorf("stats %+v, want %+v", got, tt.want)
			}
			if hits := r.hits.Load(); hits != tt.wantHits {
				t.Errorf("receiver hit %d times, want %d", hits, tt.wantHits)
			}
			for i, req := range r.got() {
				if req.verifyErr != nil || req.header.Get("Idempotency-Key") != "n-1" {
					t.Errorf("request %d: verify %v, key %q", i, req.verifyErr,
						req.header.Get("Idempotency-Key"))
				}
			}
		})
	}
}

func TestDispatcherLogs(t *testing.T) {
	r := newReceiver(t, http.StatusInternalServerError, http.StatusOK)
	cfg := fastRetries
	logger, logs := newLogger()
	cfg.Logger = logger
	d := newTestDispatcher(t, cfg, WebhookChannel("ops",
		newTestWebhook(t, r.srv.URL+"/s/pathtoken?k=querytoken", time.Second)))

	d.Notify(testNotification("n-1"))
	closeAndStats(t, d)

	var lines []map[string]any
	for line := range strings.Lines(logs.String()) {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		lines = append(lines, rec)
	}
	want := []struct {
		msg  string
		keys []string
	}{
		{"notification attempt failed", []string{"channel", "kind", "attempt", "err",
			"retry_in"}},
		{"notification sent", []string{"channel", "kind", "attempt"}},
	}
	if len(lines) != len(want) {
		t.Fatalf("%d log lines, want %d:\n%s", len(lines), len(want), logs)
	}
	for i, w := range want {
		if lines[i]["msg"] != w.msg || lines[i]["channel"] != "ops" ||
			lines[i]["kind"] != "accuracy_degraded" || lines[i]["attempt"] != float64(i+1) {
			t.Errorf("line %d: %v, want %q for ops, accuracy_degraded, attempt %d", i,
				lines[i], w.msg, i+1)
		}
		for _, k := range w.keys {
			if _, ok := lines[i][k]; !ok {
				t.Errorf("line %d lacks key %q: %v", i, k, lines[i])
			}
		}
	}
	for _, form := range secretForms {
		if strings.Contains(logs.String(), form) {
			t.Errorf("logs hold %q:\n%s", form, logs)
		}
	}
}

// gate is a Channel whose deliveries block until released or their context ends.
type gate struct {
	name      string
	started   chan Notification
	release   chan struct{}
	delivered atomic.Int32
}

func newGate(name string) *gate {
	return &gate{name: name, started: make(chan Notification, 100),
		release: make(chan struct{})}
}

func (g *gate) Name() string { return g.name }

func (g *gate) Deliver(ctx context.Context, n Notification) error {
	g.started <- n
	select {
	case <-g.release:
		g.delivered.Add(1)
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// waitStarted waits for g to start delivering, failing tb after testTimeout.
func (g *gate) waitStarted(tb testing.TB) Notification {
	tb.Helper()
	select {
	case n := <-g.started:
		return n
	case <-time.After(testTimeout):
		tb.Fatal("delivery never started")
		return Notification{}
	}
}

func TestDispatcherQueueFullDrops(t *testing.T) {
	g := newGate("slow")
	logger, logs := newLogger()
	d := newTestDispatcher(t, DispatcherConfig{Queue: 2, Logger: logger}, g)

	if !d.Notify(Notification{Kind: "first"}) {
		t.Fatal("first Notify refused")
	}
	g.waitStarted(t)
	for i := range 2 {
		if !d.Notify(Notification{Kind: "queued"}) {
			t.Fatalf("Notify %d refused with room in the queue", i)
		}
	}
	for i := range 50 {
		if d.Notify(Notification{Kind: "overflow"}) {
			t.Fatalf("overflow Notify %d accepted with the queue full", i)
		}
	}

	got := d.Stats().Channels[0]
	if got.Dropped != 50 || got.Queued != 2 {
		t.Errorf("stats %+v, want 50 dropped and 2 queued", got)
	}
	if n := logs.count("notification dropped"); n != 1 {
		t.Errorf("%d drop lines for 50 drops in a burst, want 1:\n%s", n, logs)
	}

	close(g.release)
	got = closeAndStats(t, d)
	if got.Sent != 3 || got.Dropped != 50 || got.Queued != 0 {
		t.Errorf("after close: %+v, want 3 sent, 50 dropped", got)
	}
}

func TestDispatcherNotifyAfterClose(t *testing.T) {
	g := newGate("g")
	d := newTestDispatcher(t, DispatcherConfig{}, g)

	closeAndStats(t, d)

	if d.Notify(Notification{Kind: "late"}) {
		t.Error("Notify accepted after Close")
	}
	if got := d.Stats().Channels[0]; got.Dropped != 1 {
		t.Errorf("stats %+v, want 1 dropped", got)
	}
	if err := d.Close(testContext(t)); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestDispatcherCloseDeadline(t *testing.T) {
	g := newGate("stuck")
	d := newTestDispatcher(t, DispatcherConfig{Queue: 4}, g)
	for range 3 {
		d.Notify(Notification{Kind: "k"})
	}
	g.waitStarted(t)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()

	err := d.Close(ctx)

	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Close error %v, want context.DeadlineExceeded", err)
	}
	got := d.Stats().Channels[0]
	want := ChannelStats{Channel: "stuck", Failed: 1, Dropped: 2}
	if got != want {
		t.Errorf("stats %+v, want %+v", got, want)
	}
	waitNoWorkers(t)
}

func TestDispatcherCloseCutsBackoff(t *testing.T) {
	r := newReceiver(t, http.StatusServiceUnavailable)
	cfg := DispatcherConfig{Attempts: 5, MinBackoff: time.Hour, MaxBackoff: time.Hour}
	d := newTestDispatcher(t, cfg, WebhookChannel("ops",
		newTestWebhook(t, r.srv.URL, time.Second)))
	d.Notify(testNotification("n-1"))
	waitFor(t, "a first attempt", func() bool { return d.Stats().Channels[0].Retries == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()

	start := time.Now()
	err := d.Close(ctx)

	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 2*time.Second {
		t.Errorf("Close: %v after %v, want DeadlineExceeded soon", err, time.Since(start))
	}
	if got := d.Stats().Channels[0]; got.Failed != 1 {
		t.Errorf("stats %+v, want 1 failed", got)
	}
	waitNoWorkers(t)
}

func TestDispatcherCloseLeavesNoGoroutines(t *testing.T) {
	channels := []Channel{newGate("a"), newGate("b"), newGate("c")}
	d := newTestDispatcher(t, DispatcherConfig{}, channels...)

	if err := d.Close(testContext(t)); err != nil {
		t.Fatalf("Close: %v", err)
	}

	waitNoWorkers(t)
}

// waitNoWorkers fails tb if a dispatcher goroutine is still running after testTimeout.
func waitNoWorkers(tb testing.TB) {
	tb.Helper()
	const mark = "notify.(*Dispatcher).run"
	waitFor(tb, "dispatcher goroutines to end", func() bool {
		return leakcheck.Marked(mark) == ""
	})
}

func TestDispatcherChannelsIndependent(t *testing.T) {
	slow := newGate("slow")
	fast := newGate("fast")
	close(fast.release)
	d := newTestDispatcher(t, DispatcherConfig{Queue: 1}, slow, fast)

	d.Notify(Notification{Kind: "one"})
	slow.waitStarted(t)
	waitFor(t, "the fast channel", func() bool { return fast.delivered.Load() == 1 })
	d.Notify(Notification{Kind: "two"})
	waitFor(t, "the fast channel", func() bool { return fast.delivered.Load() == 2 })
	ok := d.Notify(Notification{Kind: "three"})

	if ok {
		t.Error("Notify reported success although the slow channel dropped")
	}
	close(slow.release)
	if err := d.Close(testContext(t)); err != nil {
		t.Fatalf("Close: %v", err)
	}
	got := d.Stats()
	if got.Channels[0].Dropped != 1 || got.Channels[1].Sent != 3 {
		t.Errorf("stats %+v, want slow to drop 1 and fast to send 3", got)
	}
}

func TestNewDispatcherValidation(t *testing.T) {
	g := newGate("g")
	tests := []struct {
		name     string
		cfg      DispatcherConfig
		channels []Channel
		want     string
	}{
		{"no channels", DispatcherConfig{}, nil, "no channels"},
		{"nil channel", DispatcherConfig{}, []Channel{nil}, "nil"},
		{"unnamed channel", DispatcherConfig{}, []Channel{newGate("")}, "unnamed"},
		{"duplicate names", DispatcherConfig{}, []Channel{g, newGate("g")}, "twice"},
		{"negative queue", DispatcherConfig{Queue: -1}, []Channel{g}, "queue"},
		{"queue too big", DispatcherConfig{Queue: MaxQueue + 1}, []Channel{g}, "queue"},
		{"negative attempts", DispatcherConfig{Attempts: -1}, []Channel{g}, "attempts"},
		{"too many attempts", DispatcherConfig{Attempts: MaxAttempts + 1}, []Channel{g},
			"attempts"},
		{"negative backoff", DispatcherConfig{MinBackoff: -1}, []Channel{g}, "backoff"},
		{"min over max", DispatcherConfig{MinBackoff: 2 * time.Minute}, []Channel{g},
			"backoff"},
		{"max too long", DispatcherConfig{MaxBackoff: 25 * time.Hour}, []Channel{g},
			"backoff"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := NewDispatcher(tt.cfg, tt.channels...)
			if err == nil {
				_ = d.Close(context.Background())
			}
			if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("NewDispatcher error %v, want ErrInvalidConfig mentioning %q", err,
					tt.want)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	lo, hi := time.Second, 10*time.Second
	highest := func(n int64) int64 { return n - 1 }
	lowest := func(int64) int64 { return 0 }
	tests := []struct {
		attempt int
		randN   func(int64) int64
		want    time.Duration
	}{
		{1, highest, time.Second},
		{2, highest, 2 * time.Second},
		{3, highest, 4 * time.Second},
		{4, highest, 8 * time.Second},
		{5, highest, 10 * time.Second},
		{100, highest, 10 * time.Second},
		{1, lowest, 0},
		{5, lowest, 0},
	}
	for _, tt := range tests {
		if got := backoff(tt.attempt, lo, hi, tt.randN); got != tt.want {
			t.Errorf("backoff(%d) = %v, want %v", tt.attempt, got, tt.want)
		}
	}
}

func TestRetryable(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"plain", errors.New("boom"), false},
		{"retryable", &DeliveryError{retryable: true}, true},
		{"not retryable", &DeliveryError{}, false},
		{"wrapped", errors.Join(errors.New("ctx"), &DeliveryError{retryable: true}), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Retryable(tt.err); got != tt.want {
				t.Errorf("Retryable(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}
