package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/whalecast/whalecast/internal/auth"
	"github.com/whalecast/whalecast/system"
)

// envRPCPassword holds the password of --rpc-user when --rpc-password-file is not given.
const envRPCPassword = "WHALECAST_RPC_PASSWORD"

// rpcFlags adds the flags of the node's JSON-RPC client. No flag takes the password
// itself: a command line shows in ps and in shell history.
func rpcFlags(fs *flag.FlagSet, cfg *system.Config) *string {
	fs.StringVar(&cfg.RPC, "rpc", "",
		"Bitcoin Core JSON-RPC `URL`, e.g. http://127.0.0.1:8332, for fees and for resyncs "+
			"after a gap in the ZMQ feed (needs --source zmq:...)")
	fs.StringVar(&cfg.RPCCookieFile, "rpc-cookie-file", "",
		"`path` of the node's .cookie file, to log in to --rpc")
	fs.StringVar(&cfg.RPCUser, "rpc-user", "",
		"RPC `user`, instead of --rpc-cookie-file; its password comes from "+
			"--rpc-password-file or "+envRPCPassword)
	return fs.String("rpc-password-file", "",
		"`file` whose first line is the password of --rpc-user (mode 0600)")
}

// readRPCPassword fills cfg.RPCPassword from the file named by --rpc-password-file or,
// without it, from the environment. Its errors never quote the file's contents.
func readRPCPassword(cfg *system.Config, path string) error {
	if path == "" {
		cfg.RPCPassword = system.Redacted(os.Getenv(envRPCPassword))
		return nil
	}

	// The same rules as every other secret file: regular, at most 4 KiB, no access for
	// group or others; the first line is the password.
	data, err := auth.ReadCredentialFile(path, "rpc password")
	if err != nil {
		return fmt.Errorf("%w: --rpc-password-file: %v", errUsage, err)
	}
	line, _, _ := strings.Cut(string(data), "\n")
	line = strings.TrimRight(line, "\r")
	clear(data)
	if line == "" {
		return fmt.Errorf("%w: --rpc-password-file %s: the first line is empty", errUsage,
			path)
	}
	cfg.RPCPassword = system.Redacted(line)
	return nil
}
