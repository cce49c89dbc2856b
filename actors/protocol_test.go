package actors_test

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/whalecast/whalecast/actors"
)

// docTable returns the first column of each row of the table under heading in
// docs/protocol.md, mapped to the row's second column.
func docTable(tb testing.TB, heading string) map[string]string {
	tb.Helper()
	doc, err := os.ReadFile("../docs/protocol.md")
	if err != nil {
		tb.Fatalf("read the protocol document: %v", err)
	}
	_, section, ok := strings.Cut(string(doc), "\n"+heading+"\n")
	if !ok {
		tb.Fatalf("docs/protocol.md has no %q section", heading)
	}
	if next := strings.Index(section, "\n## "); next >= 0 {
		section = section[:next]
	}
	row := regexp.MustCompile("(?m)^\\| `?([^|`]+?)`? \\| ([^|]+) \\|")
	out := map[string]string{}
	for _, m := range row.FindAllStringSubmatch(section, -1) {
		if m[1] == "code" || strings.HasPrefix(m[1], "---") {
			continue
		}
		out[m[1]] = m[2]
	}
	if len(out) == 0 {
		tb.Fatalf("the %q section has no table rows", heading)
	}
	return out
}

func TestCloseCodesMatchProtocol(t *testing.T) {
	t.Parallel()
	documented := docTable(t, "## Close codes")
	tests := []struct {
		name    string
		got     int
		want    string
		meaning string // words the documented meaning holds
	}{
		{"CloseNormal", actors.CloseNormal, "1000", "normal close"},
		{"CloseGoingAway", actors.CloseGoingAway, "1001", "shutting down"},
		{"CloseMessageTooBig", actors.CloseMessageTooBig, "1009", "over 4 KiB"},
		{"CloseInternalError", actors.CloseInternalError, "1011", "failed inside the engine"},
		{"CloseMalformed", actors.CloseMalformed, "4000", "not a well-formed auth"},
		{"CloseAuthTimeout", actors.CloseAuthTimeout, "4001", "auth timeout"},
		{"CloseAuthFailed", actors.CloseAuthFailed, "4003", "authentication failed"},
		{"CloseRateLimitAbused", actors.CloseRateLimitAbused, "4008", "rate limit"},
		{"CloseSlowConsumer", actors.CloseSlowConsumer, "4009", "slow consumer"},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := strconv.Itoa(tt.got); got != tt.want {
				t.Errorf("%s = %s, want %s", tt.name, got, tt.want)
			}
			meaning, ok := documented[tt.want]
			if !ok {
				t.Fatalf("docs/protocol.md does not list %s", tt.want)
			}
			if !strings.Contains(meaning, tt.meaning) {
				t.Errorf("docs/protocol.md says %s means %q, want it to mention %q", tt.want,
					meaning, tt.meaning)
			}
		})
		seen[tt.want] = true
	}
	for code := range documented {
		if !seen[code] {
			t.Errorf("docs/protocol.md lists close code %s, which has no constant here", code)
		}
	}
}

func TestErrorCodesMatchProtocol(t *testing.T) {
	t.Parallel()
	documented := docTable(t, "## Errors that keep the connection open")
	tests := []struct {
		name string
		got  string
		want string
	}{
		{"ErrCodeBadRequest", actors.ErrCodeBadRequest, "bad_request"},
		{"ErrCodeForbidden", actors.ErrCodeForbidden, "forbidden"},
		{"ErrCodeRateLimited", actors.ErrCodeRateLimited, "rate_limited"},
		{"ErrCodeRefreshTooEarly", actors.ErrCodeRefreshTooEarly, "refresh_too_early"},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %q, want %q", tt.name, tt.got, tt.want)
		}
		if _, ok := documented[tt.want]; !ok {
			t.Errorf("docs/protocol.md does not list error code %q", tt.want)
		}
		seen[tt.want] = true
	}
	for code := range documented {
		if !seen[code] {
			t.Errorf("docs/protocol.md lists error code %q, which has no constant here", code)
		}
	}
}

func TestProtocolLimits(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		got, want int
	}{
		{"MaxClientMessage is 4 KiB", actors.MaxClientMessage, 4 << 10},
		{"MaxBTC is the supply", actors.MaxBTC, 21_000_000},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: got %d, want %d", tt.name, tt.got, tt.want)
		}
	}
}
