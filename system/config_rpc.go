package system

import (
	"fmt"
	"log/slog"

	"github.com/whalecast/whalecast/actors"
	"github.com/whalecast/whalecast/internal/corerpc"
)

// redactedText stands for a secret in fmt, logs and JSON.
const redactedText = "[redacted]"

// Redacted is a secret string, such as a password: fmt, slog and encoders show
// "[redacted]" instead (nothing when it is empty). Convert it to string to use it.
type Redacted string

// String hides the secret.
func (r Redacted) String() string {
	if r == "" {
		return ""
	}
	return redactedText
}

// GoString hides the secret from %#v too.
func (r Redacted) GoString() string { return r.String() }

// LogValue hides the secret from slog.
func (r Redacted) LogValue() slog.Value { return slog.StringValue(r.String()) }

// MarshalText hides the secret from encoders.
func (r Redacted) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// RPCConfig returns the configuration of the node's JSON-RPC client.
func (c Config) RPCConfig() corerpc.Config {
	return corerpc.Config{URL: c.RPC, CookieFile: c.RPCCookieFile, User: c.RPCUser,
		Password: string(c.RPCPassword)}
}

// validateRPC checks the RPC settings: --rpc goes with a zmq source and exactly one way to
// log in, and the client accepts them (its URL, the cookie file readable).
func (c Config) validateRPC() error {
	kind, _, _ := ParseSource(c.Source)
	hasLogin := c.RPCCookieFile != "" || c.RPCUser != "" || c.RPCPassword != ""
	switch {
	case c.RPC == "" && hasLogin:
		return fmt.Errorf("%w: --rpc-cookie-file, --rpc-user and the RPC password need --rpc",
			ErrConfig)
	case c.RPC == "":
		return nil
	case kind != "zmq":
		return fmt.Errorf("%w: --rpc needs --source zmq:tcp://HOST:PORT (the node's RPC "+
			"serves the live feed's fees and resyncs)", ErrConfig)
	case c.RPCCookieFile != "" && (c.RPCUser != "" || c.RPCPassword != ""):
		return fmt.Errorf("%w: give --rpc-cookie-file or --rpc-user, not both", ErrConfig)
	case c.RPCCookieFile == "" && c.RPCUser == "":
		return fmt.Errorf("%w: --rpc needs --rpc-cookie-file, or --rpc-user with a password",
			ErrConfig)
	case c.RPCUser != "" && c.RPCPassword == "":
		return fmt.Errorf("%w: --rpc-user needs a password (--rpc-password-file or "+
			"WHALECAST_RPC_PASSWORD)", ErrConfig)
	}
	if _, err := corerpc.New(c.RPCConfig()); err != nil {
		return fmt.Errorf("%w: --rpc: %w", ErrConfig, err)
	}
	return nil
}

// rpcNode returns the node's JSON-RPC client for a zmq feed, or nil without --rpc.
func (c Config) rpcNode() (actors.CoreNode, error) {
	if c.RPC == "" {
		return nil, nil
	}
	client, err := corerpc.New(c.RPCConfig())
	if err != nil {
		return nil, fmt.Errorf("%w: --rpc: %w", ErrConfig, err)
	}
	return client, nil
}

// rpcLogValue shows the RPC settings with the password redacted, or nothing without RPC.
func (c Config) rpcLogValue() slog.Value {
	if c.RPC == "" && c.RPCCookieFile == "" && c.RPCUser == "" {
		return slog.StringValue("")
	}
	return c.RPCConfig().LogValue()
}
