package notify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

var signNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// v1Of returns the v1 value Sign writes for secret, ts and body.
func v1Of(secret []byte, ts time.Time, body []byte) string {
	_, v1, _ := strings.Cut(Sign(secret, ts, body), ",v1=")
	return v1
}

func TestSignFormat(t *testing.T) {
	body := []byte(`{"kind":"accuracy_degraded"}`)
	h := hmac.New(sha256.New, testSecret)
	h.Write([]byte(strconv.FormatInt(signNow.Unix(), 10) + "." + string(body)))
	want := "t=" + strconv.FormatInt(signNow.Unix(), 10) + ",v1=" +
		hex.EncodeToString(h.Sum(nil))

	if got := Sign(testSecret, signNow, body); got != want {
		t.Errorf("Sign = %q, want %q", got, want)
	}
}

func TestVerify(t *testing.T) {
	body := []byte(`{"kind":"accuracy_degraded","accuracy":0.61}`)
	other := []byte("another-secret-of-enough-length-0123456789")
	good := Sign(testSecret, signNow, body)
	unix := strconv.FormatInt(signNow.Unix(), 10)
	tests := []struct {
		name      string
		secret    []byte
		header    string
		body      []byte
		now       time.Time
		tolerance time.Duration
		want      error
	}{
		{name: "valid", header: good},
		{name: "valid at the tolerance", header: good, now: signNow.Add(DefaultTolerance)},
		{
			name:   "valid at the future tolerance",
			header: good,
			now:    signNow.Add(-DefaultTolerance),
		},
		{name: "zero tolerance means default", header: good, now: signNow.Add(4 * time.Minute),
			tolerance: -1},
		{name: "spaces around entries", header: " t=" + unix + " , v1=" +
			v1Of(testSecret, signNow, body) + " "},
		{name: "upper-case hex", header: "t=" + unix + ",v1=" +
			strings.ToUpper(v1Of(testSecret, signNow, body))},
		{name: "unknown entries ignored", header: good + ",v0=zz,v2=abc"},
		{
			name:   "rotated: old secret first",
			header: Sign(other, signNow, body) + ",v1=" + v1Of(testSecret, signNow, body),
		},
		{
			name:   "rotated: new secret first",
			header: good + ",v1=" + v1Of(other, signNow, body),
		},
		{
			name:   "old timestamp",
			header: good,
			now:    signNow.Add(DefaultTolerance + time.Second),
			want:   ErrSignatureExpired,
		},
		{
			name:      "old under a short tolerance",
			header:    good,
			now:       signNow.Add(31 * time.Second),
			tolerance: 30 * time.Second,
			want:      ErrSignatureExpired,
		},
		{
			name:   "future timestamp",
			header: good,
			now:    signNow.Add(-DefaultTolerance - time.Second),
			want:   ErrSignatureFuture,
		},
		{name: "wrong secret", secret: other, header: good, want: ErrSignatureMismatch},
		{name: "empty secret", secret: []byte{}, header: good, want: ErrSignatureMismatch},
		{
			name:   "tampered body",
			header: good,
			body:   []byte(`{"kind":"accuracy_degraded","accuracy":0.91}`),
			want:   ErrSignatureMismatch,
		},
		{
			name: "timestamp changed",
			header: "t=" + strconv.FormatInt(signNow.Unix()+1, 10) + ",v1=" +
				v1Of(testSecret, signNow, body),
			want: ErrSignatureMismatch,
		},
		{
			name:   "all rotated entries wrong",
			header: Sign(other, signNow, body) + ",v1=" + strings.Repeat("0", 64),
			want:   ErrSignatureMismatch,
		},
		{name: "empty header", header: "", want: ErrSignatureMalformed},
		{name: "no v1", header: "t=" + unix, want: ErrSignatureMalformed},
		{name: "no t", header: "v1=" + v1Of(testSecret, signNow, body),
			want: ErrSignatureMalformed},
		{name: "two t", header: "t=" + unix + "," + good, want: ErrSignatureMalformed},
		{name: "negative t", header: strings.Replace(good, "t=", "t=-", 1),
			want: ErrSignatureMalformed},
		{name: "t overflows", header: "t=99999999999999999999,v1=" +
			v1Of(testSecret, signNow, body), want: ErrSignatureMalformed},
		{name: "t not a number", header: "t=now,v1=" + v1Of(testSecret, signNow, body),
			want: ErrSignatureMalformed},
		{name: "short v1", header: "t=" + unix + ",v1=abcd", want: ErrSignatureMalformed},
		{name: "v1 not hex", header: "t=" + unix + ",v1=" + strings.Repeat("g", 64),
			want: ErrSignatureMalformed},
		{name: "entry without equals", header: good + ",junk", want: ErrSignatureMalformed},
		{name: "semicolons", header: strings.ReplaceAll(good, ",", ";"),
			want: ErrSignatureMalformed},
		{name: "too many v1", header: "t=" + unix +
			strings.Repeat(",v1="+strings.Repeat("0", 64), maxSignatures+1),
			want: ErrSignatureMalformed},
		{name: "huge header", header: good + "," + strings.Repeat("x=y,", 2000),
			want: ErrSignatureMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			secret := tt.secret
			if secret == nil {
				secret = testSecret
			}
			b := tt.body
			if b == nil {
				b = body
			}
			now := tt.now
			if now.IsZero() {
				now = signNow
			}

			err := Verify(secret, tt.header, b, now, tt.tolerance)
			if tt.want == nil && err != nil {
				t.Fatalf("Verify: %v, want success", err)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("Verify error %v, want %v", err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), string(testSecret)) {
				t.Errorf("error reveals the secret: %v", err)
			}
		})
	}
}

// FuzzVerify checks that Verify never panics and accepts only a header holding the right
// signature.
func FuzzVerify(f *testing.F) {
	body := []byte(`{"kind":"test"}`)
	f.Add(Sign(testSecret, signNow, body), body)
	f.Add(Sign(testSecret, signNow, body)+",v1="+strings.Repeat("a", 64), body)
	f.Add("t=1,v1=", []byte{})
	f.Add("t=,v1=,t=", []byte("x"))
	f.Add(strings.Repeat(",", 100), []byte("x"))

	f.Fuzz(func(t *testing.T, header string, body []byte) {
		if Verify(testSecret, header, body, signNow, DefaultTolerance) != nil {
			return
		}
		unix, _, err := parseSignature(header)
		if err != nil {
			t.Fatalf("parseSignature(%q) fails where Verify passed: %v", header, err)
		}
		want := hex.EncodeToString(mac(testSecret, unix, body))
		if !strings.Contains(strings.ToLower(header), want) {
			t.Fatalf("Verify accepted %q without the signature %s", header, want)
		}
	})
}
