package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// margin is how long the tests wait for what must happen at once: the
// machine may be busy.
const margin = 5 * time.Second

// serveOn runs serve in-process on a loopback port with args added,
// and returns its address; it stops with the test.
func serveOn(t *testing.T, args ...string) string {
	t.Helper()
	db := filepath.Join(t.TempDir(), "lvs.db")
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	e := &env{stdin: strings.NewReader(""), stdout: io.Discard, stderr: pw, stdinFd: -1}
	done := make(chan error, 1)
	args = append([]string{"serve", "-db", db, "-listen", "127.0.0.1:0", "-failover=false"}, args...)
	go func() { done <- run(ctx, e, args); pw.Close() }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("serve did not stop")
		}
	})
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		line := sc.Text()
		if i := strings.Index(line, "url=http://"); i >= 0 && strings.Contains(line, "console listening") {
			go io.Copy(io.Discard, pr)
			return strings.Fields(line[i+len("url=http://"):])[0]
		}
	}
	t.Fatalf("serve did not say where it listens: %v", <-done)
	return ""
}

// dialFrom opens a connection to addr from the loopback address from.
func dialFrom(t *testing.T, from, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// slowBody starts a request whose body never comes, holding the
// connection.
func slowBody(t *testing.T, c net.Conn) {
	t.Helper()
	if _, err := fmt.Fprintf(c, "POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nu"); err != nil {
		t.Fatal(err)
	}
}

// closedAtOnce reports whether the server closes c without an answer
// within the margin.
func closedAtOnce(c net.Conn) bool {
	c.SetReadDeadline(time.Now().Add(margin))
	n, err := c.Read(make([]byte, 1))
	return n == 0 && err != nil && !errors.Is(err, context.DeadlineExceeded) && !isTimeout(err)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// getFrom GETs /healthz from the loopback address from, and waits for
// the server to close the connection (Connection: close), so that its
// slot is free again when getFrom returns.
func getFrom(from, addr string) (int, error) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: margin}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(margin))
	if _, err := fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"); err != nil {
		return 0, err
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	if _, err := io.Copy(io.Discard, br); err != nil { // until the server closes
		return 0, err
	}
	return resp.StatusCode, nil
}

// TestConnectionCaps: one address holding its share of connections with
// bodies that never come cannot starve another client; connections over
// a cap are closed at once, not queued.
func TestConnectionCaps(t *testing.T) {
	addr := serveOn(t, "-max-conns", "8", "-max-conns-per-client", "4")
	var held []net.Conn
	for range 4 {
		c := dialFrom(t, "127.0.0.1", addr)
		slowBody(t, c)
		held = append(held, c)
	}
	// Another client still gets in.
	if code, err := getFrom("127.0.0.2", addr); err != nil || code != http.StatusOK {
		t.Fatalf("GET from another address while the first holds its cap: %d %v", code, err)
	}
	// The first address gets no more.
	if c := dialFrom(t, "127.0.0.1", addr); !closedAtOnce(c) {
		t.Errorf("a fifth connection from one address was not closed at once")
	}
	// Fill the total from a second address: a third is turned away.
	for range 4 {
		slowBody(t, dialFrom(t, "127.0.0.3", addr))
	}
	if c := dialFrom(t, "127.0.0.4", addr); !closedAtOnce(c) {
		t.Errorf("a connection over the total was not closed at once")
	}
	// A slot freed is a slot again.
	held[0].Close()
	deadline := time.Now().Add(margin)
	for {
		code, err := getFrom("127.0.0.4", addr)
		if err == nil && code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a slot freed did not come back: %d %v", code, err)
		}
		time.Sleep(20 * time.Millisecond) // polling, with a deadline
	}
}

func TestConnCapFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-max-conns", "0"},
		{"-max-conns-per-client", "0"},
		{"-max-conns", "4", "-max-conns-per-client", "8"},
		{"-trusted-proxy", "not-an-address"},
	} {
		_, stderr, err := runCmd(t, "", append([]string{"serve", "-db", filepath.Join(t.TempDir(), "x.db"), "-listen", "127.0.0.1:0"}, args...)...)
		if err == nil {
			t.Errorf("serve %v started", args)
			continue
		}
		if !strings.Contains(err.Error()+stderr, strings.TrimPrefix(args[len(args)-2], "-")) {
			t.Errorf("serve %v: %v, want the flag named", args, err)
		}
	}
}

func TestAdmit(t *testing.T) {
	for _, tc := range []struct {
		total, client, max, perClient int
		counted, want                 bool
	}{
		{0, 0, 8, 4, true, true},
		{7, 3, 8, 4, true, true},
		{8, 0, 8, 4, true, false},
		{3, 4, 8, 4, true, false},
		{3, 4, 8, 4, false, true}, // a trusted proxy: the total only
		{8, 0, 8, 4, false, false},
	} {
		if got := admit(tc.total, tc.client, tc.max, tc.perClient, tc.counted); got != tc.want {
			t.Errorf("admit(%+v) = %v", tc, got)
		}
	}
}

func TestConnLimitClients(t *testing.T) {
	l := newConnLimit(nil, 8, 4, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/24")}, nil)
	for _, tc := range []struct {
		addr    string
		key     string
		counted bool
	}{
		{"192.0.2.1:5000", "192.0.2.1/32", true},
		{"[::ffff:192.0.2.1]:5000", "192.0.2.1/32", true},
		{"[2001:db8:1:2:3:4:5:6]:5000", "2001:db8:1:2::/64", true},
		{"[fe80::1%eth0]:5000", "fe80::/64", true},
		{"10.0.0.7:5000", "", false},
	} {
		ap := net.TCPAddrFromAddrPort(netip.MustParseAddrPort(tc.addr))
		key, counted := l.clientOf(ap)
		if counted != tc.counted || counted && key.String() != tc.key {
			t.Errorf("clientOf(%s) = %s, %v", tc.addr, key, counted)
		}
	}
}

func TestParsePrefixes(t *testing.T) {
	got, err := parsePrefixes(" 10.0.0.5, 192.0.2.0/24,2001:db8::/32 ,::ffff:10.1.1.1,")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"10.0.0.5/32", "192.0.2.0/24", "2001:db8::/32", "10.1.1.1/32"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("parsePrefixes = %v, want %v", got, want)
	}
	if _, err := parsePrefixes("10.0.0.0/24,proxy.example"); err == nil || !strings.Contains(err.Error(), "proxy.example") {
		t.Errorf("a name: %v", err)
	}
}

// TestServeTrustedProxy: serve believes X-Forwarded-Proto from the proxy
// it is told to trust, and from nobody else.
func TestServeTrustedProxy(t *testing.T) {
	addr := serveOn(t, "-trusted-proxy", "127.0.0.2/32")
	hsts := func(from string) string {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: margin}
		cl := &http.Client{Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}, Timeout: margin}
		req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/healthz", nil)
		req.Header.Set("X-Forwarded-Proto", "https")
		req.Header.Set("X-Forwarded-For", "203.0.113.1")
		resp, err := cl.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.Header.Get("Strict-Transport-Security")
	}
	if h := hsts("127.0.0.1"); h != "" {
		t.Errorf("an untrusted peer's X-Forwarded-Proto was believed: HSTS %q", h)
	}
	if h := hsts("127.0.0.2"); h == "" {
		t.Errorf("the trusted proxy's X-Forwarded-Proto was not believed")
	}
}
