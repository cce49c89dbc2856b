package notify

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"math/big"
	"net"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"
)

// smtpOptions shapes what a fake mail server offers and how it answers.
type smtpOptions struct {
	startTLS    bool   // offer STARTTLS on a clear connection
	implicitTLS bool   // speak TLS from the first byte
	auth        bool   // offer AUTH PLAIN once the connection is encrypted
	user, pass  string // the only credentials AUTH accepts
	rcptReply   string // reply to RCPT instead of "250 ok", e.g. "450 try later"
	silent      bool   // accept connections but never greet
}

// receivedMail is one message a fake mail server accepted.
type receivedMail struct {
	from     string
	to       []string
	data     string
	tls      bool
	authUser string
}

// fakeSMTP is a mail server on 127.0.0.1 that speaks enough ESMTP for the Mailer (EHLO,
// STARTTLS, AUTH PLAIN, MAIL, RCPT, DATA, RSET, NOOP, QUIT) and records what it accepts.
type fakeSMTP struct {
	ln   net.Listener
	opts smtpOptions
	tls  *tls.Config

	mu    sync.Mutex
	conns []net.Conn
	mails []receivedMail
	wg    sync.WaitGroup
}

// startSMTP starts a fake mail server with a certificate for 127.0.0.1; it and every
// connection it accepted are closed at cleanup.
func startSMTP(tb testing.TB, opts smtpOptions, cert tls.Certificate) *fakeSMTP {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("listen: %v", err)
	}
	s := &fakeSMTP{ln: ln, opts: opts,
		tls: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}}
	s.wg.Add(1)
	go s.accept()
	tb.Cleanup(s.close)
	return s
}

// addr returns the server's host:port.
func (s *fakeSMTP) addr() string { return s.ln.Addr().String() }

// accepted returns how many connections the server accepted.
func (s *fakeSMTP) accepted() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// received returns a copy of the messages accepted so far.
func (s *fakeSMTP) received() []receivedMail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]receivedMail(nil), s.mails...)
}

func (s *fakeSMTP) close() {
	_ = s.ln.Close()
	s.mu.Lock()
	for _, c := range s.conns {
		_ = c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *fakeSMTP) accept() {
	defer s.wg.Done()
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns = append(s.conns, conn)
		s.mu.Unlock()
		s.wg.Add(1)
		go s.serve(conn)
	}
}

// serve runs one session; it ends after 200 commands, 10 seconds, QUIT or any error.
func (s *fakeSMTP) serve(conn net.Conn) {
	defer s.wg.Done()
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))

	sess := &smtpSession{srv: s, conn: conn}
	if s.opts.implicitTLS {
		sess.upgrade()
	}
	if s.opts.silent {
		_, _ = bufio.NewReader(conn).ReadString('\n')
		return
	}
	sess.reset()
	sess.reply("220 fake ESMTP")
	for range 200 {
		line, err := sess.text.ReadLine()
		if err != nil || !sess.handle(line) {
			return
		}
	}
}

// smtpSession is the state of one fake connection.
type smtpSession struct {
	srv      *fakeSMTP
	conn     net.Conn
	text     *textproto.Conn
	tls      bool
	authUser string
	mail     *receivedMail
}

func (c *smtpSession) reset() { c.text = textproto.NewConn(c.conn) }

func (c *smtpSession) upgrade() {
	c.conn = tls.Server(c.conn, c.srv.tls)
	c.tls = true
}

func (c *smtpSession) reply(lines ...string) {
	for _, l := range lines {
		_ = c.text.PrintfLine("%s", l)
	}
}

// handle answers one command and reports whether the session goes on.
func (c *smtpSession) handle(line string) bool {
	verb, arg, _ := strings.Cut(line, " ")
	switch strings.ToUpper(verb) {
	case "EHLO":
		lines := []string{"250-fake greets " + arg}
		if c.srv.opts.startTLS && !c.tls {
			lines = append(lines, "250-STARTTLS")
		}
		if c.srv.opts.auth && c.tls {
			lines = append(lines, "250-AUTH LOGIN PLAIN")
		}
		c.reply(append(lines, "250 HELP")...)
	case "STARTTLS":
		if !c.srv.opts.startTLS || c.tls {
			c.reply("502 not offered")
			return true
		}
		c.reply("220 go ahead")
		c.upgrade()
		c.reset()
	case "AUTH":
		c.auth(arg)
	case "MAIL":
		c.mail = &receivedMail{from: arg, tls: c.tls, authUser: c.authUser}
		c.reply("250 ok")
	case "RCPT":
		c.rcpt(arg)
	case "DATA":
		c.data()
	case "RSET", "NOOP":
		c.reply("250 ok")
	case "QUIT":
		c.reply("221 bye")
		return false
	default:
		c.reply("500 unknown command")
	}
	return true
}

func (c *smtpSession) auth(arg string) {
	mech, resp, _ := strings.Cut(arg, " ")
	if !c.tls {
		c.reply("538 encryption required")
		return
	}
	raw, err := base64.StdEncoding.DecodeString(resp)
	parts := strings.Split(string(raw), "\x00")
	if !strings.EqualFold(mech, "PLAIN") || err != nil || len(parts) != 3 ||
		parts[1] != c.srv.opts.user || parts[2] != c.srv.opts.pass {
		c.reply("535 5.7.8 authentication failed")
		return
	}
	c.authUser = parts[1]
	c.reply("235 2.7.0 accepted")
}

func (c *smtpSession) rcpt(arg string) {
	if c.mail == nil {
		c.reply("503 MAIL first")
		return
	}
	if c.srv.opts.rcptReply != "" {
		c.reply(c.srv.opts.rcptReply)
		return
	}
	c.mail.to = append(c.mail.to, arg)
	c.reply("250 ok")
}

func (c *smtpSession) data() {
	if c.mail == nil || len(c.mail.to) == 0 {
		c.reply("503 RCPT first")
		return
	}
	c.reply("354 end with .")
	data, err := c.text.ReadDotBytes()
	if err != nil {
		return
	}
	c.mail.data = string(data)
	c.srv.mu.Lock()
	c.srv.mails = append(c.srv.mails, *c.mail)
	c.srv.mu.Unlock()
	c.mail = nil
	c.reply("250 queued")
}

// selfSigned returns a certificate for 127.0.0.1, valid for an hour either side of now, and
// a pool that trusts it.
func selfSigned(tb testing.TB) (tls.Certificate, *x509.CertPool) {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatalf("generate key: %v", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "whalecast test mail server"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatalf("create certificate: %v", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatalf("parse certificate: %v", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}
