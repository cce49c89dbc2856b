package transport

import (
	"context"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// Limits of one keep-alive connection. A client that pipelines requests and reads the
// answers slowly keeps refreshing the per-request deadlines; these end the connection anyway.
const (
	// MaxRequestsPerConn is how many requests one connection may carry: the answer to the
	// last says Connection: close, and the connection closes after it.
	MaxRequestsPerConn = 1000
	// MaxConnAge closes a keep-alive connection after the first answer past this age.
	MaxConnAge = 10 * time.Minute
)

// connUse is what the server remembers of one accepted connection.
type connUse struct {
	opened   time.Time
	requests atomic.Int64
}

type connUseKey struct{}

// trackConn is the http.Server's ConnContext: it stamps each connection's context.
func trackConn(ctx context.Context, _ net.Conn) context.Context {
	return context.WithValue(ctx, connUseKey{}, &connUse{opened: time.Now()})
}

// limitConnUse wraps the routes: the answer to a connection's MaxRequestsPerConn-th request,
// or to the first request after MaxConnAge, closes the connection.
func limitConnUse(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if use, ok := r.Context().Value(connUseKey{}).(*connUse); ok {
			n := use.requests.Add(1)
			if n >= MaxRequestsPerConn || time.Since(use.opened) >= MaxConnAge {
				w.Header().Set("Connection", "close")
			}
		}
		next.ServeHTTP(w, r)
	})
}
