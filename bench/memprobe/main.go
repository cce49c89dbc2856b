// Command memprobe measures the engine's resident memory per idle authenticated WebSocket
// connection. It reads the engine's VmRSS from /proc/PID/status, opens --clients
// connections at --ramp per second, authenticates each one, lets them sit idle for --settle
// (answering the engine's pings), reads VmRSS and the connection count from /api/v1/stats
// again, prints the difference per connection, and closes every connection.
//
// It talks only to a loopback engine on this machine (the PID must be local anyway):
//
//	engine token --client memprobe --data DIR > /tmp/memprobe.token
//	go run ./bench/memprobe --url ws://127.0.0.1:8765/ws --token-file /tmp/memprobe.token \
//	    --pid "$(pgrep -n -x engine)" --clients 10000 --ramp 1000 --source-ips 4
//
// The engine must admit the load: --max-conns-per-ip and --conn-rate-per-ip at least
// clients/source-ips and ramp/source-ips. Every wait is bounded; --timeout bounds the run.
//
// The RSS right after the ramp still holds the handshakes' garbage, which the Go runtime
// collects at its next cycle: an idle engine allocates little, so that can take up to the
// runtime's forced collection, two minutes after the previous one. The RSS is printed every
// --every while idle, and the figure reported is the one after --settle (3 minutes).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

type options struct {
	url        string
	token      string
	tokenFile  string
	pid        int
	clients    int
	ramp       int
	dialers    int
	sourceIPs  int
	headerAuth bool
	settle     time.Duration
	every      time.Duration
	timeout    time.Duration
}

func main() {
	var o options
	flag.StringVar(&o.url, "url", "ws://127.0.0.1:8765/ws", "engine WebSocket URL (loopback only)")
	flag.StringVar(&o.token, "token", "", "client token (visible in ps: prefer --token-file)")
	flag.StringVar(&o.tokenFile, "token-file", "", "file holding the client token")
	flag.IntVar(&o.pid, "pid", 0, "engine process id, to read its VmRSS (required)")
	flag.IntVar(&o.clients, "clients", 1000, "connections to open")
	flag.IntVar(&o.ramp, "ramp", 500, "connections opened per second")
	flag.IntVar(&o.dialers, "dialers", 16, "connections being opened at once, at most")
	flag.IntVar(&o.sourceIPs, "source-ips", 1,
		"dial from this many source addresses, 127.0.0.1 upwards (loopback URL only)")
	flag.BoolVar(&o.headerAuth, "header-auth", false,
		"authenticate with the Authorization header instead of an auth message")
	flag.DurationVar(&o.settle, "settle", 3*time.Minute,
		"idle time between the last connection and the last reading: the Go runtime "+
			"collects at least every 2m, so past that the handshakes' garbage is gone")
	flag.DurationVar(&o.every, "every", 15*time.Second, "RSS reading interval while idle")
	flag.DurationVar(&o.timeout, "timeout", 5*time.Minute, "bound of the whole run")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "memprobe:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	if err := o.check(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()

	before, err := readRSS(o.pid)
	if err != nil {
		return err
	}
	base, err := readStats(ctx, o)
	if err != nil {
		return err
	}
	fmt.Printf("before: rss %s, authenticated connections %d\n", mib(before),
		base.Connections.Authenticated)

	p := &pool{opts: o}
	start := time.Now()
	opened := p.open(ctx)
	defer p.closeAll()
	fmt.Printf("opened %d of %d in %.1fs (%d failed)\n", opened, o.clients,
		time.Since(start).Seconds(), p.failed.Load())
	if opened == 0 {
		return errors.New("no connection opened")
	}

	after, err := p.settle(ctx, before)
	if err != nil {
		return err
	}
	st, err := readStats(ctx, o)
	if err != nil {
		return err
	}
	n := st.Connections.Authenticated - base.Connections.Authenticated
	fmt.Printf("after:  rss %s, authenticated connections %d (%d dropped while idle, "+
		"%d auth failures)\n", mib(after), st.Connections.Authenticated, p.dropped.Load(),
		st.AuthFailures-base.AuthFailures)
	if n <= 0 {
		return errors.New("the engine reports no new authenticated connection")
	}
	fmt.Printf("rss per connection: %.1f KiB (%s over %d connections)\n",
		float64(after-before)/1024/float64(n), mib(after-before), n)
	return nil
}

func (o *options) check() error {
	if o.token == "" && o.tokenFile != "" {
		b, err := os.ReadFile(o.tokenFile)
		if err != nil {
			return err
		}
		o.token = strings.TrimSpace(string(b))
	}
	u, err := url.Parse(o.url)
	switch {
	case err != nil:
		return fmt.Errorf("--url: %w", err)
	case u.Scheme != "ws":
		return errors.New("--url: want ws://127.x.x.x:PORT/ws")
	case o.token == "":
		return errors.New("give --token or --token-file")
	case o.pid <= 0:
		return errors.New("--pid is required")
	case o.clients <= 0 || o.ramp <= 0 || o.dialers <= 0 || o.sourceIPs <= 0 || o.every <= 0:
		return errors.New("--clients, --ramp, --dialers, --source-ips and --every must be " +
			"positive")
	case o.settle >= o.timeout:
		return errors.New("--settle must be shorter than --timeout")
	case o.sourceIPs > 250:
		return errors.New("--source-ips: at most 250")
	}
	ip, err := netip.ParseAddr(u.Hostname())
	if err != nil || !ip.IsLoopback() || !ip.Is4() {
		return errors.New("--url: the host must be an IPv4 loopback address")
	}
	return nil
}

// settle waits o.settle while the connections sit idle, printing the engine's RSS every
// o.every, and returns the last reading.
func (p *pool) settle(ctx context.Context, before int64) (int64, error) {
	o := p.opts
	start := time.Now()
	tick := time.NewTicker(o.every)
	defer tick.Stop()
	end := time.NewTimer(o.settle)
	defer end.Stop()
	for {
		last := false
		select {
		case <-tick.C:
			last = time.Since(start) >= o.settle
		case <-end.C:
			last = true
		case <-ctx.Done():
			return 0, fmt.Errorf("settle: %w", ctx.Err())
		}
		rss, err := readRSS(o.pid)
		if err != nil {
			return 0, err
		}
		fmt.Printf("idle %3.0fs: rss %s, %.1f KiB per connection opened\n",
			time.Since(start).Seconds(), mib(rss),
			float64(rss-before)/1024/float64(len(p.conns)))
		if last {
			return rss, nil
		}
	}
}

// pool holds the open connections.
type pool struct {
	opts    options
	mu      sync.Mutex
	conns   []*websocket.Conn
	failed  atomic.Int64
	dropped atomic.Int64
	readers sync.WaitGroup
}

// open dials o.clients connections at o.ramp per second and reports how many are open and
// authenticated. It stops early after 10 failures or when ctx ends.
func (p *pool) open(ctx context.Context) int {
	o := p.opts
	tick := time.NewTicker(time.Second / time.Duration(o.ramp))
	defer tick.Stop()
	slots := make(chan struct{}, o.dialers)
	var wg sync.WaitGroup
	for i := 0; i < o.clients && p.failed.Load() < 10 && ctx.Err() == nil; i++ {
		select {
		case <-tick.C:
		case <-ctx.Done():
		}
		slots <- struct{}{}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			defer func() { <-slots }()
			c, err := p.dial(ctx, i)
			if err != nil {
				if p.failed.Add(1) <= 3 {
					fmt.Fprintf(os.Stderr, "connection %d: %v\n", i, err)
				}
				return
			}
			p.mu.Lock()
			p.conns = append(p.conns, c)
			p.mu.Unlock()
			p.readers.Add(1)
			go p.idle(c)
		}(i)
	}
	wg.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

// dial opens connection i from source address 127.0.0.(1 + i%source-ips) and waits for
// auth_success and welcome.
func (p *pool) dial(ctx context.Context, i int) (*websocket.Conn, error) {
	o := p.opts
	src := &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(1+i%o.sourceIPs))}
	d := websocket.Dialer{
		NetDialContext:   (&net.Dialer{LocalAddr: src, Timeout: 10 * time.Second}).DialContext,
		HandshakeTimeout: 10 * time.Second,
		ReadBufferSize:   512,
		WriteBufferSize:  512,
	}
	var h http.Header
	if o.headerAuth {
		h = http.Header{"Authorization": {"Bearer " + o.token}}
	}
	c, _, err := d.DialContext(ctx, o.url, h)
	if err != nil {
		return nil, err
	}
	if !o.headerAuth {
		msg := `{"type":"auth","token":` + strconv.Quote(o.token) + `}`
		if err := c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
			c.Close()
			return nil, err
		}
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for _, want := range []string{"auth_success", "welcome"} {
		_, data, err := c.ReadMessage()
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("waiting for %s: %w", want, err)
		}
		var m struct{ Type string }
		if json.Unmarshal(data, &m) != nil || m.Type != want {
			c.Close()
			return nil, fmt.Errorf("got %.80s, want %s", data, want)
		}
	}
	_ = c.SetReadDeadline(time.Time{})
	return c, nil
}

// idle reads until the connection ends, so that gorilla answers the engine's pings.
func (p *pool) idle(c *websocket.Conn) {
	defer p.readers.Done()
	for {
		if _, _, err := c.ReadMessage(); err != nil {
			if !errors.Is(err, net.ErrClosed) {
				p.dropped.Add(1)
			}
			return
		}
	}
}

// closeAll closes every connection and waits, at most 10 s, for their readers.
func (p *pool) closeAll() {
	p.mu.Lock()
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	done := make(chan struct{})
	go func() {
		p.readers.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
	}
}

// stats is what the probe reads of /api/v1/stats.
type stats struct {
	Connections struct {
		Authenticated int64 `json:"authenticated"`
	} `json:"connections"`
	AuthFailures int64 `json:"auth_failures"`
}

// readStats reads the engine's counters from /api/v1/stats.
func readStats(ctx context.Context, o options) (stats, error) {
	var s stats
	u, _ := url.Parse(o.url)
	u.Scheme, u.Path, u.RawQuery = "http", "/api/v1/stats", ""
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return s, err
	}
	req.Header.Set("Authorization", "Bearer "+o.token)
	client := &http.Client{Transport: &http.Transport{Proxy: nil}}
	res, err := client.Do(req)
	if err != nil {
		return s, fmt.Errorf("stats: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return s, fmt.Errorf("stats: %s", res.Status)
	}
	if err := json.NewDecoder(res.Body).Decode(&s); err != nil {
		return s, fmt.Errorf("stats: %w", err)
	}
	return s, nil
}

// readRSS returns the VmRSS of process pid, in bytes.
func readRSS(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
