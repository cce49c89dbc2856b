package transport

import (
	"bufio"
	"sync"
)

// readBufferSize is the size of a WebSocket's read buffer. Client messages are small
// (actors.MaxClientMessage); gorilla reads longer ones through the buffer in pieces. It must
// exceed 256 bytes: gorilla takes a buffer handed over by Hijack only above that size.
const readBufferSize = 1024

// Read buffers are lent to connections while they read and given back while they wait. An
// idle connection keeps the bufio.Reader that gorilla holds a pointer to, empty: only its
// contents move. That is safe because one goroutine at a time reads a connection, and a
// buffer is given back only when nothing is left in it.
var readBuffers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, readBufferSize) }}

// takeReadBuffer gives br, an empty bufio.Reader, a buffer from the pool. The caller resets
// br to its connection.
func takeReadBuffer(br *bufio.Reader) {
	lent := readBuffers.Get().(*bufio.Reader)
	*br = *lent
	*lent = bufio.Reader{}
}

// returnReadBuffer gives br's buffer back to the pool and leaves br empty. br must have
// nothing buffered.
func returnReadBuffer(br *bufio.Reader) {
	back := new(bufio.Reader)
	*back = *br
	back.Reset(nil)
	*br = bufio.Reader{}
	readBuffers.Put(back)
}
