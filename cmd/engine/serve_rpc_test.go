package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// rpcSecret is a password that must never show on stdout, stderr or in --help.
const rpcSecret = "rpc-secret-5c9e-never-shown"

// writeFile writes data to name in a per-test directory and returns its path.
func writeFile(tb testing.TB, name, data string) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), name)
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}

func TestServeRPCFlags(t *testing.T) {
	cookie := writeFile(t, ".cookie", "__cookie__:"+rpcSecret)
	zmq := []string{"--source", "zmq:tcp://127.0.0.1:28332", "--rpc", "http://127.0.0.1:8332"}
	tests := []struct {
		name         string
		args         []string
		env          string
		wantCookie   string
		wantUser     string
		wantPassword string
	}{
		{name: "no rpc"},
		{name: "cookie", args: append(zmq, "--rpc-cookie-file", cookie), wantCookie: cookie},
		{name: "password file", args: append(zmq, "--rpc-user", "whale",
			"--rpc-password-file", writeFile(t, "pw", rpcSecret+"\r\nsecond line\n")),
			wantUser: "whale", wantPassword: rpcSecret},
		{name: "password from the environment", args: append(zmq, "--rpc-user", "whale"),
			env: rpcSecret, wantUser: "whale", wantPassword: rpcSecret},
		{name: "the file wins over the environment", args: append(zmq, "--rpc-user", "whale",
			"--rpc-password-file", writeFile(t, "pw", rpcSecret)), env: "other",
			wantUser: "whale", wantPassword: rpcSecret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			t.Setenv(envRPCPassword, tt.env)
			cfg, err := serveFlags(tt.args, io.Discard)
			if err != nil {
				t.Fatalf("serveFlags: %v", err)
			}
			if err := cfg.Validate(); err != nil {
				t.Fatalf("validate: %v", err)
			}
			if cfg.RPCCookieFile != tt.wantCookie || cfg.RPCUser != tt.wantUser ||
				string(cfg.RPCPassword) != tt.wantPassword {
				t.Errorf("cookie %q user %q password set %v, want %q %q %v",
					cfg.RPCCookieFile, cfg.RPCUser, cfg.RPCPassword != "", tt.wantCookie,
					tt.wantUser, tt.wantPassword != "")
			}
		})
	}
}

func TestServeRPCRefusals(t *testing.T) {
	cookie := writeFile(t, ".cookie", "__cookie__:"+rpcSecret)
	empty := writeFile(t, "empty", "\nsecond line\n")
	tests := []struct {
		name       string
		args       []string
		env        string
		wantStderr string
	}{
		{"rpc with a replay source", []string{"--rpc", "http://127.0.0.1:8332",
			"--rpc-cookie-file", cookie}, "", "--rpc needs --source zmq:"},
		{"rpc without a scheme", []string{"--source", "zmq:tcp://127.0.0.1:28332", "--rpc",
			"127.0.0.1:8332", "--rpc-cookie-file", cookie}, "", "--rpc"},
		{"rpc with a path", []string{"--source", "zmq:tcp://127.0.0.1:28332", "--rpc",
			"http://127.0.0.1:8332/wallet", "--rpc-cookie-file", cookie}, "",
			"must not carry a path"},
		{"user without a password", []string{"--source", "zmq:tcp://127.0.0.1:28332",
			"--rpc", "http://127.0.0.1:8332", "--rpc-user", "whale"}, "",
			"--rpc-user needs a password"},
		{"missing password file", []string{"--source", "zmq:tcp://127.0.0.1:28332",
			"--rpc", "http://127.0.0.1:8332", "--rpc-user", "whale", "--rpc-password-file",
			filepath.Join(t.TempDir(), "none")}, rpcSecret, "--rpc-password-file"},
		{"empty password file", []string{"--source", "zmq:tcp://127.0.0.1:28332",
			"--rpc", "http://127.0.0.1:8332", "--rpc-user", "whale", "--rpc-password-file",
			empty}, "", "first line is empty"},
		{"cookie and user", []string{"--source", "zmq:tcp://127.0.0.1:28332", "--rpc",
			"http://127.0.0.1:8332", "--rpc-cookie-file", cookie, "--rpc-user", "whale"},
			rpcSecret, "not both"},
		{"password in the url", []string{"--source", "zmq:tcp://127.0.0.1:28332", "--rpc",
			"http://whale:" + rpcSecret + "@127.0.0.1:8332", "--rpc-user", "whale"},
			rpcSecret, "must not carry credentials"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			t.Setenv(envRPCPassword, tt.env)
			// A command line wrongly accepted fails on the missing TLS files instead of
			// serving.
			missing := filepath.Join(t.TempDir(), "missing")
			args := append([]string{"serve", "--addr", "127.0.0.1:0", "--data", t.TempDir(),
				"--source", "replay:" + missing + ".dat", "--tls-cert", missing + ".pem",
				"--tls-key", missing + ".key"}, tt.args...)
			code, stdout, stderr := runCmd(t, args...)
			if code != 2 {
				t.Errorf("exit code %d, want 2 (stderr ends %q)", code, lastLine(stderr))
			}
			if !strings.Contains(stderr, tt.wantStderr) {
				t.Errorf("stderr %q, want it to mention %q", stderr, tt.wantStderr)
			}
			if strings.Contains(stdout+stderr, rpcSecret) {
				t.Errorf("the output shows the password: %q", stdout+stderr)
			}
		})
	}
}

func TestServeRPCHelp(t *testing.T) {
	clearEnv(t)
	t.Setenv(envRPCPassword, rpcSecret)
	code, _, stderr := runCmd(t, "serve", "--help")
	if code != 0 {
		t.Fatalf("exit code %d, want 0", code)
	}
	for _, want := range []string{"-rpc URL", "-rpc-cookie-file", "-rpc-user",
		"-rpc-password-file", envRPCPassword, "-zmqpubrawblock"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("--help does not mention %q", want)
		}
	}
	if strings.Contains(stderr, rpcSecret) {
		t.Errorf("--help shows the password from the environment")
	}
}
