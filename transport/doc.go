// Package transport is Whalecast's HTTP layer: the WebSocket endpoint, the REST API and the
// guards in front of both.
//
// # Tour
//
//   - server.go: [Config], [Server], the routes, and the WebSocket handler. upgrade.go
//     checks an upgrade before it happens, and upgrades it; wspeer.go runs the upgraded
//     connection as an actors.Peer: wspeer_read.go reads it, taking turns with a short wait
//     between messages (wspeer_pingpong.go answers pings there, readbuf.go lends the read
//     buffer), and wspeer_keepalive.go keeps it alive: pings, the keep-alive read deadline,
//     the control frame budget. timeouts.go holds [Timeouts].
//   - host.go: the Host check against DNS rebinding; httpconn.go: the requests one
//     keep-alive connection may carry.
//   - rest.go: GET /api/v1/alerts, /api/v1/stats and /healthz. rest_auth.go wraps every
//     /api/ route: ban check, no credential in the URL, Bearer token or X-API-Key, the
//     per-credential token bucket (rest_ratelimit.go) and the permission. rest_admin.go
//     holds the admin routes and their JSON types, which the engine's CLI uses too;
//     rest_publish.go the admin route that publishes test alerts through a [Publisher].
//     metrics.go serves GET /metrics from the injected registry, behind the same wrapper.
//   - guard.go: the connection [Guard] (caps, attempts per second, bans); clientip.go: the
//     client address behind trusted proxies; origin.go: the Origin allow-list.
//   - request.go: strict query parsing and credential headers; tls.go: [LoadTLS].
//
// Requests are refused before anything else happens to them, cheapest first: a foreign Host
// (on a loopback engine), a banned IP, a credential in the URL, a bad query, a foreign
// Origin, a bad credential. Every refused credential is an auth_failure audit event, which
// the engine's auditor also feeds to the guard, so that repeated failures ban the IP.
// Nothing is logged or audited with a URL query, a token or an API key, and a failure a
// client can repeat is logged at debug or at most once per interval.
//
// # Concurrency
//
// Handlers run on net/http's goroutines. The guard and the rate limiter table are
// safe for concurrent use, each behind one mutex held for map work only. A WebSocket
// handler returns once the connection is upgraded and its session started; one goroutine at
// a time then reads the connection: read while there are bytes, watch (a short wait on the
// socket) in between, each starting the other (wspeer_read.go). A writer goroutine exists
// while frames are queued; a timer pings a silent client from a short-lived callback
// goroutine. Control frames are answered by the reader. Sessions own their connection's state; the
// transport forwards frames and close requests, and closes a connection itself only for a control
// frame flood (4008), a dead peer, or a stuck write after a close. At shutdown the engine may
// cut, through Server.CutConns, the connections that outlived their close (a client that
// reads nothing); the server holds its connections weakly for that, behind one mutex.
package transport
