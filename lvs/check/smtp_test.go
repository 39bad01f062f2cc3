package check_test

import (
	"bufio"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/check"
)

// smtpServer answers like a mail server: greeting, then reply for HELO
// and 221 for QUIT. It records the HELO line it got.
func smtpServer(greeting, helo string, got chan<- string) func(net.Conn, int) {
	return func(c net.Conn, _ int) {
		c.Write([]byte(greeting))
		r := bufio.NewReader(c)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			switch {
			case strings.HasPrefix(line, "HELO "):
				if got != nil {
					got <- line
				}
				c.Write([]byte(helo))
			case line == "QUIT\r\n":
				c.Write([]byte("221 bye\r\n"))
				return
			}
		}
	}
}

func smtpSpec(helo string) check.Spec {
	return check.Spec{Kind: check.SMTP, Timeout: 2 * time.Second, Helo: helo}
}

func TestSMTP(t *testing.T) {
	t.Parallel()
	for _, host := range []string{"127.0.0.1", "::1"} {
		t.Run(host, func(t *testing.T) {
			got := make(chan string, 1)
			tg := startTCP(t, net.JoinHostPort(host, "0"), smtpServer("220-mx.example.org ESMTP\r\n220 ready\r\n", "250 mx.example.org\r\n", got))
			wantOK(t, check.Run(t.Context(), smtpSpec("director.example.org"), tg))
			if l := <-got; l != "HELO director.example.org\r\n" {
				t.Errorf("server got %q", l)
			}
		})
	}
}

func TestSMTPDefaultHelo(t *testing.T) {
	t.Parallel()
	got := make(chan string, 1)
	tg := startTCP(t, "127.0.0.1:0", smtpServer("220 mx\r\n", "250-mx\r\n250 8BITMIME\r\n", got))
	wantOK(t, check.Run(t.Context(), smtpSpec(""), tg))
	if l := <-got; !strings.HasPrefix(l, "HELO ") || len(l) <= len("HELO \r\n") {
		t.Errorf("server got %q, want HELO and the host name", l)
	}
}

func TestSMTPDown(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, greeting, helo, want string
	}{
		{"greeting 554", "554 no service\r\n", "250 ok\r\n", "greeting 554, want 220"},
		{"not smtp", "SSH-2.0-OpenSSH\r\n", "250 ok\r\n", "greeting: not an SMTP reply: got 'SSH-2.0-OpenSSH"},
		{"helo refused", "220 mx\r\n", "501 bad HELO\r\n", "answer to HELO 501, want 250"},
		{"closed after greeting", "220 mx\r\n", "", "connection closed with no reply"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := smtpServer(tc.greeting, tc.helo, nil)
			if tc.helo == "" {
				h = func(c net.Conn, _ int) { c.Write([]byte(tc.greeting)); bufio.NewReader(c).ReadString('\n') }
			}
			tg := startTCP(t, "127.0.0.1:0", h)
			wantDown(t, check.Run(t.Context(), smtpSpec("d"), tg), tc.want)
		})
	}
	wantDown(t, check.Run(t.Context(), smtpSpec("d"), closedTCP(t, "127.0.0.1")), "connect refused")
	r, took := timed(t, check.Spec{Kind: check.SMTP, Timeout: 200 * time.Millisecond}, startTCP(t, "127.0.0.1:0", silent))
	wantDown(t, r, "timeout after 200ms")
	if took > 2*time.Second {
		t.Errorf("a silent server took %v", took)
	}
}
