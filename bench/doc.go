// Package bench holds Whalecast's Go benchmarks (this package's _test.go files) and, later,
// its load tools. Benchmarks measure; they assert nothing about speed. Results, with the
// machine, the Go version and the command that produced them, are in bench/README.md.
package bench
