package btcdtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	// Module is the module path whose test data the helpers return.
	Module = "github.com/btcsuite/btcd"
	// Version is the pinned version of Module.
	Version = "v0.26.2"
	// downloadTimeout bounds the go command; a cold download of btcd takes seconds.
	downloadTimeout = 3 * time.Minute
)

// locate runs the go command at most once per process.
var locate = sync.OnceValues(func() (string, error) {
	return download(context.Background(), "go")
})

// Dir returns the directory of Module at Version in the module cache, downloading it the
// first time if needed. It fails tb if the go command cannot provide it.
func Dir(tb testing.TB) string {
	tb.Helper()
	dir, err := locate()
	if err != nil {
		tb.Fatalf("btcdtest: cannot locate %s@%s: %v", Module, Version, err)
	}
	return dir
}

// Block277647 returns the path of blockchain/testdata/277647.dat.bz2: mainnet block
// 277647 (213 transactions) as one bzip2-compressed blk record.
func Block277647(tb testing.TB) string {
	tb.Helper()
	return file(tb, "blockchain/testdata/277647.dat.bz2")
}

// EarlyChain returns the path of blockchain/testdata/blk_0_to_14131.dat: mainnet blocks
// 0 to 14131 as blk records, zero-padded to 16 MiB like a file Bitcoin Core preallocated.
func EarlyChain(tb testing.TB) string {
	tb.Helper()
	return file(tb, "blockchain/testdata/blk_0_to_14131.dat")
}

func file(tb testing.TB, rel string) string {
	tb.Helper()
	path := filepath.Join(Dir(tb), filepath.FromSlash(rel))
	if _, err := os.Stat(path); err != nil {
		tb.Fatalf("btcdtest: %s@%s has no %s: %v", Module, Version, rel, err)
	}
	return path
}

// download asks the go command (goCmd) where the module lives.
func download(ctx context.Context, goCmd string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, downloadTimeout)
	defer cancel()

	tmp, err := os.MkdirTemp("", "btcdtest-")
	if err != nil {
		return "", fmt.Errorf("make work dir: %w", err)
	}
	defer os.RemoveAll(tmp)

	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, goCmd, "mod", "download", "-json", Module+"@"+Version)
	cmd.Dir = tmp
	cmd.Env = append(os.Environ(), "GO111MODULE=on", "GOWORK=off")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	if ctx.Err() != nil {
		return "", fmt.Errorf("go mod download: no answer within %v: %w",
			downloadTimeout, ctx.Err())
	}

	dir, parseErr := parseDownload(stdout.Bytes())
	if runErr != nil || parseErr != nil {
		return "", fmt.Errorf("go mod download: %w (stderr: %q)",
			errors.Join(runErr, parseErr), strings.TrimSpace(stderr.String()))
	}
	return dir, nil
}

// parseDownload reads the JSON that `go mod download -json` prints for one module.
func parseDownload(out []byte) (string, error) {
	var m struct {
		Path  string
		Dir   string
		Error string
	}
	if err := json.Unmarshal(out, &m); err != nil {
		return "", fmt.Errorf("parse output %q: %w", out, err)
	}
	if m.Error != "" {
		return "", errors.New(m.Error)
	}
	if m.Dir == "" {
		return "", fmt.Errorf("output names no Dir for %q", m.Path)
	}
	return m.Dir, nil
}
