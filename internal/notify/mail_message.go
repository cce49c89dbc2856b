package notify

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits on what Send accepts.
const (
	// MaxSubjectLen is the longest accepted subject, in bytes of UTF-8.
	MaxSubjectLen = 256
	// MaxTextLen is the longest accepted mail text, in bytes.
	MaxTextLen = 1 << 20
)

// Line lengths of RFC 5322: headers are folded to foldAt where they have spaces, and a 7bit
// body line may not be longer than maxLine.
const (
	foldAt  = 78
	maxLine = 998
)

// message returns the RFC 5322 message for subject and text, with CRLF line ends.
func (m *Mailer) message(subject, text string) ([]byte, error) {
	if err := checkHeaderText(subject); err != nil {
		return nil, fmt.Errorf("subject: %w", err)
	}
	switch {
	case len(subject) > MaxSubjectLen:
		return nil, fmt.Errorf("%w: subject is %d bytes, over %d", ErrInvalidMessage,
			len(subject), MaxSubjectLen)
	case !utf8.ValidString(text):
		return nil, fmt.Errorf("%w: text is not UTF-8", ErrInvalidMessage)
	case len(text) > MaxTextLen:
		return nil, fmt.Errorf("%w: text is %d bytes, over %d", ErrInvalidMessage,
			len(text), MaxTextLen)
	}

	to := make([]string, len(m.to))
	for i, a := range m.to {
		to[i] = a.String()
	}
	text = strings.ReplaceAll(strings.ReplaceAll(text, "\r\n", "\n"), "\r", "\n")
	encoding := "7bit"
	if !is7bit(text) {
		encoding = "quoted-printable"
	}

	var b bytes.Buffer
	writeHeader(&b, "Date", m.now().Format(time.RFC1123Z))
	writeHeader(&b, "From", m.from.String())
	writeHeader(&b, "To", strings.Join(to, ", "))
	writeHeader(&b, "Subject", mime.QEncoding.Encode("utf-8", subject))
	writeHeader(&b, "Message-ID", m.messageID())
	writeHeader(&b, "MIME-Version", "1.0")
	writeHeader(&b, "Content-Type", "text/plain; charset=utf-8")
	writeHeader(&b, "Content-Transfer-Encoding", encoding)
	writeHeader(&b, "Auto-Submitted", "auto-generated")
	b.WriteString("\r\n")

	writeBody(&b, text, encoding)
	return b.Bytes(), nil
}

// checkHeaderText refuses text meant for a header that is not UTF-8 or holds a control
// character other than tab: CR and LF in particular would start a forged header.
func checkHeaderText(s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("%w: not UTF-8", ErrInvalidMessage)
	}
	for i, r := range s {
		if (r < ' ' && r != '\t') || r == 0x7f {
			return fmt.Errorf("%w: %U at byte %d", ErrHeaderInjection, r, i)
		}
	}
	return nil
}

// writeHeader writes "name: value" and CRLF, folding at spaces so that lines stay within
// foldAt columns where the value allows. value must hold no CR or LF.
func writeHeader(b *bytes.Buffer, name, value string) {
	b.WriteString(name + ":")
	col := len(name) + 1
	for i, word := range strings.Split(value, " ") {
		if i > 0 && word != "" && col+1+len(word) > foldAt {
			b.WriteString("\r\n")
			col = 0
		}
		b.WriteString(" " + word)
		col += 1 + len(word)
	}
	b.WriteString("\r\n")
}

// messageID returns a new Message-ID in the sender's domain.
func (m *Mailer) messageID() string {
	domain := m.from.Address[strings.LastIndexByte(m.from.Address, '@')+1:]
	return "<" + rand.Text() + "@" + domain + ">"
}

// is7bit reports whether text (LF line ends) can be sent as is: printable ASCII and tabs,
// in lines of at most maxLine bytes.
func is7bit(text string) bool {
	col := 0
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case c == '\n':
			col = 0
			continue
		case c > '~' || (c < ' ' && c != '\t'):
			return false
		}
		col++
		if col > maxLine {
			return false
		}
	}
	return true
}

// writeBody writes text (LF line ends) in the given transfer encoding, with CRLF line ends
// and a final line break.
func writeBody(b *bytes.Buffer, text, encoding string) {
	if !strings.HasSuffix(text, "\n") {
		text += "\n"
	}
	if encoding == "7bit" {
		b.WriteString(strings.ReplaceAll(text, "\n", "\r\n"))
		return
	}
	w := quotedprintable.NewWriter(b)
	_, _ = w.Write([]byte(text))
	_ = w.Close()
}
