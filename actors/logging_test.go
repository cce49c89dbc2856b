package actors_test

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/whalecast/whalecast/actors"
	"github.com/whalecast/whalecast/internal/auth"
)

// TestTokensStayOutOfLogs runs the paths that see a token (a good auth, a refused one, a
// verifier panic, a client frame that reaches a stopped session and becomes a dead letter)
// with every log line kept, and looks for the token, its signature, the frame bytes in any
// encoding and the secret.
func TestTokensStayOutOfLogs(t *testing.T) {
	t.Parallel()
	e := newEngine(t, engineConfig{
		Verifier: func(v *auth.Verifier) actors.TokenVerifier { return panickyVerifier{v} },
	})
	good := e.token(t, auth.PermRead)
	forged := e.forge(t, jwt.SigningMethodHS384, testSecret, claimsAt(testStart, ""))

	peer := newFakePeer(0)
	pid, _ := e.connect(t, peer, auth.PermRead)
	e.send(pid, `{"type":"ping"}`)
	peer.next(t, 1)

	refused := newFakePeer(0)
	e.send(e.startSession(t, refused), authMessage(forged, -1))
	refused.waitClosed(t)

	failed := newFakePeer(0)
	e.send(e.startSession(t, failed), authMessage(panicToken, -1))
	failed.waitClosed(t)

	e.sys.Root.Send(e.sessions, &actors.ServerShutdown{})
	peer.waitClosed(t)
	waitFor(t, "every session to stop", func() bool { return e.sessionCount(t) == 0 })
	late := authMessage(good, -1)
	e.send(pid, late) // to a stopped session: a dead letter
	waitFor(t, "the dead letter to be logged", func() bool {
		return strings.Contains(e.logs.String(), "DeadLetter")
	})

	logs := e.logs.String()
	if !strings.Contains(logs, "client_frame") {
		t.Errorf("the dead letter is not logged in its redacted form")
	}
	secrets := []string{good, forged, string(testSecret), late,
		base64.StdEncoding.EncodeToString([]byte(late)),
		base64.StdEncoding.EncodeToString(testSecret)}
	for _, tok := range []string{good, forged} {
		secrets = append(secrets, tok[strings.LastIndex(tok, ".")+1:])
	}
	mustNotContain(t, logs, secrets...)
}
