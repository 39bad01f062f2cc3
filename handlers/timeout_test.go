package handlers

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/store"
)

// margin is how long after a deadline the tests wait for its effect: the
// machine may be busy.
const margin = 5 * time.Second

// shortTimeouts are the test's deadlines: short, so that the tests see
// them pass.
var shortTimeouts = Timeouts{Body: 500 * time.Millisecond, Upload: time.Second, Write: 500 * time.Millisecond, Event: 500 * time.Millisecond}

// cookieHeader is the Cookie header of c for the test server.
func cookieHeader(e *testEnv, c *http.Client) string {
	u, _ := url.Parse(e.srv.URL)
	var cs []string
	for _, ck := range c.Jar.Cookies(u) {
		cs = append(cs, ck.Name+"="+ck.Value)
	}
	return strings.Join(cs, "; ")
}

// TestSlowBodyIsCut: a body that trickles in is cut at its route's
// deadline: 408, and the connection closed.
func TestSlowBodyIsCut(t *testing.T) {
	e := newEnvWith(t, true, func(o *Options) { o.Timeouts = shortTimeouts })
	cookie := cookieHeader(e, e.login(t))
	for _, tc := range []struct {
		path, ct string
		timeout  time.Duration
	}{
		{"/login", "application/x-www-form-urlencoded", shortTimeouts.Body},
		{"/global", "application/x-www-form-urlencoded", shortTimeouts.Body},
		{"/api/v1/global", "application/json", shortTimeouts.Body},
		{"/import", "multipart/form-data; boundary=xyz", shortTimeouts.Upload},
	} {
		conn, err := net.Dial("tcp", e.srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		method := "POST"
		if strings.HasPrefix(tc.path, "/api/") {
			method = "PUT"
		}
		start := time.Now()
		fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: x\r\nCookie: %s\r\nContent-Type: %s\r\nContent-Length: 1000\r\n\r\nx",
			method, tc.path, cookie, tc.ct)
		conn.SetReadDeadline(start.Add(tc.timeout + margin))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Errorf("%s %s: no answer within %v: %v", method, tc.path, tc.timeout+margin, err)
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		took := time.Since(start)
		if resp.StatusCode != http.StatusRequestTimeout || !strings.Contains(string(body), "did not arrive within") {
			t.Errorf("%s %s with a slow body = %d %s, want 408", method, tc.path, resp.StatusCode, body)
		}
		if took < tc.timeout {
			t.Errorf("%s %s: cut after %v, before its deadline %v", method, tc.path, took, tc.timeout)
		}
		// The connection is closed after.
		if _, err := conn.Read(make([]byte, 1)); err == nil {
			t.Errorf("%s %s: the connection is still open", method, tc.path)
		}
	}
}

// bigConfig gives the console 300 virtual servers, so that the dashboard
// is larger than small socket buffers.
func bigConfig(t *testing.T, st *store.Store) {
	t.Helper()
	_, err := st.Update(context.Background(), store.Change{Role: store.ScopeAdmin, Author: "test"}, func(c *config.Config) error {
		for i := range 300 {
			vs := config.NewVirtual(fmt.Sprintf("vs%03d", i))
			vs.Address = netip.AddrFrom4([4]byte{192, 0, 2, byte(i % 250)})
			vs.Port = 1000 + i
			rs := config.NewReal("web")
			rs.Address = netip.AddrFrom4([4]byte{10, 0, byte(i / 250), byte(i%250 + 1)})
			vs.Reals = append(vs.Reals, rs)
			c.Virtuals = append(c.Virtuals, vs)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// smallBuffers hands the server connections with a small send buffer, so
// that a client that does not read blocks the server's writes soon.
type smallBuffers struct{ net.Listener }

func (l smallBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		c.(*net.TCPConn).SetWriteBuffer(4096)
	}
	return c, err
}

// TestSlowReaderIsCut: a client that does not read its answer is cut off
// at the write deadline: a page as a whole, the dashboard's stream event
// by event.
func TestSlowReaderIsCut(t *testing.T) {
	st, err := store.Open(context.Background(), t.TempDir()+"/console.db")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.SetPassword(context.Background(), "admin", testPassword); err != nil {
		t.Fatal(err)
	}
	bigConfig(t, st)
	console, err := New(context.Background(), Options{Store: st, Timeouts: shortTimeouts, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(console)
	srv.Listener = smallBuffers{srv.Listener}
	closed := make(chan net.Addr, 10)
	srv.Config.ConnState = func(c net.Conn, s http.ConnState) {
		if s == http.StateClosed {
			closed <- c.RemoteAddr()
		}
	}
	srv.Start()
	defer srv.Close()
	e := &testEnv{store: st, console: console, srv: srv}
	cookie := cookieHeader(e, e.login(t))
	for len(closed) > 0 {
		<-closed // the login's connection, if closed already
	}
	for _, path := range []string{"/virtual", "/control/stream?every=1"} {
		conn, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.(*net.TCPConn).SetReadBuffer(4096)
		fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: x\r\nCookie: %s\r\n\r\n", path, cookie)
		// Read nothing; wait for the server to give up on this connection.
		timer := time.NewTimer(shortTimeouts.Write + margin)
	wait:
		for {
			select {
			case a := <-closed:
				if a.String() == conn.LocalAddr().String() {
					break wait
				}
			case <-timer.C:
				t.Errorf("GET %s: a client that reads nothing still holds its connection after %v", path, shortTimeouts.Write+margin)
				break wait
			}
		}
		timer.Stop()
	}
}

// TestStreamOutlivesTheDeadlines: the dashboard's stream has no deadline
// as a whole: it goes on well past the body and write deadlines.
func TestStreamOutlivesTheDeadlines(t *testing.T) {
	e := newEnvWith(t, true, func(o *Options) { o.Timeouts = shortTimeouts })
	c := e.login(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.srv.URL+"/control/stream?every=1", nil)
	start := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sr := &sseReader{r: bufio.NewReader(resp.Body)}
	for i := range 4 {
		if _, err := sr.next(); err != nil {
			t.Fatalf("event %d after %v: %v", i, time.Since(start), err)
		}
	}
	if took := time.Since(start); took < 2*(shortTimeouts.Body+shortTimeouts.Write) {
		t.Fatalf("4 events in %v: the test proves nothing", took)
	}
}
