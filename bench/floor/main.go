// Command floor is the simplest fast broadcaster of Whalecast's frames: no actors, no
// authentication, no persistence. It serves the engine's whale_alert frames on GET /ws
// (a welcome with the last seq first, as the engine does) and publishes them through
// POST /api/v1/admin/publish, the engine's admin route shape without its admin check, so
// that `engine bench` runs against it unchanged (with --no-auth). Each alert is encoded
// once per broadcast, as a websocket.PreparedMessage, and offered to every connection's
// queue without waiting; a connection whose queue is full is closed with 4009.
//
// It is the floor of the side-by-side comparison in bench/README.md: what one process on
// this machine can do with gorilla/websocket alone.
//
//	go run ./bench/floor --addr 127.0.0.1:8766
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// DefaultAddr is where the floor listens by default.
const DefaultAddr = "127.0.0.1:8766"

// shutdownTimeout bounds the stop after a signal.
const shutdownTimeout = 5 * time.Second

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

// run serves until SIGINT or SIGTERM and returns the exit code.
func run(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("floor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", DefaultAddr, "listen address; loopback only (it checks no "+
		"credential)")
	queue := fs.Int("queue", DefaultQueue, "frames queued per connection before it is "+
		"dropped as a slow consumer")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if err := checkAddr(*addr); err != nil || *queue < 1 || *queue > 1<<20 {
		fmt.Fprintf(stderr, "floor: --addr %q must be a loopback host:port and --queue 1 to "+
			"%d\n", *addr, 1<<20)
		return 2
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintf(stderr, "floor: %v\n", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv := newServer(*queue)
	hs := &http.Server{Handler: srv.routes(), ReadHeaderTimeout: 5 * time.Second}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	fmt.Fprintf(stderr, "floor: listening on %s (ws://%s/ws)\n", ln.Addr(), ln.Addr())

	select {
	case err := <-served:
		fmt.Fprintf(stderr, "floor: %v\n", err)
		return 1
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	_ = hs.Shutdown(sctx)
	srv.close(shutdownTimeout)
	fmt.Fprintln(stderr, "floor: stopped")
	return 0
}

// checkAddr accepts host:port with a loopback host.
func checkAddr(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return errors.New("not a loopback address")
	}
	return nil
}
