// Package bench holds Whalecast's Go benchmarks (this package's _test.go files); its load
// tools are below it: bench/load, the load tool behind `engine bench`; bench/floor, the
// plain broadcaster the engine is compared with; bench/memprobe, which measures the
// engine's memory per idle connection. Benchmarks measure; they assert nothing about
// speed. Results, with the machine, the Go version and the command that produced them, are
// in bench/README.md.
package bench
