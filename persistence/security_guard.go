package persistence

import (
	"encoding/base64"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// redactedText replaces a field that RedactAuditEvent cannot keep.
const redactedText = "[redacted]"

// textProblem says why s may not be stored as a text field of at most maxLen bytes, or
// returns "" when it may. secret is set when s looks like a token or an API key, which is
// checked first, so that a secret is reported as one whatever else is wrong. The problem
// never quotes s.
func textProblem(s string, maxLen int) (problem string, secret bool) {
	switch {
	case looksSecret(s):
		return "looks like a token or api key", true
	case len(s) > maxLen:
		return fmt.Sprintf("is %d bytes, over %d", len(s), maxLen), false
	case !utf8.ValidString(s):
		return "is not valid UTF-8", false
	case !printable(s):
		return "holds a control or format character", false
	}
	return "", false
}

// printable reports whether every rune of s is a letter, mark, number, punctuation, symbol
// or the ASCII space. Line breaks, other controls and invisible format characters (which
// can forge or hide text when an audit line is shown) are not.
func printable(s string) bool {
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// looksSecret reports whether s contains something shaped like an API key or a JWT.
func looksSecret(s string) bool {
	return hasAPIKeyPrefix(s) || hasJWT(s)
}

// hasAPIKeyPrefix reports whether s contains APIKeyPrefix in any letter case. It refuses
// the prefix alone too: a cut or mangled key is still a key.
func hasAPIKeyPrefix(s string) bool {
	for i := 0; i+len(APIKeyPrefix) <= len(s); i++ {
		if asciiEqualFold(s[i:i+len(APIKeyPrefix)], APIKeyPrefix) {
			return true
		}
	}
	return false
}

func asciiEqualFold(a, b string) bool {
	for i := range len(a) {
		if lowerASCII(a[i]) != lowerASCII(b[i]) {
			return false
		}
	}
	return true
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// hasJWT reports whether s holds a token in compact form: a run of base64url characters
// and dots in which a segment that decodes to a JSON object is followed by a non-empty
// segment, or by two dots. Every JWS and JWE has that shape (header.payload, and
// payload.signature too), whatever its algorithm: alg none with its empty signature, a JWE
// without an encrypted key, a JWT with its header cut off. Dotted words such as host names
// and versions do not decode to JSON and pass.
func hasJWT(s string) bool {
	for s != "" {
		i := 0
		for i < len(s) && !isTokenByte(s[i]) {
			i++
		}
		j := i
		for j < len(s) && isTokenByte(s[j]) {
			j++
		}
		if runHasJWT(s[i:j]) {
			return true
		}
		s = s[j:]
	}
	return false
}

// runHasJWT applies hasJWT's rule to one run of base64url characters and dots.
func runHasJWT(run string) bool {
	for {
		seg, rest, found := strings.Cut(run, ".")
		if !found {
			return false
		}
		if isJSONObject64(seg) {
			next, _, twoDots := strings.Cut(rest, ".")
			if next != "" || twoDots {
				return true
			}
		}
		run = rest
	}
}

func isTokenByte(c byte) bool { return c == '.' || isBase64URL(c) }

func isBase64URL(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '_'
}

// isJSONObject64 reports whether seg, read as unpadded base64url, starts with the opening
// of a JSON object with a member: '{' and '"', with optional JSON whitespace around '{'.
// Only the first 64 characters are decoded.
func isJSONObject64(seg string) bool {
	if len(seg) > 64 {
		seg = seg[:64]
	}
	if len(seg)%4 == 1 {
		seg = seg[:len(seg)-1]
	}
	var src [64]byte
	var buf [48]byte
	n, err := base64.RawURLEncoding.Decode(buf[:], src[:copy(src[:], seg)])
	if err != nil {
		return false
	}

	rest := strings.TrimLeft(string(buf[:n]), " \t\r\n")
	if !strings.HasPrefix(rest, "{") {
		return false
	}
	rest = strings.TrimLeft(rest[1:], " \t\r\n")
	return strings.HasPrefix(rest, `"`)
}

// redactText turns s into a field of at most maxLen bytes that textProblem accepts: a value
// that looks like a token or an API key becomes "[redacted]", invalid UTF-8 and characters
// that are not printable become '?', and the rest is cut at maxLen bytes on a rune boundary.
func redactText(s string, maxLen int) string {
	if looksSecret(s) {
		return redactedText
	}

	s = strings.ToValidUTF8(s, "?")
	s = strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return '?'
	}, s)
	if len(s) > maxLen {
		cut := maxLen
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut]
	}
	if looksSecret(s) {
		return redactedText
	}
	return s
}
