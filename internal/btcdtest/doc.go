// Package btcdtest finds the real Bitcoin test data that ships inside the btcd module
// (github.com/btcsuite/btcd v0.26.2, ISC licence), so tests can use real mainnet blocks
// without copying them into this repository.
//
// The module is located by running `go mod download -json` once per test process, from a
// temporary directory outside this module so that go.mod and go.sum are never touched.
// The go command serves it from the module cache when it is there and fetches it through
// the configured proxy otherwise. Every helper is safe for concurrent use; a failure to
// locate the module fails the calling test with the go command's own message.
package btcdtest
