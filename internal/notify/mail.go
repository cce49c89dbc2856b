package notify

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"strconv"
	"strings"
	"time"
)

// TLS modes of MailConfig.TLS.
const (
	// TLSStartTLS upgrades a plain connection with STARTTLS, and fails if the server does
	// not offer it. It is the default.
	TLSStartTLS = "starttls"
	// TLSImplicit speaks TLS from the first byte (SMTPS, usually port 465).
	TLSImplicit = "tls"
	// TLSNone sends in clear text; allowed only to a loopback IP address, without
	// credentials.
	TLSNone = "none"
)

// DefaultMailTimeout bounds one Send when MailConfig.Timeout is zero.
const DefaultMailTimeout = 10 * time.Second

// MaxRecipients is the largest number of addresses MailConfig.To may hold.
const MaxRecipients = 100

// ehloName is the name the mailer gives itself in EHLO.
const ehloName = "localhost"

// MailConfig tells NewMailer how to reach the mail server and whom to write to. Its String,
// GoString, Format and LogValue methods never show the password.
type MailConfig struct {
	// Addr is the server as host:port.
	Addr string
	// From is the sender, one RFC 5322 address ("Whalecast <ops@example.com>").
	From string
	// To holds 1 to MaxRecipients recipients, one address each.
	To []string
	// Username authenticates with AUTH PLAIN, which is only ever sent over TLS; set it
	// together with Password, or neither.
	Username string
	// Password goes with Username. No error, log line or formatting of the config or the
	// Mailer shows it.
	Password string
	// TLS is TLSStartTLS (the default when empty), TLSImplicit or TLSNone.
	TLS string
	// Timeout bounds one Send, from dialling to QUIT. Zero means DefaultMailTimeout (10s);
	// it cannot be turned off.
	Timeout time.Duration
	// RootCAs, when set, replaces the system roots to verify the server. Meant for tests.
	RootCAs *x509.CertPool
	// ServerName is the name the server's certificate must carry; empty means Addr's host.
	ServerName string
}

// String describes the config without the password.
func (c MailConfig) String() string {
	pass := ""
	if c.Password != "" {
		pass = redacted
	}
	return fmt.Sprintf("mail addr=%s tls=%s from=%q to=%d username=%q password=%s", c.Addr,
		c.TLS, c.From, len(c.To), c.Username, pass)
}

// GoString returns the same as String.
func (c MailConfig) GoString() string { return c.String() }

// Format writes String whatever the verb.
func (c MailConfig) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, c.String()) }

// LogValue returns String as a slog string.
func (c MailConfig) LogValue() slog.Value { return slog.StringValue(c.String()) }

// MarshalJSON returns String as a JSON string, so that a config logged inside another
// value keeps its password.
func (c MailConfig) MarshalJSON() ([]byte, error) { return json.Marshal(c.String()) }

// Mailer sends plain-text mail to a fixed list of recipients. It is safe for concurrent use;
// each Send opens its own connection. The password lives only inside the smtp.Auth it
// built, kept where no formatting path reaches it.
type Mailer struct {
	addr       string
	serverName string
	mode       string
	from       *mail.Address
	to         []*mail.Address
	auth       hidden[smtp.Auth] // nil without credentials
	timeout    time.Duration
	tlsConfig  *tls.Config
	now        func() time.Time
}

// NewMailer validates cfg and returns a Mailer; errors wrap ErrInvalidConfig, and also
// ErrHeaderInjection for an address holding a control character. It makes no connection.
func NewMailer(cfg MailConfig) (*Mailer, error) {
	host, err := checkAddr(cfg.Addr)
	if err != nil {
		return nil, err
	}
	mode, err := checkMode(cfg, host)
	if err != nil {
		return nil, err
	}
	if cfg.Timeout < 0 {
		return nil, fmt.Errorf("%w: mail timeout %v is negative", ErrInvalidConfig,
			cfg.Timeout)
	}

	from, err := parseAddress("from", cfg.From)
	if err != nil {
		return nil, err
	}
	if len(cfg.To) == 0 || len(cfg.To) > MaxRecipients {
		return nil, fmt.Errorf("%w: %d recipients, want 1 to %d", ErrInvalidConfig,
			len(cfg.To), MaxRecipients)
	}
	to := make([]*mail.Address, len(cfg.To))
	for i, s := range cfg.To {
		if to[i], err = parseAddress("to["+strconv.Itoa(i)+"]", s); err != nil {
			return nil, err
		}
	}

	m := &Mailer{
		addr:       cfg.Addr,
		serverName: cmp.Or(cfg.ServerName, host),
		mode:       mode,
		from:       from,
		to:         to,
		timeout:    cmp.Or(cfg.Timeout, DefaultMailTimeout),
		now:        time.Now,
	}
	m.tlsConfig = &tls.Config{ServerName: m.serverName, RootCAs: cfg.RootCAs,
		MinVersion: tls.VersionTLS12}
	if cfg.Username != "" {
		m.auth = hide(smtp.PlainAuth("", cfg.Username, cfg.Password, m.serverName))
	}
	return m, nil
}

// checkAddr validates host:port and returns the host.
func checkAddr(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return "", fmt.Errorf("%w: mail addr %q is not host:port", ErrInvalidConfig, addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("%w: mail port %q", ErrInvalidConfig, port)
	}
	return host, nil
}

// checkMode returns the TLS mode, defaulted, after checking it against the host and the
// credentials.
func checkMode(cfg MailConfig, host string) (string, error) {
	mode := cmp.Or(cfg.TLS, TLSStartTLS)
	switch mode {
	case TLSStartTLS, TLSImplicit:
	case TLSNone:
		if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
			return "", fmt.Errorf("%w: mail tls %q needs a loopback IP, not %q",
				ErrInvalidConfig, mode, host)
		}
		if cfg.Username != "" || cfg.Password != "" {
			return "", fmt.Errorf("%w: mail credentials are only sent over TLS",
				ErrInvalidConfig)
		}
	default:
		return "", fmt.Errorf("%w: mail tls %q is not %q, %q or %q", ErrInvalidConfig,
			cfg.TLS, TLSStartTLS, TLSImplicit, TLSNone)
	}
	if (cfg.Username == "") != (cfg.Password == "") {
		return "", fmt.Errorf("%w: mail username and password must be set together",
			ErrInvalidConfig)
	}
	return mode, nil
}

// parseAddress parses one address with an ASCII addr-spec (the envelope carries it as is);
// field names it in errors.
func parseAddress(field, s string) (*mail.Address, error) {
	if err := checkHeaderText(s); err != nil {
		return nil, fmt.Errorf("%w: mail %s: %w", ErrInvalidConfig, field, err)
	}
	a, err := mail.ParseAddress(s)
	if err != nil {
		return nil, fmt.Errorf("%w: mail %s %q: %w", ErrInvalidConfig, field, s, err)
	}
	for i := 0; i < len(a.Address); i++ {
		if a.Address[i] > '~' {
			return nil, fmt.Errorf("%w: mail %s %q is not ASCII", ErrInvalidConfig, field, s)
		}
	}
	return a, nil
}

// String describes the mailer without the password.
func (m *Mailer) String() string {
	return fmt.Sprintf("mailer addr=%s tls=%s from=%s to=%d auth=%t", m.addr, m.mode,
		m.from.Address, len(m.to), m.auth != nil)
}

// GoString returns the same as String.
func (m *Mailer) GoString() string { return m.String() }

// Format writes String whatever the verb.
func (m *Mailer) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, m.String()) }

// LogValue returns the mailer's address, TLS mode, sender and number of recipients.
func (m *Mailer) LogValue() slog.Value {
	return slog.GroupValue(slog.String("addr", m.addr), slog.String("tls", m.mode),
		slog.String("from", m.from.Address), slog.Int("to", len(m.to)),
		slog.Bool("auth", m.auth != nil))
}

// Send mails text under subject to every recipient. The subject must be valid UTF-8 of at
// most MaxSubjectLen bytes without control characters (ErrHeaderInjection for CR, LF and
// the others), the text valid UTF-8 of at most MaxTextLen bytes (ErrInvalidMessage); both
// are checked before anything is dialled. The whole exchange is bounded by ctx and the
// configured timeout. Failures to deliver are *DeliveryError: network errors, timeouts and
// SMTP 4xx replies are retryable; SMTP 5xx replies, a certificate that does not verify, and
// a server without STARTTLS (in that mode) or AUTH PLAIN (with credentials) are not.
func (m *Mailer) Send(ctx context.Context, subject, text string) error {
	msg, err := m.message(subject, text)
	if err != nil {
		return err
	}

	ctx, cancel := context.WithTimeout(ctx, m.timeout)
	defer cancel()
	conn, err := (&net.Dialer{Timeout: m.timeout}).DialContext(ctx, "tcp", m.addr)
	if err != nil {
		return m.fail(ctx, "dial", err)
	}
	defer conn.Close()
	deadline, _ := ctx.Deadline()
	if err := conn.SetDeadline(deadline); err != nil {
		return m.fail(ctx, "set deadline", err)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	if m.mode == TLSImplicit {
		tc := tls.Client(conn, m.tlsConfig)
		if err := tc.HandshakeContext(ctx); err != nil {
			return m.fail(ctx, "tls handshake", err)
		}
		conn = tc
	}
	c, err := smtp.NewClient(conn, m.serverName)
	if err != nil {
		return m.fail(ctx, "greeting", err)
	}
	defer c.Close()
	return m.converse(ctx, c, msg)
}

// converse runs the SMTP exchange after the greeting.
func (m *Mailer) converse(ctx context.Context, c *smtp.Client, msg []byte) error {
	if err := c.Hello(ehloName); err != nil {
		return m.fail(ctx, "ehlo", err)
	}
	if m.mode == TLSStartTLS {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return m.fail(ctx, "starttls", ErrStartTLSUnavailable)
		}
		if err := c.StartTLS(m.tlsConfig); err != nil {
			return m.fail(ctx, "starttls", err)
		}
	}
	if m.auth != nil {
		if ok, mechs := c.Extension("AUTH"); !ok || !hasWord(mechs, "PLAIN") {
			return m.fail(ctx, "auth", ErrAuthUnavailable)
		}
		if err := c.Auth(m.auth()); err != nil {
			return m.fail(ctx, "auth", err)
		}
	}

	if err := c.Mail(m.from.Address); err != nil {
		return m.fail(ctx, "mail from", err)
	}
	for _, to := range m.to {
		if err := c.Rcpt(to.Address); err != nil {
			return m.fail(ctx, "rcpt to", err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return m.fail(ctx, "data", err)
	}
	if _, err := w.Write(msg); err != nil {
		return m.fail(ctx, "data", err)
	}
	if err := w.Close(); err != nil {
		return m.fail(ctx, "data", err)
	}

	// The server accepted the message with its reply to DATA; a failing QUIT loses nothing.
	_ = c.Quit()
	return nil
}

// fail returns a *DeliveryError for stage, deciding whether a later Send may succeed.
func (m *Mailer) fail(ctx context.Context, stage string, err error) error {
	code := 0
	retryable := true
	var reply *textproto.Error
	var certErr *tls.CertificateVerificationError
	switch {
	case errors.As(err, &reply):
		code = reply.Code
		retryable = reply.Code >= 400 && reply.Code < 500
	case errors.As(err, &certErr),
		errors.Is(err, ErrStartTLSUnavailable),
		errors.Is(err, ErrAuthUnavailable),
		errors.Is(ctx.Err(), context.Canceled):
		retryable = false
	}
	return &DeliveryError{Op: "mail", Target: m.addr, StatusCode: code,
		Err: fmt.Errorf("%s: %w", stage, err), retryable: retryable}
}

// hasWord reports whether the space-separated list holds word, ignoring case.
func hasWord(list, word string) bool {
	for w := range strings.FieldsSeq(list) {
		if strings.EqualFold(w, word) {
			return true
		}
	}
	return false
}
