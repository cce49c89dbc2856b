package transport

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/whalecast/whalecast/persistence"
)

// credentialParams are query parameter names that would carry a credential in a URL. URLs
// end up in proxy and access logs, so a request that uses one is refused and audited.
var credentialParams = map[string]bool{
	"token": true, "access_token": true, "jwt": true, "api_key": true, "apikey": true,
	"key": true,
}

// Reasons of auth_failure audit events that the HTTP layer adds to the verifier's.
const (
	reasonTokenInURL         = "token_in_url"
	reasonMissingCredentials = "missing_credentials"
	reasonMalformed          = "malformed"
	reasonUnknownAPIKey      = "unknown_api_key"
	reasonRevoked            = "revoked"
)

// urlCredential reports whether a raw query carries something that looks like a credential:
// a parameter named like one, or a value shaped like a JWT or an API key. It reads what it
// can of a malformed query, so that a broken query cannot hide a token.
func urlCredential(rawQuery string) bool {
	if rawQuery == "" {
		return false
	}
	for part := range strings.SplitSeq(rawQuery, "&") {
		name, value, _ := strings.Cut(part, "=")
		if n, err := url.QueryUnescape(name); err == nil {
			name = n
		}
		if v, err := url.QueryUnescape(value); err == nil {
			value = v
		}
		if credentialParams[strings.ToLower(strings.TrimSpace(name))] || looksSecret(value) {
			return true
		}
	}
	return false
}

// looksSecret reports whether s is shaped like a JWT or a Whalecast API key.
func looksSecret(s string) bool {
	s = strings.TrimSpace(s)
	return strings.HasPrefix(s, persistence.APIKeyPrefix) ||
		(strings.HasPrefix(s, "eyJ") && strings.Count(s, ".") == 2)
}

// errQuery is what parseQuery returns for a query it refuses; its text is for the client.
type errQuery string

func (e errQuery) Error() string { return string(e) }

// parseQuery parses a query strictly: only the names in allowed, each at most once and with
// a value. It returns the values by name.
func parseQuery(rawQuery string, allowed ...string) (map[string]string, error) {
	values, err := url.ParseQuery(rawQuery)
	if err != nil {
		return nil, errQuery("the query string is malformed")
	}
	out := make(map[string]string, len(values))
	for name, vs := range values {
		if !slices.Contains(allowed, name) {
			return nil, errQuery("unknown query parameter " + strconv.QuoteToASCII(clip(name)))
		}
		if len(vs) != 1 {
			return nil, errQuery("query parameter " + name + " is given more than once")
		}
		if vs[0] == "" {
			return nil, errQuery("query parameter " + name + " is empty")
		}
		out[name] = vs[0]
	}
	return out, nil
}

// clip shortens client text quoted back in an error message.
func clip(s string) string {
	const maxQuoted = 32
	if len(s) > maxQuoted {
		return s[:maxQuoted] + "..."
	}
	return s
}

// maxUintDigits is the number of decimal digits of the largest uint64.
const maxUintDigits = 20

// parseUintParam parses an unsigned decimal integer: digits only, no sign, no spaces. It
// returns def when s is empty.
func parseUintParam(s string, def uint64) (uint64, bool) {
	if s == "" {
		return def, true
	}
	if len(s) > maxUintDigits {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, false
	}
	return n, true
}

// credentialKind says which header a request authenticates with.
type credentialKind uint8

const (
	credNone credentialKind = iota
	credBearer
	credAPIKey
)

// credential is what a request presents: a Bearer token or an API key. Its value is never
// logged or audited.
type credential struct {
	kind  credentialKind
	value string
}

// errCredential means the credential headers are malformed: several of them, another scheme
// than Bearer, or an empty value.
var errCredential = errors.New("transport: malformed credentials")

// requestCredential reads the Authorization (Bearer) or X-API-Key header. A request may
// carry one credential, in one header line.
func requestCredential(h http.Header) (credential, error) {
	authz, keys := h.Values("Authorization"), h.Values("X-API-Key")
	switch {
	case len(authz) == 0 && len(keys) == 0:
		return credential{}, nil
	case len(authz)+len(keys) > 1:
		return credential{}, errCredential
	case len(keys) == 1:
		key := strings.TrimSpace(keys[0])
		if key == "" {
			return credential{}, errCredential
		}
		return credential{kind: credAPIKey, value: key}, nil
	}
	scheme, tok, ok := strings.Cut(strings.TrimSpace(authz[0]), " ")
	tok = strings.TrimSpace(tok)
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return credential{}, errCredential
	}
	return credential{kind: credBearer, value: tok}, nil
}

// validAPIKeyID reports whether id may name an API key: 1 to MaxAPIKeyIDLen bytes of
// letters, digits, '-' and '_'.
func validAPIKeyID(id string) bool {
	if id == "" || len(id) > persistence.MaxAPIKeyIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '-' || c == '_') {
			return false
		}
	}
	return true
}
