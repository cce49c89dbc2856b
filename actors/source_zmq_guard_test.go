package actors

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"slices"
	"testing"
)

// zmtpStream is what a publisher sends: the greeting, then frames.
func zmtpStream(frames ...[]byte) []byte {
	out := make([]byte, zmtpGreetingLen)
	for _, f := range frames {
		out = append(out, f...)
	}
	return out
}

// zmtpFrame frames body, long when it needs more than a byte of size or long is set.
func zmtpFrame(flags byte, size uint64, long bool) []byte {
	if long || size > 255 {
		return append(binary.BigEndian.AppendUint64([]byte{flags | zmtpFlagLong}, size),
			make([]byte, min(size, 1024))...)
	}
	return append([]byte{flags, byte(size)}, make([]byte, size)...)
}

func TestZMTPLimit(t *testing.T) {
	t.Parallel()
	const limit = 1024
	tests := []struct {
		name    string
		stream  []byte
		wantErr bool
	}{
		{"greeting only", zmtpStream(), false},
		{"short frames", zmtpStream(zmtpFrame(4, 25, false), zmtpFrame(1, 5, false),
			zmtpFrame(0, 0, false), zmtpFrame(0, 255, false)), false},
		{"long frame at the cap", zmtpStream(zmtpFrame(0, limit, true)), false},
		{"long frame over the cap", zmtpStream(zmtpFrame(0, limit+1, true)), true},
		{"long command over the cap", zmtpStream(zmtpFrame(4, 1<<40, true)), true},
		{"huge frame after good ones", zmtpStream(zmtpFrame(1, 7, false),
			zmtpFrame(0, 1<<62, true)), true},
		{"a greeting-sized body is not a greeting", zmtpStream(zmtpFrame(0, 64, false),
			zmtpFrame(0, limit+1, true)), true},
		{"three-frame messages, one after another", zmtpStream(zmtpFrame(1, 5, false),
			zmtpFrame(1, limit, true), zmtpFrame(0, 4, false), zmtpFrame(1, 5, false),
			zmtpFrame(1, limit, true), zmtpFrame(0, 4, false)), false},
		{"too many frames in one message", zmtpStream(append(slices.Repeat(
			[][]byte{zmtpFrame(1, 5, false)}, maxZMQFrames), zmtpFrame(0, 4, false))...),
			true},
		{"frames adding up past the cap in one message", zmtpStream(zmtpFrame(1, limit, true),
			zmtpFrame(1, limit, true), zmtpFrame(1, limit, true), zmtpFrame(1, limit, true),
			zmtpFrame(1, limit, true), zmtpFrame(0, limit, true)), true},
		{"commands between messages do not count", zmtpStream(zmtpFrame(4, 25, false),
			zmtpFrame(1, 5, false), zmtpFrame(4, 25, false), zmtpFrame(1, 5, false),
			zmtpFrame(0, 4, false)), false},
	}
	for _, tt := range tests {
		for _, chunk := range []int{1, 3, 64, 4096} {
			c := &zmtpLimit{max: limit, greeting: zmtpGreetingLen}
			var err error
			for rest := tt.stream; len(rest) > 0 && err == nil; {
				n := min(chunk, len(rest))
				err = c.scan(rest[:n])
				rest = rest[n:]
			}
			if (err != nil) != tt.wantErr || err != nil && !errors.Is(err, errZMQFrameTooLarge) {
				t.Errorf("%s in chunks of %d: scan error %v, want error %v", tt.name, chunk,
					err, tt.wantErr)
			}
		}
	}
}

// TestZMTPLimitRead checks that Read fails, and keeps failing, at a frame over the cap,
// without returning the bytes it read, and calls the hook once.
func TestZMTPLimitRead(t *testing.T) {
	t.Parallel()
	server, client := net.Pipe()
	defer server.Close()
	calls := 0
	c := &zmtpLimit{Conn: client, max: 16, greeting: zmtpGreetingLen,
		onOversize: func() { calls++ }}
	defer c.Close()
	stream := zmtpStream(zmtpFrame(0, 17, true))
	go func() { _, _ = server.Write(stream) }()

	buf := make([]byte, len(stream))
	var got []byte
	var err error
	for len(got) < len(stream) && err == nil {
		var n int
		n, err = c.Read(buf)
		got = append(got, buf[:n]...)
	}
	if !errors.Is(err, errZMQFrameTooLarge) {
		t.Fatalf("read error %v, want one wrapping errZMQFrameTooLarge", err)
	}
	if bytes.Contains(got, stream[zmtpGreetingLen:]) {
		t.Errorf("Read returned the oversized frame's header")
	}
	if _, err := c.Read(buf); !errors.Is(err, errZMQFrameTooLarge) {
		t.Errorf("second read error %v, want the same", err)
	}
	if calls != 1 {
		t.Errorf("the oversize hook ran %d times, want once", calls)
	}
}
