package corerpc

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

const (
	// DefaultTimeout bounds one HTTP exchange when Config.Timeout is zero.
	DefaultTimeout = 10 * time.Second
	// DefaultMaxResponse bounds one response body when Config.MaxResponse is zero. A
	// block is at most 4 MB, 8 MB in hex; a mempool of 300,000 txids is about 20 MB.
	DefaultMaxResponse = 32 << 20
	// maxMaxResponse is the largest MaxResponse New accepts.
	maxMaxResponse = 1 << 30
	// maxCookieSize bounds the cookie file; Bitcoin Core writes 75 bytes.
	maxCookieSize = 1024
	// redacted stands for a secret in String and LogValue.
	redacted = "[redacted]"
)

// Config says where the node is and how to log in. Set either CookieFile or User and
// Password, never both.
type Config struct {
	// URL is the node's RPC endpoint, http:// or https:// with a host and a port, such as
	// http://127.0.0.1:8332. It may not carry credentials, a path, a query or a fragment.
	URL string
	// CookieFile is the path of Bitcoin Core's .cookie file, whose contents are
	// "__cookie__:<password>". It is read by New and read again when the node answers
	// 401, since Core writes a new cookie at every start.
	CookieFile string
	// User is the -rpcuser (or -rpcauth) name; it may not contain ':'.
	User string
	// Password is the password of User.
	Password string
	// Timeout bounds one HTTP exchange, reading the body included. Zero means
	// DefaultTimeout; it cannot be turned off.
	Timeout time.Duration
	// MaxResponse bounds one response body in bytes. Zero means DefaultMaxResponse; at
	// most 1 GiB. It cannot be turned off.
	MaxResponse int64
}

// String shows the config with the password redacted.
func (c Config) String() string {
	return fmt.Sprintf("corerpc.Config{URL:%s CookieFile:%s User:%s Password:%s "+
		"Timeout:%v MaxResponse:%d}", redactURL(c.URL), c.CookieFile, c.User,
		redactPassword(c.Password), c.Timeout, c.MaxResponse)
}

// GoString is String, so that %#v redacts the password too.
func (c Config) GoString() string { return c.String() }

// LogValue logs the config as a group with the password redacted.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("url", redactURL(c.URL)),
		slog.String("cookie_file", c.CookieFile),
		slog.String("user", c.User),
		slog.String("password", redactPassword(c.Password)),
		slog.Duration("timeout", c.Timeout),
		slog.Int64("max_response", c.MaxResponse),
	)
}

// redactPassword tells whether a password is set without showing it.
func redactPassword(p string) string {
	if p == "" {
		return ""
	}
	return redacted
}

// redactURL hides credentials a URL should not carry but may, in a config New refuses.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "[unparsable URL]"
	}
	if u.User != nil {
		u.User = url.User("redacted")
	}
	if u.RawQuery != "" {
		u.RawQuery = "redacted"
	}
	if u.Fragment != "" {
		u.Fragment, u.RawFragment = "redacted", ""
	}
	return u.String()
}

// withDefaults validates c and fills in its zero values.
func (c Config) withDefaults() (Config, error) {
	if err := checkURL(c.URL); err != nil {
		return c, fmt.Errorf("%w: URL: %w", ErrInvalidConfig, err)
	}
	if err := c.checkCredentials(); err != nil {
		return c, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}

	switch {
	case c.Timeout < 0:
		return c, fmt.Errorf("%w: negative Timeout %v", ErrInvalidConfig, c.Timeout)
	case c.Timeout == 0:
		c.Timeout = DefaultTimeout
	}
	switch {
	case c.MaxResponse < 0 || c.MaxResponse > maxMaxResponse:
		return c, fmt.Errorf("%w: MaxResponse %d outside 0 to %d",
			ErrInvalidConfig, c.MaxResponse, maxMaxResponse)
	case c.MaxResponse == 0:
		c.MaxResponse = DefaultMaxResponse
	}
	return c, nil
}

// checkURL accepts http or https with a host and a port, and nothing else. Its errors never
// quote the URL, which may hold a secret.
func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		if urlErr, ok := errors.AsType[*url.Error](err); ok {
			err = urlErr.Err
		}
		return fmt.Errorf("does not parse: %w", err)
	}

	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return errors.New("scheme must be http or https")
	case u.Opaque != "":
		return errors.New("must be scheme://host:port")
	case u.User != nil:
		return errors.New("must not carry credentials; use User and Password or CookieFile")
	case u.RawQuery != "" || u.ForceQuery:
		return errors.New("must not carry a query")
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return errors.New("must not carry a fragment")
	case u.Path != "" && u.Path != "/":
		return errors.New("must not carry a path")
	}

	host, port, err := net.SplitHostPort(u.Host)
	if err != nil || host == "" {
		return errors.New("must name a host and a port")
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
		return errors.New("port must be 1 to 65535")
	}
	return nil
}

// checkCredentials requires exactly one way of logging in.
func (c Config) checkCredentials() error {
	hasUser := c.User != "" || c.Password != ""
	switch {
	case c.CookieFile != "" && hasUser:
		return errors.New("set CookieFile or User and Password, not both")
	case c.CookieFile != "":
		return nil
	case c.User == "" || c.Password == "":
		return errors.New("set CookieFile, or both User and Password")
	case strings.Contains(c.User, ":"):
		return errors.New("User may not contain ':'")
	}
	return nil
}

// credentials is one user and password pair, replaced whole when the cookie changes.
type credentials struct {
	user, password string
}

// readCookie reads a cookie file. Its errors never quote the contents.
func readCookie(path string) (*credentials, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read cookie: %w", err)
	}
	defer f.Close()

	data, err := io.ReadAll(io.LimitReader(f, maxCookieSize+1))
	if err != nil {
		return nil, fmt.Errorf("read cookie %s: %w", path, err)
	}
	if len(data) > maxCookieSize {
		return nil, fmt.Errorf("read cookie %s: larger than %d bytes", path, maxCookieSize)
	}

	user, password, ok := strings.Cut(strings.TrimSpace(string(data)), ":")
	if !ok || user == "" || password == "" {
		return nil, fmt.Errorf("read cookie %s: not user:password", path)
	}
	return &credentials{user: user, password: password}, nil
}
