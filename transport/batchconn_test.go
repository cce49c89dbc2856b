package transport

import (
	"bytes"
	"net"
	"sync"
	"testing"
	"time"
)

// countingConn records each Write it is given, and the write deadline it was under.
type countingConn struct {
	net.Conn
	mu        sync.Mutex
	writes    [][]byte
	deadline  time.Time
	deadlines []time.Time
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writes = append(c.writes, bytes.Clone(p))
	c.deadlines = append(c.deadlines, c.deadline)
	return len(p), nil
}

func (c *countingConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.deadline = t
	return nil
}

func TestBatchConn(t *testing.T) {
	tests := []struct {
		name  string
		hold  bool
		parts []string
		want  []string
	}{
		{"outside a batch each write goes through", false, []string{"a", "bc", "d"},
			[]string{"a", "bc", "d"}},
		{"a batch is one write, in order", true, []string{"a", "bc", "d"},
			[]string{"abcd"}},
		{"an empty batch writes nothing", true, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			under := &countingConn{}
			c := &batchConn{Conn: under}
			if tt.hold {
				c.hold(time.Now().Add(time.Minute))
			}
			for _, p := range tt.parts {
				if n, err := c.Write([]byte(p)); n != len(p) || err != nil {
					t.Fatalf("Write(%q) = %d, %v", p, n, err)
				}
			}
			if err := c.flush(); err != nil {
				t.Fatalf("flush: %v", err)
			}
			var got []string
			for _, w := range under.writes {
				got = append(got, string(w))
			}
			if len(got) != len(tt.want) {
				t.Fatalf("writes %q, want %q", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("writes %q, want %q", got, tt.want)
				}
			}
			if c.holding || c.buf != nil {
				t.Error("after flush: still holding a batch")
			}
		})
	}
}

// TestBatchConnDeadlines sets a short write deadline during a batch, as gorilla does for
// a pong: the batch is still written under its own deadline, and the short one applies to
// the next write outside the batch only.
func TestBatchConnDeadlines(t *testing.T) {
	under := &countingConn{}
	c := &batchConn{Conn: under}
	batch, pong := time.Now().Add(10*time.Second), time.Now().Add(time.Second)

	c.hold(batch)
	_, _ = c.Write([]byte("frame"))
	_ = c.SetWriteDeadline(pong)
	_, _ = c.Write([]byte("pong"))
	if err := c.flush(); err != nil {
		t.Fatal(err)
	}
	_, _ = c.Write([]byte("next"))

	if len(under.writes) != 2 || string(under.writes[0]) != "framepong" {
		t.Fatalf("writes %q, want the batch then the next write", under.writes)
	}
	if !under.deadlines[0].Equal(batch) {
		t.Errorf("batch written under %v, want its own deadline %v", under.deadlines[0], batch)
	}
	if !under.deadlines[1].Equal(pong) {
		t.Errorf("next write under %v, want the deadline set last %v", under.deadlines[1], pong)
	}
}

// TestBatchConnWriteWaitsForFlush starts a write while a flush is blocked on the socket: it
// goes out only after the batch, never into the middle of it.
func TestBatchConnWriteWaitsForFlush(t *testing.T) {
	under := &blockingConn{countingConn: &countingConn{}, entered: make(chan struct{}),
		release: make(chan struct{})}
	c := &batchConn{Conn: under}
	c.hold(time.Now().Add(time.Minute))
	_, _ = c.Write([]byte("batch"))
	flushed := make(chan error, 1)
	go func() { flushed <- c.flush() }()
	<-under.entered

	wrote := make(chan struct{})
	go func() {
		_, _ = c.Write([]byte("pong"))
		close(wrote)
	}()
	select {
	case <-wrote:
		t.Fatal("a write went through while the flush was blocked")
	case <-time.After(50 * time.Millisecond):
	}
	close(under.release)
	<-wrote
	if err := <-flushed; err != nil {
		t.Fatal(err)
	}
	if len(under.writes) != 2 || string(under.writes[0]) != "batch" ||
		string(under.writes[1]) != "pong" {
		t.Errorf("writes %q, want the batch, then the pong", under.writes)
	}
}

// blockingConn blocks its first Write until release is closed.
type blockingConn struct {
	*countingConn
	once    sync.Once
	entered chan struct{}
	release chan struct{}
}

func (c *blockingConn) Write(p []byte) (int, error) {
	first := false
	c.once.Do(func() { first = true })
	if first {
		close(c.entered)
		<-c.release
	}
	return c.countingConn.Write(p)
}

func TestSocketOf(t *testing.T) {
	under := &countingConn{}
	if got := socketOf(&batchConn{Conn: under}); got != under {
		t.Errorf("socketOf(batchConn) = %v, want the wrapped connection", got)
	}
	if got := socketOf(under); got != under {
		t.Errorf("socketOf(plain) = %v, want it unchanged", got)
	}
}
