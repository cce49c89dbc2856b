package transport

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// CheckOrigins validates an origin allow-list: each entry is "*" or scheme://host[:port]
// with scheme http or https and nothing else.
func CheckOrigins(origins []string) error {
	for _, o := range origins {
		if o == "*" {
			continue
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			u.Path != "" || u.RawQuery != "" || u.User != nil || u.Fragment != "" {
			return fmt.Errorf("origin %q: want scheme://host[:port]", o)
		}
	}
	return nil
}

// originChecker returns the upgrader's CheckOrigin: requests without Origin (not browsers)
// pass, the engine's own origin passes, and so does any origin on the allow-list. Every
// other browser is refused, against cross-site WebSocket hijacking. The own origin is the
// request's Host, which the client chooses: it counts only when trusted says the Host
// names the engine (see Server.trustedHost), so a rebound name is not its own origin.
func originChecker(allowed []string, trusted func(string) bool) func(*http.Request) bool {
	set := map[string]bool{}
	for _, o := range allowed {
		set[strings.ToLower(o)] = true
	}
	return func(r *http.Request) bool {
		origin := r.Header.Get("Origin")
		if origin == "" || set["*"] {
			return true
		}
		u, err := url.Parse(origin)
		if err != nil {
			return false
		}
		if strings.EqualFold(u.Host, r.Host) && trusted(r.Host) {
			return true
		}
		return set[strings.ToLower(origin)]
	}
}
