package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/pem"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/internal/tlscert"
)

func TestIsLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:3636":        true,
		"127.1.2.3:3636":        true,
		"[::1]:3636":            true,
		"[::ffff:127.0.0.1]:36": true,
		"0.0.0.0:3636":          false, // ":3636": every address
		"[::]:3636":             false,
		"10.0.0.1:3636":         false,
		"[2001:db8::1]:3636":    false,
	} {
		if got := isLoopback(net.TCPAddrFromAddrPort(netip.MustParseAddrPort(addr))); got != want {
			t.Errorf("%s: loopback %v, want %v", addr, got, want)
		}
	}
}

// serveLog runs serve in-process with args until the test ends and
// collects its log; dial, if set, is how a client reaches the console.
type serveLog struct {
	mu    sync.Mutex
	cond  *sync.Cond
	lines []string
	done  chan error
	stop  context.CancelFunc
}

func startServeLog(t *testing.T, runIn func(func()), args ...string) *serveLog {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	s := &serveLog{done: make(chan error, 1), stop: cancel}
	s.cond = sync.NewCond(&s.mu)
	e := &env{stdin: strings.NewReader(""), stdout: io.Discard, stderr: pw, stdinFd: -1}
	if runIn == nil {
		runIn = func(f func()) { go f() }
	}
	runIn(func() {
		s.done <- run(ctx, e, append([]string{"serve", "-failover=false"}, args...))
		pw.Close()
	})
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			s.mu.Lock()
			s.lines = append(s.lines, sc.Text())
			s.cond.Broadcast()
			s.mu.Unlock()
			if testing.Verbose() {
				t.Log(sc.Text())
			}
		}
		s.mu.Lock()
		s.lines = append(s.lines, "EOF")
		s.cond.Broadcast()
		s.mu.Unlock()
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-s.done:
		case <-time.After(10 * time.Second):
			t.Error("serve did not stop")
		}
	})
	return s
}

// await returns the first log line (from position from) with every word,
// failing after 10 s or when serve ends.
func (s *serveLog) await(t *testing.T, from int, words ...string) (string, int) {
	t.Helper()
	timer := time.AfterFunc(10*time.Second, func() { s.mu.Lock(); s.lines = append(s.lines, "TIMEOUT"); s.cond.Broadcast(); s.mu.Unlock() })
	defer timer.Stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := from; ; i++ {
		for i >= len(s.lines) {
			s.cond.Wait()
		}
		l := s.lines[i]
		if l == "EOF" || l == "TIMEOUT" {
			t.Fatalf("serve did not log %q (%s); its log:\n%s", words, l, strings.Join(s.lines, "\n"))
		}
		ok := true
		for _, w := range words {
			ok = ok && strings.Contains(l, w)
		}
		if ok {
			return l, i + 1
		}
	}
}

// field is the value of key=value in a log line.
func field(line, key string) string {
	i := strings.Index(line, " "+key+"=")
	if i < 0 {
		return ""
	}
	v := line[i+len(key)+2:]
	if strings.HasPrefix(v, `"`) {
		return strings.Trim(v[:strings.Index(v[1:], `"`)+2], `"`)
	}
	return strings.Fields(v)[0]
}

// handshake returns the pin of the certificate the console at addr serves.
func handshake(t *testing.T, dial func(ctx context.Context, network, addr string) (net.Conn, error), addr string) tlscert.Pin {
	t.Helper()
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	raw, err := dial(context.Background(), "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c := tls.Client(raw, &tls.Config{InsecureSkipVerify: true})
	defer c.Close()
	if err := c.Handshake(); err != nil {
		t.Fatal(err)
	}
	return tlscert.PinOf(c.ConnectionState().PeerCertificates[0].Raw)
}

func writeTestPair(t *testing.T, certFile, keyFile string) tlscert.Pin {
	t.Helper()
	c, k, err := tlscert.Make(tlscert.Names{IPs: []netip.Addr{netip.MustParseAddr("127.0.0.1")}}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct {
		name string
		data []byte
	}{{keyFile, k}, {certFile, c}} {
		if err := os.WriteFile(f.name+".new", f.data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(f.name+".new", f.name); err != nil {
			t.Fatal(err)
		}
	}
	b, _ := pem.Decode(c)
	return sha256.Sum256(b.Bytes)
}

// TestServeTLSCertReloads: with -tls-cert, serve speaks HTTPS (on
// loopback too), logs the fingerprint with the setup code, sets Secure
// cookies, and serves a replaced pair from the next handshake after the
// files change; a broken new pair keeps the last good one, and says why.
func TestServeTLSCertReloads(t *testing.T) {
	dir := t.TempDir()
	cf, kf := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	first := writeTestPair(t, cf, kf)
	s := startServeLog(t, nil, "-db", filepath.Join(dir, "lvs.db"), "-listen", "127.0.0.1:0", "-tls-cert", cf, "-tls-key", kf)
	line, at := s.await(t, 0, "console listening", "url=https://")
	addr := strings.TrimPrefix(field(line, "url"), "https://")
	line, at = s.await(t, at, "console certificate")
	if field(line, "sha256") != first.String() {
		t.Errorf("logged fingerprint %q, want %s", field(line, "sha256"), first)
	}
	line, at = s.await(t, at, "setup_code=")
	if field(line, "sha256") != first.String() {
		t.Errorf("the setup code's line lacks the fingerprint: %s", line)
	}
	if got := handshake(t, nil, addr); got != first {
		t.Fatalf("serves %s, want %s", got, first)
	}

	// The session cookie is Secure over TLS.
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	code := field(line, "setup_code")
	resp, err := client.PostForm("https://"+addr+"/setup", url.Values{"code": {code}, "user": {"admin"},
		"password": {"a long pass phrase"}, "password2": {"a long pass phrase"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cookies := resp.Cookies()
	if resp.StatusCode != http.StatusSeeOther || len(cookies) == 0 {
		t.Fatalf("setup over TLS: %s, cookies %v", resp.Status, cookies)
	}
	for _, c := range cookies {
		if !c.Secure || !strings.HasPrefix(c.Name, "__Host-") {
			t.Errorf("cookie %s over TLS: Secure %v, want a Secure __Host- cookie", c.Name, c.Secure)
		}
	}
	// Plain HTTP on the TLS port: Go's 400, which says what to do.
	if resp, err := http.Get("http://" + addr + "/"); err != nil || resp.StatusCode != http.StatusBadRequest {
		t.Errorf("plain HTTP on the TLS port: %v %v", resp, err)
	} else {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(b), "HTTP request to an HTTPS server") {
			t.Errorf("plain HTTP on the TLS port says %q", b)
		}
	}

	second := writeTestPair(t, cf, kf)
	line, at = s.await(t, at, "the console's certificate changed")
	if field(line, "sha256") != second.String() {
		t.Errorf("logged %s, want %s", line, second)
	}
	if got := handshake(t, nil, addr); got != second {
		t.Fatalf("after the change: serves %s, want %s", got, second)
	}

	// A certificate whose key is not the one beside it.
	c, _, err := tlscert.Make(tlscert.Names{DNS: []string{"other"}}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cf+".new", c, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(cf+".new", cf); err != nil {
		t.Fatal(err)
	}
	s.await(t, at, "do not load", "private key does not match")
	if got := handshake(t, nil, addr); got != second {
		t.Fatalf("after a broken pair: serves %s, want the last good %s", got, second)
	}
}

func TestServeFlagsExclude(t *testing.T) {
	db := filepath.Join(t.TempDir(), "lvs.db")
	_, _, err := runCmd(t, "", "serve", "-db", db, "-listen", "127.0.0.1:0", "-insecure-http", "-tls-cert", "c", "-tls-key", "k")
	if err == nil || !strings.Contains(err.Error(), "-insecure-http and -tls-cert") {
		t.Errorf("-insecure-http with -tls-cert: %v", err)
	}
	_, _, err = runCmd(t, "", "serve", "-db", db, "-listen", "127.0.0.1:0", "-tls-cert", filepath.Join(t.TempDir(), "none"), "-tls-key", "k")
	if err == nil || !strings.Contains(err.Error(), "none") {
		t.Errorf("a missing certificate: %v", err)
	}
}

// TestServeLoopbackIsPlainHTTP: on loopback the console serves plain HTTP
// and makes no certificate.
func TestServeLoopbackIsPlainHTTP(t *testing.T) {
	dir := t.TempDir()
	s := startServeLog(t, nil, "-db", filepath.Join(dir, "lvs.db"), "-listen", "127.0.0.1:0")
	s.await(t, 0, "console listening", "url=http://")
	if _, err := os.Stat(filepath.Join(dir, tlscert.CertName)); !os.IsNotExist(err) {
		t.Errorf("a certificate was made for a loopback console: %v", err)
	}
}
