package transport

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"testing"
	"time"
)

// TestPipelinedRequestsCutByWriteTimeout pipelines /healthz requests on one connection and
// reads no answer: once the answers fill the socket buffers, the write timeout must close the
// connection instead of holding the buffers for ever.
func TestPipelinedRequestsCutByWriteTimeout(t *testing.T) {
	const writeTimeout = 300 * time.Millisecond
	var tl *trackingListener
	ls := startLive(t, func(c *Config) { c.Timeouts.Write = writeTimeout },
		func(ln net.Listener) net.Listener { tl = trackConns(ln); return tl })
	c := dialTCP(t, ls)
	server := tl.next(t)

	// The client's writes block once the server stops reading; the deadline ends them.
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		batch := pipelined("/healthz", ls.addr, 500)
		_ = c.SetWriteDeadline(time.Now().Add(3 * time.Second))
		for range 40 {
			if _, err := c.Write(batch); err != nil {
				return
			}
		}
	}()
	defer func() { <-wrote }()

	select {
	case <-server.closed:
	case <-time.After(writeTimeout + 5*time.Second):
		t.Fatalf("the server still held the connection %v after its answers stopped being "+
			"read; want it closed after the %v write timeout", writeTimeout+5*time.Second,
			writeTimeout)
	}
}

// TestWebSocketOutlivesHTTPTimeouts checks that the HTTP read, write and idle timeouts stop
// at the upgrade: net/http clears the deadlines when it hands the connection to gorilla,
// and gorilla again after the handshake.
func TestWebSocketOutlivesHTTPTimeouts(t *testing.T) {
	const short = 100 * time.Millisecond
	ls := startLive(t, func(c *Config) {
		c.Timeouts.Read, c.Timeouts.Write, c.Timeouts.Idle = short, short, short
	}, nil)
	c := dialWS(t, ls, nil)
	echo(t, c, "before")

	time.Sleep(10 * short) // the socket's deadlines, if any were left, pass here
	echo(t, c, "after ten timeouts")
}

// TestConnectionRequestCap pipelines more requests than one connection may carry: the last
// allowed answer says Connection: close and the connection ends there.
func TestConnectionRequestCap(t *testing.T) {
	ls := startLive(t, nil, nil)
	c := dialTCP(t, ls)
	_ = c.SetReadBuffer(1 << 20)

	wrote := make(chan error, 1)
	go func() {
		_ = c.SetWriteDeadline(time.Now().Add(waitTimeout))
		_, err := c.Write(pipelined("/healthz", ls.addr, MaxRequestsPerConn+5))
		wrote <- err
	}()
	defer func() { <-wrote }()

	_ = c.SetReadDeadline(time.Now().Add(waitTimeout))
	br := bufio.NewReader(c)
	answers := 0
	for {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("after %d answers the connection stayed open; want it closed "+
					"after %d", answers, MaxRequestsPerConn)
			}
			break // the server closed the connection
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		answers++
		if answers == MaxRequestsPerConn && !resp.Close {
			t.Errorf("answer %d: no Connection: close", answers)
		}
		if answers > MaxRequestsPerConn {
			t.Fatalf("got answer %d, want at most %d on one connection", answers,
				MaxRequestsPerConn)
		}
	}
	if answers != MaxRequestsPerConn {
		t.Errorf("answers: got %d, want %d", answers, MaxRequestsPerConn)
	}
}
