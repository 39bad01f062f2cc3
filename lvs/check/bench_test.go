package check_test

import (
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/check"
)

// BenchmarkTCPCheck is a connect-only check against a loopback listener
// that closes what it accepts.
func BenchmarkTCPCheck(b *testing.B) {
	tg := startTCP(b, "127.0.0.1:0", func(net.Conn, int) {})
	spec := check.Spec{Kind: check.TCP, Timeout: 2 * time.Second}
	b.Run("Run", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if r := check.Run(b.Context(), spec, tg); !r.OK {
				b.Fatal(r.Reason)
			}
		}
	})
	b.Run("Probe", func(b *testing.B) {
		p, err := check.NewProbe(spec)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if r := p.Run(b.Context(), tg); !r.OK {
				b.Fatal(r.Reason)
			}
		}
	})
}

// BenchmarkSendExpect is piranha's default check against a small server that
// answers like a web server.
func BenchmarkSendExpect(b *testing.B) {
	tg := startTCP(b, "127.0.0.1:0", func(c net.Conn, _ int) {
		readRequest(c)
		io.WriteString(c, "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n")
	})
	for _, bc := range []struct {
		name, expect string
		regex        bool
	}{
		{"prefix", "HTTP", false},
		{"regex", `^HTTP/1\.[01] 200`, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			p, err := check.NewProbe(check.Spec{Kind: check.Send, Timeout: 2 * time.Second, Send: piranhaSend, Expect: bc.expect, UseRegex: bc.regex})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if r := p.Run(b.Context(), tg); !r.OK {
					b.Fatal(r.Reason)
				}
			}
		})
	}
}

// BenchmarkHTTPCheck is a GET through net/http against httptest.
func BenchmarkHTTPCheck(b *testing.B) {
	_, tg := startHTTP(b, "127.0.0.1", false, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	p, err := check.NewProbe(check.Spec{Kind: check.HTTP, Timeout: 2 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if r := p.Run(b.Context(), tg); !r.OK {
			b.Fatal(r.Reason)
		}
	}
}
