package auth

import (
	"encoding/base64"
	"strings"
	"testing"
)

// TestVerifyStrictJSON signs hand-written JSON, so that the segments can hold what no JSON
// encoder of a map would write: repeated keys, and time claims as strings.
func TestVerifyStrictJSON(t *testing.T) {
	_, v, clk := newPair(t, 0)
	now := clk.Now().Unix()
	exp := now + 3600
	claims := func(extra string) string {
		return `{"sub":"client-1","perms":["read"],"jti":"0123456789abcdef",` +
			`"iat":` + itoa(now) + `,"exp":` + itoa(exp) + extra + `}`
	}
	header := `{"alg":"HS256","typ":"JWT","kid":"env"}`
	tests := []struct {
		name           string
		header, claims string
		wantOK         bool
	}{
		{"well formed", header, claims(""), true},
		{"repeated sub", header, claims(`,"sub":"admin"`), false},
		{"repeated alg", `{"alg":"HS256","kid":"env","alg":"none"}`, claims(""), false},
		{"exp as a string", header, strings.Replace(claims(""), `"exp":`+itoa(exp),
			`"exp":"`+itoa(exp)+`"`, 1), false},
		{"nbf as a string", header, claims(`,"nbf":"` + itoa(now) + `"`), false},
		{"claims not an object", header, `["sub"]`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enc := base64.RawURLEncoding.EncodeToString
			signing := enc([]byte(tt.header)) + "." + enc([]byte(tt.claims))
			token := signing + "." + hmacSig(testSecret(t).bytes(), signing)
			_, err := v.Verify(token)
			if tt.wantOK {
				if err != nil {
					t.Fatalf("Verify = %v, want success", err)
				}
				return
			}
			assertReason(t, err, ReasonMalformed)
		})
	}
}

func itoa(n int64) string {
	if n < 0 {
		return "-" + itoa(-n)
	}
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}
