package check_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/check"
)

const piranhaSend = `GET / HTTP/1.0\r\n\r\n`

func TestTCPConnect(t *testing.T) {
	t.Parallel()
	for _, host := range []string{"127.0.0.1", "::1"} {
		t.Run(host, func(t *testing.T) {
			tg := startTCP(t, net.JoinHostPort(host, "0"), silent)
			r := check.Run(t.Context(), check.Spec{Kind: check.TCP, Timeout: 2 * time.Second}, tg)
			wantOK(t, r)
			if r.Latency <= 0 {
				t.Errorf("latency %v, want > 0", r.Latency)
			}
		})
	}
}

func TestTCPClosedPort(t *testing.T) {
	t.Parallel()
	for _, host := range []string{"127.0.0.1", "::1"} {
		t.Run(host, func(t *testing.T) {
			for _, kind := range []check.Kind{check.TCP, check.Send, check.HTTP, check.HTTPS} {
				r := check.Run(t.Context(), check.Spec{Kind: kind, Timeout: 2 * time.Second, Expect: "x"}, closedTCP(t, host))
				wantDown(t, r, "connect refused")
			}
		})
	}
}

// A server that accepts and never answers is DOWN at the timeout: piranha's
// nanny waited on it for ever.
func TestSendExpectTimeout(t *testing.T) {
	t.Parallel()
	tg := startTCP(t, "127.0.0.1:0", silent)
	const timeout = 300 * time.Millisecond
	spec := check.Spec{Kind: check.Send, Timeout: timeout, Send: piranhaSend, Expect: "HTTP"}
	r, took := timed(t, spec, tg)
	wantDown(t, r, "timeout after 300ms")
	if took < timeout || took > 5*timeout {
		t.Errorf("check took %v, want about %v", took, timeout)
	}
	if r.Latency > took {
		t.Errorf("latency %v is more than the %v Run took", r.Latency, took)
	}
}

func TestSendExpectPartialReplyTimeout(t *testing.T) {
	t.Parallel()
	tg := startTCP(t, "127.0.0.1:0", func(c net.Conn, _ int) {
		io.WriteString(c, "HT")
		silent(c, 0)
	})
	r, _ := timed(t, check.Spec{Kind: check.Send, Timeout: 300 * time.Millisecond, Expect: "HTTP"}, tg)
	wantDown(t, r, "timeout after 300ms waiting for the expected reply: got 'HT'")
}

// A prefix settles as soon as a byte differs; a regex once 4 KiB came
// without a match: neither waits for the timeout.
func TestExpectSettlesEarly(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, reply, expect string
		regex               bool
		want                string
	}{
		{"prefix", "X", "HTTP", false, "expect mismatch: got 'X'"},
		{"regex", strings.Repeat("x", 5000), "y", true, "expect mismatch: got 'xxxxxxxx"},
		{"regex-match", "220 mail.example.com ESMTP", "^220 ", true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tg := startTCP(t, "127.0.0.1:0", func(c net.Conn, _ int) {
				io.WriteString(c, tc.reply)
				silent(c, 0)
			})
			r, took := timed(t, check.Spec{Kind: check.Send, Timeout: time.Minute, Expect: tc.expect, UseRegex: tc.regex}, tg)
			if tc.want == "" {
				wantOK(t, r)
			} else {
				wantDown(t, r, tc.want)
			}
			if took > 30*time.Second {
				t.Errorf("check took %v: it waited for the timeout", took)
			}
		})
	}
}

func TestBannerClosedWithoutReply(t *testing.T) {
	t.Parallel()
	tg := startTCP(t, "127.0.0.1:0", func(net.Conn, int) {})
	r := check.Run(t.Context(), check.Spec{Kind: check.Send, Timeout: 2 * time.Second, Expect: "SSH-"}, tg)
	wantDown(t, r, "connection closed with no reply")
}

// Send without Expect writes the unescaped bytes and is UP.
func TestSendOnly(t *testing.T) {
	t.Parallel()
	got := make(chan string, 1)
	tg := startTCP(t, "127.0.0.1:0", func(c net.Conn, _ int) {
		b, _ := io.ReadAll(c)
		got <- string(b)
	})
	r := check.Run(t.Context(), check.Spec{Kind: check.Send, Timeout: 2 * time.Second, Send: `PING\r\n`}, tg)
	wantOK(t, r)
	if s := <-got; s != "PING\r\n" {
		t.Errorf("server received %q, want %q", s, "PING\r\n")
	}
}

// piranha's default check, send "GET / HTTP/1.0\r\n\r\n" expect "HTTP",
// against a web server; prefixes and regexes.
func TestPiranhaSendExpect(t *testing.T) {
	t.Parallel()
	for _, host := range []string{"127.0.0.1", "::1"} {
		_, tg := startHTTP(t, host, false, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "hello\n")
		}))
		for _, tc := range []struct {
			expect string
			regex  bool
			want   string // "" = OK, else a part of the reason
		}{
			{"HTTP", false, ""},
			{`HTTP/1.0 200 OK\r\n`, false, ""}, // the escapes work in expect too
			{"SSH-2.0", false, `expect mismatch: got 'HTTP/1.0 200 OK\r\n`},
			{"HTTP/1.0 503", false, "expect mismatch: got 'HTTP/1.0 200"},
			{`^HTTP/1\.[01] 200`, true, ""},
			{`^HTTP/1\.[01] 5[0-9][0-9]`, true, "expect mismatch: got 'HTTP/1.0 200 OK"},
			{"hello", true, ""}, // found in the body, read until a match
		} {
			t.Run(fmt.Sprintf("%s/%s", host, tc.expect), func(t *testing.T) {
				spec := check.Spec{Kind: check.Send, Timeout: 2 * time.Second, Send: piranhaSend, Expect: tc.expect, UseRegex: tc.regex}
				r := check.Run(t.Context(), spec, tg)
				if tc.want == "" {
					wantOK(t, r)
				} else {
					wantDown(t, r, tc.want)
				}
			})
		}
	}
}

// A server that alternates good and bad replies gives alternating results:
// no state is kept from one check to the next.
func TestFlapping(t *testing.T) {
	t.Parallel()
	tg := startTCP(t, "127.0.0.1:0", func(c net.Conn, n int) {
		readRequest(c)
		if n%2 == 0 {
			io.WriteString(c, "+OK ready\r\n")
		} else {
			io.WriteString(c, "-ERR busy\r\n")
		}
	})
	p, err := check.NewProbe(check.Spec{Kind: check.Send, Timeout: 2 * time.Second, Send: `PING\r\n\r\n`, Expect: "+OK"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 6 {
		r := p.Run(t.Context(), tg)
		if r.OK != (i%2 == 0) {
			t.Fatalf("check %d: OK=%v (%s), want %v", i, r.OK, r.Reason, i%2 == 0)
		}
		if !r.OK && r.Reason != `expect mismatch: got '-ERR busy\r\n'` {
			t.Errorf("check %d: reason %q", i, r.Reason)
		}
	}
}

// Cancelling ctx ends a check at once, long before its timeout.
func TestCancel(t *testing.T) {
	t.Parallel()
	accepted := make(chan struct{}, 1)
	tg := startTCP(t, "127.0.0.1:0", func(c net.Conn, _ int) {
		accepted <- struct{}{}
		silent(c, 0)
	})
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		<-accepted
		cancel()
	}()
	start := time.Now()
	r := check.Run(ctx, check.Spec{Kind: check.Send, Timeout: time.Minute, Expect: "HTTP"}, tg)
	wantDown(t, r, "cancelled")
	if took := time.Since(start); took > 30*time.Second {
		t.Errorf("cancelled check took %v", took)
	}

	r = check.Run(ctx, check.Spec{Kind: check.TCP, Timeout: time.Minute}, tg)
	wantDown(t, r, "cancelled")
}

func TestInvalid(t *testing.T) {
	t.Parallel()
	tg := check.Target{}
	wantDown(t, check.Run(t.Context(), check.Spec{Kind: check.TCP, Timeout: time.Second}, tg), "invalid target: no address")
	r := check.Run(t.Context(), check.Spec{Kind: check.HTTP, Timeout: time.Second, Status: "2xx"}, tg)
	wantDown(t, r, `invalid check: status: "2xx" is not a`)
}
