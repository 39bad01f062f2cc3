package check_test

import (
	"bytes"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/internal/testenv"
	"github.com/lvsconsole/lvsconsole/lvs/check"
)

// Some tests need root or network namespaces: see internal/testenv.
func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

var progTarget = check.Target{Addr: netip.MustParseAddr("127.0.0.1"), Port: 8080}

func progSpec(cmd string) check.Spec {
	return check.Spec{Kind: check.Program, Timeout: 5 * time.Second, Program: cmd}
}

// targetOf returns the Target of a listening address.
func targetOf(t testing.TB, a net.Addr) check.Target {
	t.Helper()
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		t.Fatalf("parse listener address %s: %v", a, err)
	}
	return check.Target{Addr: ap.Addr(), Port: ap.Port()}
}

// startTCP serves addr ("127.0.0.1:0", "[::1]:0") with handle, one
// goroutine per connection. Cleanup closes the listener and every
// connection still open, and waits for the handlers.
func startTCP(t testing.TB, addr string, handle func(c net.Conn, n int)) check.Target {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen on %s: %v", addr, err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns = map[net.Conn]bool{}
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for n := 0; ; n++ {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns[c] = true
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() {
					mu.Lock()
					delete(conns, c)
					mu.Unlock()
					c.Close()
				}()
				handle(c, n)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return targetOf(t, ln.Addr())
}

// silent accepts and never answers: it reads until the client goes.
func silent(c net.Conn, _ int) { io.Copy(io.Discard, c) }

// readRequest reads up to the blank line that ends an HTTP-like request,
// so that closing afterwards does not reset the connection.
func readRequest(c net.Conn) []byte {
	var req []byte
	buf := make([]byte, 512)
	for !bytes.Contains(req, []byte("\r\n\r\n")) {
		n, err := c.Read(buf)
		req = append(req, buf[:n]...)
		if err != nil {
			break
		}
	}
	return req
}

// closedTCP returns a loopback TCP port nobody listens on.
func closedTCP(t testing.TB, host string) check.Target {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	tg := targetOf(t, ln.Addr())
	ln.Close()
	return tg
}

// startHTTP starts an httptest server on host (127.0.0.1 or ::1), with TLS
// when tls is set; configure, if any, sees the server before it starts.
func startHTTP(t testing.TB, host string, tls bool, h http.Handler, configure ...func(*httptest.Server)) (*httptest.Server, check.Target) {
	t.Helper()
	ts := httptest.NewUnstartedServer(h)
	// Refused handshakes are what some tests are about: keep them quiet.
	ts.Config.ErrorLog = log.New(io.Discard, "", 0)
	if host != "127.0.0.1" {
		ts.Listener.Close()
		ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			t.Fatalf("listen: %v", err)
		}
		ts.Listener = ln
	}
	for _, f := range configure {
		f(ts)
	}
	if tls {
		ts.StartTLS()
	} else {
		ts.Start()
	}
	t.Cleanup(ts.Close)
	return ts, targetOf(t, ts.Listener.Addr())
}

func wantOK(t testing.TB, r check.Result) {
	t.Helper()
	if !r.OK {
		t.Fatalf("check DOWN (%s), want OK", r.Reason)
	}
}

// wantDown fails unless r is DOWN with a reason that contains want.
func wantDown(t testing.TB, r check.Result, want string) {
	t.Helper()
	if r.OK {
		t.Fatalf("check OK (%s), want DOWN with %q", r.Reason, want)
	}
	if !strings.Contains(r.Reason, want) {
		t.Fatalf("reason %q, want it to contain %q", r.Reason, want)
	}
}

// timed runs a check and returns how long Run took as the caller saw it.
func timed(t testing.TB, spec check.Spec, tg check.Target) (check.Result, time.Duration) {
	start := time.Now()
	r := check.Run(t.Context(), spec, tg)
	return r, time.Since(start)
}
