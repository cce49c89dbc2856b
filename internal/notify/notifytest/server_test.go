package notifytest

import (
	"context"
	"errors"
	"net"
	"net/smtp"
	"net/textproto"
	"slices"
	"strings"
	"testing"
	"time"
)

// testTimeout bounds every wait of these tests.
const testTimeout = 5 * time.Second

// send sends one message of body through the server with net/smtp, in clear text, and
// returns the error of the first step that failed.
func send(s *Server, body string) error {
	conn, err := net.DialTimeout("tcp", s.Addr(), testTimeout)
	if err != nil {
		return err
	}
	_ = conn.SetDeadline(time.Now().Add(testTimeout))
	c, err := smtp.NewClient(conn, "127.0.0.1")
	if err != nil {
		_ = conn.Close()
		return err
	}
	defer c.Close()

	if err := c.Mail("ops@example.com"); err != nil {
		return err
	}
	for _, to := range []string{"oncall@example.com", "second@example.org"} {
		if err := c.Rcpt(to); err != nil {
			return err
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write([]byte(body)); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

// replyCode returns the SMTP reply code of err, 0 when it holds none.
func replyCode(err error) int {
	var te *textproto.Error
	if errors.As(err, &te) {
		return te.Code
	}
	return 0
}

func TestServerAccepts(t *testing.T) {
	s := Start(t, Options{})

	if err := send(s, "Subject: hi\r\n\r\n.dot line\r\nbody\r\n"); err != nil {
		t.Fatalf("send: %v", err)
	}

	if host, _, _ := net.SplitHostPort(s.Addr()); host != "127.0.0.1" {
		t.Errorf("listening on %s, want 127.0.0.1", s.Addr())
	}
	got := s.Received()
	want := Mail{From: "ops@example.com", To: []string{"oncall@example.com",
		"second@example.org"}, Data: "Subject: hi\n\n.dot line\nbody\n"}
	if len(got) != 1 || got[0].From != want.From || !slices.Equal(got[0].To, want.To) ||
		got[0].Data != want.Data || got[0].TLS || got[0].AuthUser != "" {
		t.Errorf("received %+v, want [%+v]", got, want)
	}
}

func TestServerBounds(t *testing.T) {
	tests := []struct {
		name     string
		opts     Options
		bodies   []string
		wantCode []int // reply code of each send; 0 for success
		wantKept int
	}{
		{
			name:     "message at the size limit",
			opts:     Options{MaxMessageSize: 16},
			bodies:   []string{"0123456789abcde\n"},
			wantCode: []int{0},
			wantKept: 1,
		},
		{
			name:     "message over the size limit",
			opts:     Options{MaxMessageSize: 16},
			bodies:   []string{strings.Repeat("x", 64) + "\n"},
			wantCode: []int{552},
		},
		{
			name:     "messages over the count limit",
			opts:     Options{MaxMessages: 1},
			bodies:   []string{"one\n", "two\n"},
			wantCode: []int{0, 452},
			wantKept: 1,
		},
		{
			name:     "recipient deferred",
			opts:     Options{RcptReply: "450 4.2.1 try later"},
			bodies:   []string{"one\n"},
			wantCode: []int{450},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := Start(t, tt.opts)

			for i, body := range tt.bodies {
				err := send(s, body)
				if got := replyCode(err); got != tt.wantCode[i] {
					t.Errorf("send %d: reply code %d (%v), want %d", i+1, got, err,
						tt.wantCode[i])
				}
			}

			if got := len(s.Received()); got != tt.wantKept {
				t.Errorf("kept %d messages, want %d", got, tt.wantKept)
			}
		})
	}
}

func TestServerMaxConns(t *testing.T) {
	s := Start(t, Options{MaxConns: 1})
	if err := send(s, "one\n"); err != nil {
		t.Fatalf("first connection: %v", err)
	}

	err := send(s, "two\n")

	if err == nil || s.Accepted() != 2 || len(s.Received()) != 1 {
		t.Errorf("second connection: %v, accepted %d, kept %d; want an error, 2 and 1", err,
			s.Accepted(), len(s.Received()))
	}
}

func TestServerWait(t *testing.T) {
	s := Start(t, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()

	got, err := s.Wait(ctx, 1)

	if !errors.Is(err, context.DeadlineExceeded) || len(got) != 0 {
		t.Errorf("Wait with nothing sent: %d messages, %v; want 0 and a deadline", len(got),
			err)
	}

	sent := make(chan error, 1)
	go func() { sent <- send(s, "late\n") }()
	ctx, cancel = context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if got, err := s.Wait(ctx, 1); err != nil || len(got) != 1 {
		t.Errorf("Wait: %d messages, %v; want 1", len(got), err)
	}
	if err := <-sent; err != nil {
		t.Errorf("send: %v", err)
	}
}

func TestServerClosesSlowSessions(t *testing.T) {
	s := Start(t, Options{Timeout: 100 * time.Millisecond})
	conn, err := net.DialTimeout("tcp", s.Addr(), testTimeout)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(testTimeout))

	_, err = textproto.NewConn(conn).ReadLine() // the greeting
	if err != nil {
		t.Fatalf("greeting: %v", err)
	}
	start := time.Now()
	buf := make([]byte, 1)
	_, err = conn.Read(buf)

	if err == nil || time.Since(start) > testTimeout/2 {
		t.Errorf("idle session: read %v after %v, want the server to close it", err,
			time.Since(start))
	}
}
