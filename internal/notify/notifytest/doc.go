// Package notifytest runs a fake mail server for tests of code that sends operator email
// through internal/notify: the Mailer's own tests and the engine's end-to-end tests. It is
// imported by tests only.
//
// A [Server] listens on 127.0.0.1 only and speaks enough ESMTP for the Mailer: EHLO,
// STARTTLS, AUTH PLAIN, MAIL, RCPT, DATA, RSET, NOOP and QUIT. [Options] choose what it
// offers (clear text, STARTTLS, implicit TLS, authentication) and how it misbehaves (a
// deferred or refused recipient, a server that never greets). Its certificate is
// self-signed for 127.0.0.1; [Server.RootCAs] trusts it. It records every message it
// accepts as a [Mail].
//
// # Bounds
//
// Everything is bounded so that a faulty client cannot hang or exhaust a test: connections
// ([Options.MaxConns]), the messages kept ([Options.MaxMessages], past which DATA answers
// 452), the size of a message ([Options.MaxMessageSize], past which DATA answers 552 and the
// session ends), the bytes one session may send (MaxMessageSize plus 64 KiB of commands),
// the commands of a session (200) and its duration ([Options.Timeout]).
//
// # Concurrency
//
// Each connection is served by a goroutine of its own. Every method of Server is safe from
// any goroutine; [Server.Wait] blocks until enough messages arrived or its context ends.
// [Server.Close], called at the test's cleanup by [Start], closes the listener and every
// connection and waits for their goroutines.
package notifytest
