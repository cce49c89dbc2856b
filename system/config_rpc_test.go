package system_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/whalecast/whalecast/system"
)

// testRPCPassword is a password that must never show in errors, logs or fmt output.
const testRPCPassword = "rpc-pass-7b1f-never-shown"

// rpcConfig is a valid configuration with a zmq source and the RPC settings edit makes.
func rpcConfig(tb testing.TB, edit func(c *system.Config)) system.Config {
	tb.Helper()
	cfg := system.DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.DataDir = tb.TempDir()
	cfg.Source = "zmq:tcp://127.0.0.1:28332"
	edit(&cfg)
	return cfg
}

func TestConfigRPC(t *testing.T) {
	t.Parallel()
	cookie := filepath.Join(t.TempDir(), ".cookie")
	if err := os.WriteFile(cookie, []byte("__cookie__:"+testRPCPassword), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(t.TempDir(), "no-cookie")
	tests := []struct {
		name    string
		edit    func(c *system.Config)
		wantErr string // "" for a valid configuration
	}{
		{"no rpc", func(c *system.Config) {}, ""},
		{"cookie", func(c *system.Config) {
			c.RPC, c.RPCCookieFile = "http://127.0.0.1:8332", cookie
		}, ""},
		{"user and password", func(c *system.Config) {
			c.RPC, c.RPCUser, c.RPCPassword = "https://node.lan:8332", "whale", testRPCPassword
		}, ""},
		{"rpc with a replay source", func(c *system.Config) {
			c.Source, c.RPC, c.RPCCookieFile = "replay:x.dat", "http://127.0.0.1:8332", cookie
		}, "--rpc needs --source zmq:"},
		{"rpc with the simulator", func(c *system.Config) {
			c.Source, c.RPC, c.RPCCookieFile = "sim", "http://127.0.0.1:8332", cookie
		}, "--rpc needs --source zmq:"},
		{"cookie without rpc", func(c *system.Config) { c.RPCCookieFile = cookie },
			"need --rpc"},
		{"password without rpc", func(c *system.Config) { c.RPCPassword = testRPCPassword },
			"need --rpc"},
		{"no login", func(c *system.Config) { c.RPC = "http://127.0.0.1:8332" },
			"--rpc needs --rpc-cookie-file"},
		{"cookie and user", func(c *system.Config) {
			c.RPC, c.RPCCookieFile, c.RPCUser = "http://127.0.0.1:8332", cookie, "whale"
		}, "not both"},
		{"user without password", func(c *system.Config) {
			c.RPC, c.RPCUser = "http://127.0.0.1:8332", "whale"
		}, "--rpc-user needs a password"},
		{"password without user", func(c *system.Config) {
			c.RPC, c.RPCPassword = "http://127.0.0.1:8332", testRPCPassword
		}, "--rpc needs --rpc-cookie-file"},
		{"missing cookie file", func(c *system.Config) {
			c.RPC, c.RPCCookieFile = "http://127.0.0.1:8332", missing
		}, "read cookie"},
		{"no scheme", func(c *system.Config) {
			c.RPC, c.RPCCookieFile = "127.0.0.1:8332", cookie
		}, "--rpc"},
		{"zmq scheme", func(c *system.Config) {
			c.RPC, c.RPCCookieFile = "tcp://127.0.0.1:8332", cookie
		}, "scheme must be http or https"},
		{"no port", func(c *system.Config) {
			c.RPC, c.RPCCookieFile = "http://127.0.0.1", cookie
		}, "host and a port"},
		{"credentials in the url", func(c *system.Config) {
			c.RPC, c.RPCUser, c.RPCPassword = "http://whale:"+testRPCPassword+"@127.0.0.1:8332",
				"whale", testRPCPassword
		}, "must not carry credentials"},
		{"a path", func(c *system.Config) {
			c.RPC, c.RPCCookieFile = "http://127.0.0.1:8332/wallet/w", cookie
		}, "must not carry a path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := rpcConfig(t, tt.edit).Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate: %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, system.ErrConfig) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate: %v, want an ErrConfig mentioning %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), testRPCPassword) {
				t.Errorf("the error shows the password: %v", err)
			}
		})
	}
}

// TestConfigRPCPasswordHidden prints and logs a configuration with a password in every
// way the engine might: the password never shows.
func TestConfigRPCPasswordHidden(t *testing.T) {
	t.Parallel()
	cfg := rpcConfig(t, func(c *system.Config) {
		c.RPC, c.RPCUser, c.RPCPassword = "http://127.0.0.1:8332", "whale", testRPCPassword
	})
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("config", "config", cfg)
	slog.New(slog.NewTextHandler(&logs, nil)).Info("config", "config", cfg, "password",
		cfg.RPCPassword)
	data, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	outputs := map[string]string{
		"logs": logs.String(), "%v": fmt.Sprintf("%v", cfg), "%+v": fmt.Sprintf("%+v", cfg),
		"%#v": fmt.Sprintf("%#v", cfg), "json": string(data),
		"%s of the password": fmt.Sprintf("%s", cfg.RPCPassword),
	}
	for name, out := range outputs {
		if strings.Contains(out, testRPCPassword) {
			t.Errorf("%s shows the password: %s", name, out)
		}
	}
	if !strings.Contains(logs.String(), "http://127.0.0.1:8332") ||
		!strings.Contains(logs.String(), "[redacted]") {
		t.Errorf("the logs do not show the rpc settings, password redacted: %s", logs.String())
	}
	if got := string(cfg.RPCConfig().Password); got != testRPCPassword {
		t.Errorf("RPCConfig password %q, want the password itself", got)
	}
}
