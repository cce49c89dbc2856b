package load

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
)

// errNoRSS reports a /proc status file without a VmRSS line.
var errNoRSS = errors.New("load: no VmRSS in the process status")

// readRSS returns the resident memory of process pid in bytes, from /proc (Linux).
func readRSS(pid int) (uint64, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, fmt.Errorf("load: read memory of process %d: %w", pid, err)
	}
	return parseRSS(data)
}

// parseRSS reads the VmRSS line of a /proc/PID/status file ("VmRSS:  1234 kB").
func parseRSS(status []byte) (uint64, error) {
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		rest, ok := bytes.CutPrefix(sc.Bytes(), []byte("VmRSS:"))
		if !ok {
			continue
		}
		fields := bytes.Fields(rest)
		if len(fields) != 2 || string(fields[1]) != "kB" {
			return 0, errNoRSS
		}
		kb, err := strconv.ParseUint(string(fields[0]), 10, 64)
		if err != nil {
			return 0, errNoRSS
		}
		return kb << 10, nil
	}
	return 0, errNoRSS
}
