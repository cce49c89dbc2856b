package notify

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/whalecast/whalecast/internal/notify/notifytest"
)

var mailNow = time.Date(2025, 6, 1, 12, 30, 0, 0, time.FixedZone("CEST", 2*3600))

// mailSetup is a fake server and a mailer pointed at it.
type mailSetup struct {
	srv    *notifytest.Server
	mailer *Mailer
}

// newMailSetup starts a fake server with opts and builds a mailer for it from cfg, whose
// Addr is filled in, and RootCAs too unless untrusted is set.
func newMailSetup(tb testing.TB, opts notifytest.Options, cfg MailConfig,
	untrusted bool) mailSetup {
	tb.Helper()
	srv := notifytest.Start(tb, opts)
	cfg.Addr = srv.Addr()
	if !untrusted {
		cfg.RootCAs = srv.RootCAs()
	}
	cfg.From = cmpString(cfg.From, "Whalecast Ops <ops@example.com>")
	if cfg.To == nil {
		cfg.To = []string{"oncall@example.com", "Second Line <second@example.org>"}
	}
	m, err := NewMailer(cfg)
	if err != nil {
		tb.Fatalf("NewMailer(%v): %v", cfg, err)
	}
	m.now = func() time.Time { return mailNow }
	return mailSetup{srv: srv, mailer: m}
}

// cmpString returns s, or def when s is empty.
func cmpString(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// onlyMail returns the one message the server accepted, failing tb otherwise.
func onlyMail(tb testing.TB, srv *notifytest.Server) notifytest.Mail {
	tb.Helper()
	got := srv.Received()
	if len(got) != 1 {
		tb.Fatalf("server accepted %d messages, want 1", len(got))
	}
	return got[0]
}

func TestMailMessage(t *testing.T) {
	longSubject := strings.TrimSpace(strings.Repeat("accuracy degraded again ", 9))
	tests := []struct {
		name     string
		subject  string
		text     string
		wantText string // decoded body; text plus a final line break when empty
		wantCTE  string
	}{
		{
			name:    "ASCII",
			subject: "Accuracy degraded",
			text:    "Accuracy fell to 61%.\nThreshold is 70%.",
			wantCTE: "7bit",
		},
		{
			name:    "UTF-8",
			subject: "Genauigkeit gefallen: 61 % 🐋",
			text:    "Die Genauigkeit fällt unter 70 %.\n",
			wantCTE: "quoted-printable",
		},
		{
			name:    "dot lines",
			subject: "dots",
			text:    ".\n..hidden\n.end\n",
			wantCTE: "7bit",
		},
		{
			name:     "CRLF and lone CR",
			subject:  "line ends",
			text:     "a\r\nb\rc",
			wantText: "a\nb\nc\n",
			wantCTE:  "7bit",
		},
		{
			name:    "line over 998 bytes",
			subject: "long line",
			text:    strings.Repeat("a", 1200),
			wantCTE: "quoted-printable",
		},
		{
			name:    "long subject is folded",
			subject: longSubject,
			text:    "x",
			wantCTE: "7bit",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newMailSetup(t, notifytest.Options{StartTLS: true}, MailConfig{}, false)

			if err := s.mailer.Send(testContext(t), tt.subject, tt.text); err != nil {
				t.Fatalf("Send: %v", err)
			}

			got := onlyMail(t, s.srv)
			want := cmpString(tt.wantText, strings.TrimSuffix(tt.text, "\n")+"\n")
			checkMessage(t, got.Data, tt.subject, want, tt.wantCTE)
		})
	}
}

// checkMessage checks the headers and the decoded body of a received message.
func checkMessage(t *testing.T, data, subject, wantText, wantCTE string) {
	t.Helper()
	for line := range strings.Lines(data) {
		if len(line) > 79 {
			t.Errorf("header or body line of %d bytes: %q", len(line), line)
		}
		if line == "\n" {
			break
		}
	}
	msg, err := mail.ReadMessage(strings.NewReader(data))
	if err != nil {
		t.Fatalf("ReadMessage: %v\n%s", err, data)
	}
	h := msg.Header

	if date, err := h.Date(); err != nil || !date.Equal(mailNow) {
		t.Errorf("Date %q (%v), want %v", h.Get("Date"), err, mailNow)
	}
	wantHeaders := map[string]string{
		"From":                      `"Whalecast Ops" <ops@example.com>`,
		"To":                        `<oncall@example.com>, "Second Line" <second@example.org>`,
		"Mime-Version":              "1.0",
		"Content-Type":              "text/plain; charset=utf-8",
		"Content-Transfer-Encoding": wantCTE,
		"Auto-Submitted":            "auto-generated",
	}
	for name, want := range wantHeaders {
		if got := h.Get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	decoded, err := new(mime.WordDecoder).DecodeHeader(h.Get("Subject"))
	if err != nil || decoded != subject {
		t.Errorf("Subject %q decodes to %q (%v), want %q", h.Get("Subject"), decoded, err,
			subject)
	}
	idPattern := regexp.MustCompile(`^<[A-Z2-7]{26}@example\.com>$`)
	if id := h.Get("Message-Id"); !idPattern.MatchString(id) {
		t.Errorf("Message-ID %q does not match %s", id, idPattern)
	}

	body := msg.Body
	if wantCTE == "quoted-printable" {
		body = quotedprintable.NewReader(body)
	}
	text, err := io.ReadAll(body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	got := strings.ReplaceAll(string(text), "\r\n", "\n")
	if got != wantText {
		t.Errorf("body %q, want %q", got, wantText)
	}
}

func TestMailModes(t *testing.T) {
	creds := MailConfig{Username: "ops", Password: testPassword}
	tests := []struct {
		name     string
		opts     notifytest.Options
		cfg      MailConfig
		wantTLS  bool
		wantUser string
	}{
		{
			name:     "starttls with auth",
			opts:     notifytest.Options{StartTLS: true, Auth: true, User: "ops", Password: testPassword},
			cfg:      creds,
			wantTLS:  true,
			wantUser: "ops",
		},
		{
			name:    "starttls without auth",
			opts:    notifytest.Options{StartTLS: true},
			wantTLS: true,
		},
		{
			name: "implicit tls with auth",
			opts: notifytest.Options{ImplicitTLS: true, Auth: true, User: "ops", Password: testPassword},
			cfg: MailConfig{TLS: TLSImplicit, Username: "ops", Password: testPassword,
				ServerName: "127.0.0.1"},
			wantTLS:  true,
			wantUser: "ops",
		},
		{
			name: "none on loopback",
			cfg:  MailConfig{TLS: TLSNone},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newMailSetup(t, tt.opts, tt.cfg, false)

			if err := s.mailer.Send(testContext(t), "subject", "text"); err != nil {
				t.Fatalf("Send: %v", err)
			}

			got := onlyMail(t, s.srv)
			if got.TLS != tt.wantTLS || got.AuthUser != tt.wantUser {
				t.Errorf("tls %v user %q, want %v %q", got.TLS, got.AuthUser, tt.wantTLS,
					tt.wantUser)
			}
			if got.From != "ops@example.com" {
				t.Errorf("envelope from %q", got.From)
			}
			wantTo := []string{"oncall@example.com", "second@example.org"}
			if !slices.Equal(got.To, wantTo) {
				t.Errorf("envelope to %q, want %q", got.To, wantTo)
			}
		})
	}
}

func TestMailFailures(t *testing.T) {
	creds := MailConfig{Username: "ops", Password: testPassword}
	tests := []struct {
		name      string
		opts      notifytest.Options
		cfg       MailConfig
		untrusted bool
		wantIs    error
		timeout   bool
		wantCode  int
		retryable bool
	}{
		{
			name:   "starttls required but not offered",
			opts:   notifytest.Options{},
			wantIs: ErrStartTLSUnavailable,
		},
		{
			name:   "auth plain not offered",
			opts:   notifytest.Options{StartTLS: true},
			cfg:    creds,
			wantIs: ErrAuthUnavailable,
		},
		{
			name:     "wrong password",
			opts:     notifytest.Options{StartTLS: true, Auth: true, User: "ops", Password: "other"},
			cfg:      creds,
			wantCode: 535,
		},
		{
			name:      "recipient deferred",
			opts:      notifytest.Options{StartTLS: true, RcptReply: "450 4.2.1 try later"},
			wantCode:  450,
			retryable: true,
		},
		{
			name:     "recipient refused",
			opts:     notifytest.Options{StartTLS: true, RcptReply: "550 5.1.1 no such user"},
			wantCode: 550,
		},
		{
			name:      "certificate not trusted",
			opts:      notifytest.Options{StartTLS: true},
			untrusted: true,
		},
		{
			name: "certificate for another name",
			opts: notifytest.Options{StartTLS: true},
			cfg:  MailConfig{ServerName: "mail.example.com"},
		},
		{
			name: "implicit tls not trusted",
			opts: notifytest.Options{ImplicitTLS: true},
			cfg:  MailConfig{TLS: TLSImplicit}, untrusted: true,
		},
		{
			name:      "server never greets",
			opts:      notifytest.Options{Silent: true},
			cfg:       MailConfig{Timeout: 200 * time.Millisecond},
			timeout:   true,
			retryable: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newMailSetup(t, tt.opts, tt.cfg, tt.untrusted)

			start := time.Now()
			err := s.mailer.Send(testContext(t), "subject", "text")

			if time.Since(start) > 3*time.Second {
				t.Errorf("Send took %v", time.Since(start))
			}
			var de *DeliveryError
			if !errors.As(err, &de) {
				t.Fatalf("Send error %v (%T), want *DeliveryError", err, err)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("error %v, want %v", err, tt.wantIs)
			}
			if tt.timeout && !isTimeoutErr(err) {
				t.Errorf("error %v, want a timeout", err)
			}
			if de.StatusCode != tt.wantCode || de.Retryable() != tt.retryable {
				t.Errorf("code %d retryable %v, want %d %v (%v)", de.StatusCode,
					de.Retryable(), tt.wantCode, tt.retryable, err)
			}
			if strings.Contains(err.Error(), testPassword) {
				t.Errorf("error reveals the password: %v", err)
			}
			if n := len(s.srv.Received()); n != 0 {
				t.Errorf("server accepted %d messages, want 0", n)
			}
		})
	}
}

// isTimeoutErr reports whether err is a network timeout.
func isTimeoutErr(err error) bool {
	var te interface{ Timeout() bool }
	return errors.As(err, &te) && te.Timeout()
}

func TestMailCertificateErrorType(t *testing.T) {
	s := newMailSetup(t, notifytest.Options{StartTLS: true}, MailConfig{}, true)

	err := s.mailer.Send(testContext(t), "subject", "text")

	var certErr *tls.CertificateVerificationError
	var unknown x509.UnknownAuthorityError
	if !errors.As(err, &certErr) || !errors.As(err, &unknown) {
		t.Errorf("error %v does not wrap a certificate verification error", err)
	}
}

func TestMailRefusesBadInputBeforeDialling(t *testing.T) {
	tests := []struct {
		name    string
		subject string
		text    string
		want    error
	}{
		{"CRLF in subject", "hi\r\nBcc: victim@example.net", "x", ErrHeaderInjection},
		{"LF in subject", "hi\nBcc: victim@example.net", "x", ErrHeaderInjection},
		{"CR in subject", "hi\rthere", "x", ErrHeaderInjection},
		{"NUL in subject", "hi\x00", "x", ErrHeaderInjection},
		{"DEL in subject", "hi\x7f", "x", ErrHeaderInjection},
		{"subject not UTF-8", "hi\xff", "x", ErrInvalidMessage},
		{"subject too long", strings.Repeat("s", MaxSubjectLen+1), "x", ErrInvalidMessage},
		{"text not UTF-8", "hi", "\xc3\x28", ErrInvalidMessage},
		{"text too long", "hi", strings.Repeat("t", MaxTextLen+1), ErrInvalidMessage},
	}
	s := newMailSetup(t, notifytest.Options{StartTLS: true}, MailConfig{}, false)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.mailer.Send(testContext(t), tt.subject, tt.text)
			if !errors.Is(err, tt.want) || Retryable(err) {
				t.Errorf("Send error %v, want non-retryable %v", err, tt.want)
			}
		})
	}
	if n := s.srv.Accepted(); n != 0 {
		t.Errorf("server accepted %d connections, want 0", n)
	}
}

func TestMailCancelledContext(t *testing.T) {
	s := newMailSetup(t, notifytest.Options{StartTLS: true}, MailConfig{}, false)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	err := s.mailer.Send(ctx, "subject", "text")

	if err == nil || Retryable(err) {
		t.Errorf("Send with a cancelled context: %v, want a non-retryable error", err)
	}
}

func TestNewMailerValidation(t *testing.T) {
	base := MailConfig{Addr: "127.0.0.1:587", From: "ops@example.com",
		To: []string{"oncall@example.com"}}
	tests := []struct {
		name   string
		edit   func(*MailConfig)
		want   string
		wantIs error
	}{
		{"valid", func(*MailConfig) {}, "", nil},
		{"none on loopback IPv6", func(c *MailConfig) {
			c.Addr, c.TLS = "[::1]:25", TLSNone
		}, "", nil},
		{"none to a remote host", func(c *MailConfig) {
			c.Addr, c.TLS = "mail.example.com:25", TLSNone
		}, "loopback", nil},
		{"none to localhost by name", func(c *MailConfig) {
			c.Addr, c.TLS = "localhost:25", TLSNone
		}, "loopback", nil},
		{"none to a private IP", func(c *MailConfig) {
			c.Addr, c.TLS = "10.0.0.1:25", TLSNone
		}, "loopback", nil},
		{"none with credentials", func(c *MailConfig) {
			c.TLS, c.Username, c.Password = TLSNone, "ops", testPassword
		}, "only sent over TLS", nil},
		{"unknown tls mode", func(c *MailConfig) { c.TLS = "ssl" }, `"ssl"`, nil},
		{"addr without port", func(c *MailConfig) { c.Addr = "127.0.0.1" }, "host:port", nil},
		{"addr without host", func(c *MailConfig) { c.Addr = ":25" }, "host:port", nil},
		{"port zero", func(c *MailConfig) { c.Addr = "127.0.0.1:0" }, "port", nil},
		{"port named", func(c *MailConfig) { c.Addr = "127.0.0.1:smtp" }, "port", nil},
		{"negative timeout", func(c *MailConfig) { c.Timeout = -time.Second }, "timeout", nil},
		{"username without password", func(c *MailConfig) { c.Username = "ops" },
			"together", nil},
		{"password without username", func(c *MailConfig) { c.Password = testPassword },
			"together", nil},
		{"from missing", func(c *MailConfig) { c.From = "" }, "from", nil},
		{"from invalid", func(c *MailConfig) { c.From = "not an address" }, "from", nil},
		{"from two addresses", func(c *MailConfig) {
			c.From = "a@example.com, b@example.com"
		}, "from", nil},
		{"from injected", func(c *MailConfig) {
			c.From = "ops@example.com\r\nBcc: victim@example.net"
		}, "from", ErrHeaderInjection},
		{"from not ASCII", func(c *MailConfig) { c.From = "opé@example.com" }, "ASCII", nil},
		{"no recipient", func(c *MailConfig) { c.To = nil }, "0 recipients", nil},
		{"too many recipients", func(c *MailConfig) {
			c.To = make([]string, MaxRecipients+1)
		}, "recipients", nil},
		{"recipient injected", func(c *MailConfig) {
			c.To = []string{"a@example.com", "b@example.com\nBcc: victim@example.net"}
		}, "to[1]", ErrHeaderInjection},
		{"recipient invalid", func(c *MailConfig) { c.To = []string{"@"} }, "to[0]", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := base
			tt.edit(&cfg)

			m, err := NewMailer(cfg)

			if tt.want == "" {
				if err != nil || m == nil {
					t.Fatalf("NewMailer: %v, want a mailer", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("NewMailer error %v, want ErrInvalidConfig mentioning %q", err, tt.want)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("NewMailer error %v, want it to wrap %v", err, tt.wantIs)
			}
			if err != nil && strings.Contains(err.Error(), testPassword) {
				t.Errorf("error reveals the password: %v", err)
			}
		})
	}
}

func TestMailerDefaults(t *testing.T) {
	m, err := NewMailer(MailConfig{Addr: "127.0.0.1:587", From: "ops@example.com",
		To: []string{"oncall@example.com"}})
	if err != nil {
		t.Fatalf("NewMailer: %v", err)
	}

	if m.mode != TLSStartTLS || m.timeout != DefaultMailTimeout || m.auth != nil ||
		m.serverName != "127.0.0.1" {
		t.Errorf("defaults: mode %q timeout %v auth %v server name %q", m.mode, m.timeout,
			m.auth != nil, m.serverName)
	}
}
