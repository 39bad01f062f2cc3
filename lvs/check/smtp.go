package check

import (
	"bufio"
	"errors"
	"os"
	"strconv"

	"github.com/lvsconsole/lvsconsole/lvs/config"
)

// maxSMTPLines bounds the lines of one multi-line SMTP reply.
const maxSMTPLines = 32

func (p *Probe) prepareSMTP() error {
	if err := config.CheckHelo(p.spec.Helo); err != nil {
		return fieldErr("helo", "%v", err)
	}
	p.helo = p.spec.Helo
	if p.helo == "" {
		// keepalived says HELO with the host's name.
		p.helo = "lvsconsole"
		if h, err := os.Hostname(); err == nil && config.CheckHelo(h) == nil && h != "" {
			p.helo = h
		}
	}
	return nil
}

// runSMTP is keepalived's SMTP_CHECK: the greeting must be 220, HELO must
// be answered by 250, then QUIT; the answer to QUIT is read but not
// judged, as keepalived does.
func (p *Probe) runSMTP(a *attempt, t Target) Result {
	conn, err := p.dialer.DialContext(a.ctx, "tcp", t.String())
	if err != nil {
		return down(a.reason("connect", err))
	}
	defer conn.Close()
	stop := bindDeadline(a.ctx, conn)
	defer stop()
	r := bufio.NewReaderSize(conn, maxReply)

	if res, ok := a.smtpReply(r, "greeting", 220); !ok {
		return res
	}
	if _, err := conn.Write([]byte("HELO " + p.helo + "\r\n")); err != nil {
		return down(a.reason("send HELO", err))
	}
	if res, ok := a.smtpReply(r, "answer to HELO", 250); !ok {
		return res
	}
	if _, err := conn.Write([]byte("QUIT\r\n")); err != nil {
		return down(a.reason("send QUIT", err))
	}
	if _, _, err := readSMTPReply(r); err != nil {
		return down(a.reason("read answer to QUIT", err))
	}
	return up("220 greeting, 250 to HELO " + p.helo)
}

// smtpReply reads one reply and reports whether its code is want.
func (a *attempt) smtpReply(r *bufio.Reader, what string, want int) (Result, bool) {
	code, line, err := readSMTPReply(r)
	switch {
	case err != nil && line != nil:
		return down(what + ": not an SMTP reply: got " + quote(line)), false
	case err != nil:
		return down(a.reason("read "+what, err)), false
	case code != want:
		return down(what + " " + strconv.Itoa(code) + ", want " + strconv.Itoa(want) + ": got " + quote(line)), false
	}
	return Result{}, true
}

// errNotSMTP is a line that does not start with a 3-digit code.
var errNotSMTP = errors.New("not an SMTP reply")

// readSMTPReply reads a reply of one or more lines ("250-..." continues,
// "250 ..." ends it) and returns its code and its last line. A line
// without a code returns it with errNotSMTP.
func readSMTPReply(r *bufio.Reader) (code int, last []byte, err error) {
	for range maxSMTPLines {
		line, err := r.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			return 0, line, errNotSMTP
		}
		if err != nil {
			return 0, nil, err
		}
		if len(line) < 3 || !isDigits(line[:3]) {
			return 0, line, errNotSMTP
		}
		c, _ := strconv.Atoi(string(line[:3]))
		if len(line) < 4 || line[3] != '-' {
			return c, line, nil
		}
	}
	return 0, []byte("more than " + strconv.Itoa(maxSMTPLines) + " lines"), errNotSMTP
}

func isDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
