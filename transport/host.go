package transport

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
)

// hostList is the set of Host header values the engine serves when its Host check is on:
// localhost and loopback IP literals always, with any port, and the --allowed-hosts entries.
// An entry without a port allows its name with any port; one with a port allows only that.
type hostList struct {
	names map[string]bool // lower-case names, any port
	exact map[string]bool // lower-case host:port
}

// CheckHosts validates an --allowed-hosts list: each entry is a host name or an IP address,
// optionally with :port (an IPv6 address with a port in brackets), and nothing else: no
// scheme, path, user or wildcard.
func CheckHosts(hosts []string) error {
	for _, h := range hosts {
		if _, _, ok := splitHost(h); !ok {
			return fmt.Errorf("host %q: want a name or IP address, optionally with :port", h)
		}
	}
	return nil
}

// newHostList builds the list from entries checked by CheckHosts; others are skipped.
func newHostList(hosts []string) hostList {
	l := hostList{names: map[string]bool{}, exact: map[string]bool{}}
	for _, h := range hosts {
		name, port, ok := splitHost(h)
		switch {
		case !ok:
		case port == "":
			l.names[name] = true
		default:
			l.exact[net.JoinHostPort(name, port)] = true
		}
	}
	return l
}

// allows reports whether a request's Host header names this machine's loopback or an
// allowed host.
func (l hostList) allows(host string) bool {
	name, port, ok := splitHost(host)
	switch {
	case !ok:
		return false
	case name == "localhost" || l.names[name]:
		return true
	case port != "" && l.exact[net.JoinHostPort(name, port)]:
		return true
	}
	a, err := netip.ParseAddr(name)
	return err == nil && a.Unmap().IsLoopback()
}

// splitHost splits a Host header value (or an --allowed-hosts entry) into its lower-case
// name and its port, empty when absent. It refuses an empty name, a port that is not a
// number from 1 to 65535, and any character a host name or an IP literal does not hold.
func splitHost(s string) (name, port string, ok bool) {
	s = strings.ToLower(s)
	bracketed := strings.HasPrefix(s, "[")
	switch {
	case bracketed && strings.HasSuffix(s, "]"):
		name = s[1 : len(s)-1]
	case bracketed || strings.Count(s, ":") == 1:
		h, p, err := net.SplitHostPort(s)
		if err != nil {
			return "", "", false
		}
		name, port = h, p
	default:
		name = s
	}
	if port != "" {
		if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
			return "", "", false
		}
	}
	if a, err := netip.ParseAddr(name); err == nil {
		return name, port, a.Zone() == "" && (!bracketed || a.Is6())
	}
	if bracketed || name == "" ||
		strings.Trim(name, "abcdefghijklmnopqrstuvwxyz0123456789.-") != "" {
		return "", "", false
	}
	return name, port, true
}

// isLoopbackListener reports whether ln accepts connections on a loopback address only.
func isLoopbackListener(ln net.Listener) bool {
	addr, ok := ln.Addr().(*net.TCPAddr)
	return ok && addr.IP.IsLoopback()
}

// checkHost wraps the routes: while the Host check is on (see Serve), a request whose Host
// header names neither this machine's loopback nor an allowed host is answered 421 and
// goes no further. Against DNS rebinding: a page of attacker.example whose name was made to
// resolve to 127.0.0.1 reaches the engine, but its browser still sends Host:
// attacker.example.
func (s *Server) checkHost(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.hostCheck.Load() && !s.hosts.allows(r.Host) {
			s.cfg.Logger.Debug("request for a foreign host refused",
				"remote", peerAddr(r.RemoteAddr).String())
			writeError(w, http.StatusMisdirectedRequest, "misdirected_request",
				"this engine does not answer for that host name")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// trustedHost reports whether a request's Host may stand for the engine's own origin: any
// Host while the check is off, else only one the check lets through.
func (s *Server) trustedHost(host string) bool {
	return !s.hostCheck.Load() || s.hosts.allows(host)
}
