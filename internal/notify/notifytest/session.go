package notifytest

import (
	"bufio"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/textproto"
	"strings"
	"time"
)

// maxCommands bounds the commands of one session.
const maxCommands = 200

// commandBytes is what a session may send besides its message: EHLO, MAIL, RCPT and the
// rest.
const commandBytes = 64 << 10

// errSessionTooLong ends a session that sent more than its byte budget.
var errSessionTooLong = errors.New("notifytest: session sent too many bytes")

// serve runs one session; it ends after maxCommands commands, the timeout, QUIT, too many
// bytes or any error.
func (s *Server) serve(conn net.Conn) {
	defer s.wg.Done()
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(s.opts.Timeout))

	c := &session{srv: s, conn: conn,
		budget: &budget{left: int64(s.opts.MaxMessageSize) + commandBytes}}
	if s.opts.ImplicitTLS {
		c.upgrade()
	}
	if s.opts.Silent {
		_, _ = bufio.NewReader(io.LimitReader(conn, commandBytes)).ReadString('\n')
		return
	}
	c.reset()
	c.reply("220 notifytest ESMTP")
	for range maxCommands {
		line, err := c.text.ReadLine()
		if err != nil || !c.handle(line) {
			return
		}
	}
}

// budget is how many bytes a session may still send, across a STARTTLS upgrade.
type budget struct{ left int64 }

// budgetReader reads from r until the budget is spent.
type budgetReader struct {
	r io.Reader
	b *budget
}

func (br budgetReader) Read(p []byte) (int, error) {
	if br.b.left <= 0 {
		return 0, errSessionTooLong
	}
	if int64(len(p)) > br.b.left {
		p = p[:br.b.left]
	}
	n, err := br.r.Read(p)
	br.b.left -= int64(n)
	return n, err
}

// session is the state of one connection.
type session struct {
	srv      *Server
	conn     net.Conn
	budget   *budget
	text     *textproto.Conn
	tls      bool
	authUser string
	mail     *Mail
}

// reset reads and writes the connection afresh, after a TLS upgrade.
func (c *session) reset() {
	c.text = textproto.NewConn(struct {
		io.Reader
		io.Writer
		io.Closer
	}{budgetReader{c.conn, c.budget}, c.conn, c.conn})
}

func (c *session) upgrade() {
	c.conn = tls.Server(c.conn, c.srv.tls)
	c.tls = true
}

func (c *session) reply(lines ...string) {
	for _, l := range lines {
		_ = c.text.PrintfLine("%s", l)
	}
}

// handle answers one command and reports whether the session goes on.
func (c *session) handle(line string) bool {
	verb, arg, _ := strings.Cut(line, " ")
	switch strings.ToUpper(verb) {
	case "EHLO":
		c.ehlo(arg)
	case "STARTTLS":
		if !c.srv.opts.StartTLS || c.tls {
			c.reply("502 not offered")
			return true
		}
		c.reply("220 go ahead")
		c.upgrade()
		c.reset()
	case "AUTH":
		c.auth(arg)
	case "MAIL":
		c.from(arg)
	case "RCPT":
		c.rcpt(arg)
	case "DATA":
		return c.data()
	case "RSET":
		c.mail = nil
		c.reply("250 ok")
	case "NOOP":
		c.reply("250 ok")
	case "QUIT":
		c.reply("221 bye")
		return false
	default:
		c.reply("500 unknown command")
	}
	return true
}

func (c *session) ehlo(arg string) {
	lines := []string{"250-notifytest greets " + arg}
	if c.srv.opts.StartTLS && !c.tls {
		lines = append(lines, "250-STARTTLS")
	}
	if c.srv.opts.Auth && c.tls {
		lines = append(lines, "250-AUTH LOGIN PLAIN")
	}
	c.reply(append(lines, "250 HELP")...)
}

func (c *session) auth(arg string) {
	mech, resp, _ := strings.Cut(arg, " ")
	if !c.tls {
		c.reply("538 encryption required")
		return
	}
	raw, err := base64.StdEncoding.DecodeString(resp)
	parts := strings.Split(string(raw), "\x00")
	opts := c.srv.opts
	if !strings.EqualFold(mech, "PLAIN") || err != nil || len(parts) != 3 ||
		parts[1] != opts.User || parts[2] != opts.Password {
		c.reply("535 5.7.8 authentication failed")
		return
	}
	c.authUser = parts[1]
	c.reply("235 2.7.0 accepted")
}

func (c *session) from(arg string) {
	addr, ok := path(arg, "FROM:")
	if !ok {
		c.reply("501 syntax: MAIL FROM:<address>")
		return
	}
	c.mail = &Mail{From: addr, TLS: c.tls, AuthUser: c.authUser}
	c.reply("250 ok")
}

func (c *session) rcpt(arg string) {
	if c.mail == nil {
		c.reply("503 MAIL first")
		return
	}
	addr, ok := path(arg, "TO:")
	if !ok {
		c.reply("501 syntax: RCPT TO:<address>")
		return
	}
	if c.srv.opts.RcptReply != "" {
		c.reply(c.srv.opts.RcptReply)
		return
	}
	c.mail.To = append(c.mail.To, addr)
	c.reply("250 ok")
}

// data reads a message and reports whether the session goes on: a message over the size
// limit ends it, its remaining lines unread.
func (c *session) data() bool {
	if c.mail == nil || len(c.mail.To) == 0 {
		c.reply("503 RCPT first")
		return true
	}
	c.reply("354 end with .")
	limit := int64(c.srv.opts.MaxMessageSize)
	data, err := io.ReadAll(io.LimitReader(c.text.DotReader(), limit+1))
	switch {
	case err != nil:
		return false
	case int64(len(data)) > limit:
		c.reply("552 5.3.4 message too big")
		return false
	}

	c.mail.Data = string(data)
	m := *c.mail
	c.mail = nil
	if !c.srv.store(m) {
		c.reply("452 4.3.1 too many messages")
		return true
	}
	c.reply("250 queued")
	return true
}

// path returns the address of a MAIL or RCPT argument such as "FROM:<a@example.com>" after
// prefix, ignoring any parameters after it.
func path(arg, prefix string) (string, bool) {
	if len(arg) < len(prefix) || !strings.EqualFold(arg[:len(prefix)], prefix) {
		return "", false
	}
	rest := strings.TrimSpace(arg[len(prefix):])
	if !strings.HasPrefix(rest, "<") {
		return "", false
	}
	addr, _, ok := strings.Cut(rest[1:], ">")
	return addr, ok
}
