package load

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/whalecast/whalecast/transport"
)

// Limits of the publish calls.
const (
	// publishCallTimeout bounds one publish call; the engine answers within 10 s.
	publishCallTimeout = 15 * time.Second
	// maxRetryAfter bounds how long a 429's Retry-After pauses publishing.
	maxRetryAfter = time.Minute
	// maxAnswer bounds the body of an answer the run reads.
	maxAnswer = 1 << 20
)

// publisher drives the publish side: a call every interval through the admin publish
// route, each asking for the alerts the rate owes since the last. One call is in flight
// at a time. It keeps the seqs the server assigned.
type publisher struct {
	url    string
	token  string
	rate   float64
	every  time.Duration
	client *http.Client

	calls   atomic.Uint64
	alerts  atomic.Uint64 // published: stored and broadcast, by the server's answers
	refused atomic.Uint64 // calls answered 429
	failed  atomic.Uint64 // calls that failed otherwise
	lost    atomic.Uint64 // alerts the server could not store
	// firstCall is when the first call started, in Unix nanoseconds; 0 before.
	firstCall atomic.Int64

	mu      sync.Mutex
	seqs    []uint64
	lastErr string
}

func newPublisher(cfg Config) *publisher {
	return &publisher{
		url:    cfg.publishURL(),
		token:  cfg.Credentials.AdminToken,
		rate:   cfg.PublishRate,
		every:  cfg.PublishEvery,
		client: newHTTPClient(publishCallTimeout),
	}
}

// newHTTPClient returns a client of its own, so that the run can close its connections
// when it ends; it goes to the URL it is given, never through a proxy.
func newHTTPClient(timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, Transport: &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		TLSHandshakeTimeout: 5 * time.Second,
		MaxIdleConnsPerHost: 2,
		IdleConnTimeout:     30 * time.Second,
	}}
}

// run publishes until ctx ends. Calls run under calls, so that the end of ctx lets the
// call in flight finish: its alerts may be stored already.
func (p *publisher) run(ctx, calls context.Context) {
	if p.rate <= 0 {
		return
	}
	tick := time.NewTicker(p.every)
	defer tick.Stop()
	owed := 0.0
	var pausedUntil time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			owed = min(owed+p.rate*p.every.Seconds(), transport.MaxPublishCount)
			n := int(math.Floor(owed))
			if n < 1 || now.Before(pausedUntil) || p.alerts.Load() >= MaxPublished {
				continue
			}
			owed -= float64(n)
			if wait := p.publish(calls, n); wait > 0 {
				pausedUntil = time.Now().Add(wait)
			}
		}
	}
}

// publish makes one call for n alerts; it returns how long to pause after a 429.
func (p *publisher) publish(ctx context.Context, n int) time.Duration {
	p.firstCall.CompareAndSwap(0, time.Now().UnixNano())
	p.calls.Add(1)
	body, _ := json.Marshal(transport.PublishRequest{Count: n,
		Detector: transport.PublishDetectorBench})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url, bytes.NewReader(body))
	if err != nil {
		p.fail(err.Error())
		return 0
	}
	req.Header.Set("Content-Type", "application/json")
	if p.token != "" {
		req.Header.Set("Authorization", "Bearer "+p.token)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		if ctx.Err() == nil {
			p.fail(causeOf(err))
		}
		return 0
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	switch {
	case err != nil:
		p.fail("read answer: " + causeOf(err))
	case resp.StatusCode == http.StatusTooManyRequests:
		p.refused.Add(1)
		secs, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
		return min(time.Duration(max(secs, 1))*time.Second, maxRetryAfter)
	case resp.StatusCode != http.StatusCreated:
		p.fail(fmt.Sprintf("http %d: %s", resp.StatusCode, truncate(string(data), 200)))
	default:
		p.accept(data)
	}
	return 0
}

// accept records the seqs of a 201 answer.
func (p *publisher) accept(data []byte) {
	var ans transport.PublishResponse
	if err := json.Unmarshal(data, &ans); err != nil {
		p.fail("unreadable answer: " + truncate(string(data), 200))
		return
	}
	p.mu.Lock()
	p.seqs = append(p.seqs, ans.Seqs...)
	p.mu.Unlock()
	p.alerts.Add(uint64(len(ans.Seqs)))
	p.lost.Add(uint64(ans.Lost))
}

func (p *publisher) fail(msg string) {
	p.failed.Add(1)
	p.mu.Lock()
	p.lastErr = msg
	p.mu.Unlock()
}

// published returns the seqs published so far, sorted, without repeats.
func (p *publisher) published() []uint64 {
	p.mu.Lock()
	out := slices.Clone(p.seqs)
	p.mu.Unlock()
	slices.Sort(out)
	return slices.Compact(out)
}

// lastError returns the last failure's description; empty when none failed.
func (p *publisher) lastError() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lastErr
}
