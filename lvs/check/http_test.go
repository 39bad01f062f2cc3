package check_test

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/check"
)

func httpSpec(kind check.Kind) check.Spec {
	return check.Spec{Kind: kind, Timeout: 2 * time.Second}
}

func TestHTTPStatus(t *testing.T) {
	t.Parallel()
	for _, host := range []string{"127.0.0.1", "::1"} {
		t.Run(host, func(t *testing.T) {
			var n atomic.Int32
			_, tg := startHTTP(t, host, false, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if n.Add(1) > 1 {
					w.WriteHeader(http.StatusServiceUnavailable)
				}
			}))
			r := check.Run(t.Context(), httpSpec(check.HTTP), tg)
			wantOK(t, r)
			if r.Reason != "status 200" {
				t.Errorf("reason %q, want %q", r.Reason, "status 200")
			}
			wantDown(t, check.Run(t.Context(), httpSpec(check.HTTP), tg), "status 503, want 200-399")

			spec := httpSpec(check.HTTP)
			spec.Status = "200, 500-503"
			wantOK(t, check.Run(t.Context(), spec, tg))
		})
	}
}

// Each check opens a new connection, and says so to the server.
func TestHTTPNewConnectionEachTime(t *testing.T) {
	t.Parallel()
	var conns atomic.Int32
	var closeAsked atomic.Int32
	_, tg := startHTTP(t, "127.0.0.1", false, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Close {
			closeAsked.Add(1)
		}
	}), func(ts *httptest.Server) {
		ts.Config.ConnState = func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				conns.Add(1)
			}
		}
	})
	p, err := check.NewProbe(httpSpec(check.HTTP))
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		wantOK(t, p.Run(t.Context(), tg))
	}
	if c, a := conns.Load(), closeAsked.Load(); c != 3 || a != 3 {
		t.Errorf("3 checks made %d connections, %d asked to close; want 3 and 3", c, a)
	}
}

func TestHTTPRedirectNotFollowed(t *testing.T) {
	t.Parallel()
	var followed atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("/moved", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/target", http.StatusMovedPermanently)
	})
	mux.HandleFunc("/target", func(w http.ResponseWriter, r *http.Request) { followed.Add(1) })
	_, tg := startHTTP(t, "127.0.0.1", false, mux)

	spec := httpSpec(check.HTTP)
	spec.Path = "/moved"
	wantOK(t, check.Run(t.Context(), spec, tg)) // 301 is in 200-399
	spec.Status = "200"
	wantDown(t, check.Run(t.Context(), spec, tg), "status 301, want 200")
	if n := followed.Load(); n != 0 {
		t.Errorf("the redirect was followed %d times", n)
	}
}

func TestHTTPBodyRegex(t *testing.T) {
	t.Parallel()
	var query atomic.Value
	_, tg := startHTTP(t, "127.0.0.1", false, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		query.Store(r.URL.RawQuery)
		io.WriteString(w, "<html>\nstatus: ok\n</html>\n")
	}))
	spec := httpSpec(check.HTTP)
	spec.Path = "/health?full=1"
	spec.BodyRegex = "status: (ok|fine)"
	wantOK(t, check.Run(t.Context(), spec, tg))
	if q := query.Load(); q != "full=1" {
		t.Errorf("server got query %q, want full=1", q)
	}
	spec.BodyRegex = "^degraded$"
	wantDown(t, check.Run(t.Context(), spec, tg), `body does not match '^degraded$': got '<html>\nstatus: ok`)
}

func TestHTTPVirtualHost(t *testing.T) {
	t.Parallel()
	hosts := make(chan string, 1)
	_, tg := startHTTP(t, "127.0.0.1", false, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hosts <- r.Host
	}))
	spec := httpSpec(check.HTTP)
	wantOK(t, check.Run(t.Context(), spec, tg))
	if h := <-hosts; h != tg.String() {
		t.Errorf("default Host %q, want the address %q", h, tg.String())
	}
	spec.Host = "www.example.test"
	wantOK(t, check.Run(t.Context(), spec, tg))
	if h := <-hosts; h != "www.example.test" {
		t.Errorf("Host %q, want www.example.test", h)
	}
}

func TestHTTPS(t *testing.T) {
	t.Parallel()
	type seen struct{ host, sni string }
	got := make(chan seen, 1)
	_, tg := startHTTP(t, "127.0.0.1", true, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- seen{r.Host, r.TLS.ServerName}
	}))
	spec := httpSpec(check.HTTPS)
	spec.Host = "www.example.test"
	wantOK(t, check.Run(t.Context(), spec, tg))
	if s := <-got; s != (seen{"www.example.test", "www.example.test"}) {
		t.Errorf("server saw Host %q and SNI %q, want www.example.test for both", s.host, s.sni)
	}

	// The test server's certificate is self-signed: refused when verified.
	spec.Verify = true
	wantDown(t, check.Run(t.Context(), spec, tg), "certificate")
	spec.Host = ""
	wantDown(t, check.Run(t.Context(), spec, tg), "certificate")
}

func TestHTTPSAgainstNonTLS(t *testing.T) {
	t.Parallel()
	_, tg := startHTTP(t, "127.0.0.1", false, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	wantDown(t, check.Run(t.Context(), httpSpec(check.HTTPS), tg), "server gave HTTP response to HTTPS client")

	tg = startTCP(t, "127.0.0.1:0", func(c net.Conn, _ int) {
		io.WriteString(c, "SSH-2.0-OpenSSH_9.2\r\n")
		silent(c, 0)
	})
	wantDown(t, check.Run(t.Context(), httpSpec(check.HTTPS), tg), "tls: the server does not speak TLS")
}

func TestHTTPNoReply(t *testing.T) {
	t.Parallel()
	tg := startTCP(t, "127.0.0.1:0", func(c net.Conn, _ int) { readRequest(c) })
	wantDown(t, check.Run(t.Context(), httpSpec(check.HTTP), tg), "connection closed with no reply")
}

func TestHTTPTimeout(t *testing.T) {
	t.Parallel()
	_, tg := startHTTP(t, "127.0.0.1", false, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // until the checker hangs up
	}))
	spec := httpSpec(check.HTTP)
	spec.Timeout = 300 * time.Millisecond
	r, took := timed(t, spec, tg)
	wantDown(t, r, "timeout after 300ms")
	if took > 5*spec.Timeout {
		t.Errorf("check took %v, timeout %v", took, spec.Timeout)
	}
}
