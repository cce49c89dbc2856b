package bitcoin

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
)

// ExpandPaths turns a replay spec into file paths. spec is a comma-separated list of
// paths, each of which may be a filepath.Match glob ("blocks/blk0000[0-3].dat,extra.hex").
// The matches of each glob are sorted by name and the globs keep their order; a file
// matched twice is listed twice. Entries are trimmed of spaces and blank ones skipped. It
// is an error, wrapping ErrNoMatch, if the spec is blank or an entry matches nothing, so a
// typo never turns into a silently empty replay.
func ExpandPaths(spec string) ([]string, error) {
	var paths []string
	for entry := range strings.SplitSeq(spec, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		matches, err := filepath.Glob(entry)
		if err != nil {
			return nil, fmt.Errorf("bitcoin: expand %q: %w", entry, err)
		}
		if len(matches) == 0 {
			return nil, fmt.Errorf("bitcoin: expand %q: %w", entry, ErrNoMatch)
		}
		slices.Sort(matches)
		paths = append(paths, matches...)
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("bitcoin: expand %q: empty spec: %w", spec, ErrNoMatch)
	}
	return paths, nil
}
