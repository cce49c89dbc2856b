package transport

import (
	"bytes"
	"net"
	"sync"
	"testing"
)

// countingConn records each Write it is given.
type countingConn struct {
	net.Conn
	mu     sync.Mutex
	writes [][]byte
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writes = append(c.writes, bytes.Clone(p))
	return len(p), nil
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
				c.hold()
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

func TestSocketOf(t *testing.T) {
	under := &countingConn{}
	if got := socketOf(&batchConn{Conn: under}); got != under {
		t.Errorf("socketOf(batchConn) = %v, want the wrapped connection", got)
	}
	if got := socketOf(under); got != under {
		t.Errorf("socketOf(plain) = %v, want it unchanged", got)
	}
}
