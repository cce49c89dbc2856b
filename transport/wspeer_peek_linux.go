package transport

import "syscall"

// canPeek says that readable works on this system.
const canPeek = true

// readable is watch's test of the socket fd: true when it has a byte to read, or an end or
// an error to report, without taking anything. Only "nothing yet" keeps watch waiting; the
// read that follows handles the rest.
func readable(fd uintptr) bool {
	var b [1]byte
	_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	return err != syscall.EAGAIN
}
