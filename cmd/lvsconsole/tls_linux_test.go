package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/lvsconsole/lvsconsole/internal/testenv"
	"github.com/lvsconsole/lvsconsole/internal/tlscert"
)

// labNS makes a network namespace whose lo is up and holds 10.77.0.1 (an
// address that is not loopback, as a director's LAN address is not).
func labNS(t *testing.T) string {
	t.Helper()
	testenv.NetNS(t)
	name := fmt.Sprintf("lvtls%d", os.Getpid()%100000)
	for _, args := range [][]string{{"netns", "add", name}, {"-n", name, "link", "set", "lo", "up"}, {"-n", name, "addr", "add", "10.77.0.1/32", "dev", "lo"}} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		if args[0] == "netns" {
			t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
		}
	}
	return name
}

// inNS runs f in a goroutine whose thread is in namespace ns; the thread
// ends with it (it stays locked), so no other goroutine runs there.
func inNS(t *testing.T, ns string) func(func()) {
	return func(f func()) {
		go func() {
			runtime.LockOSThread()
			fd, err := unix.Open("/run/netns/"+ns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				t.Error(err)
				return
			}
			defer unix.Close(fd)
			if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
				t.Error(err)
				return
			}
			f()
		}()
	}
}

// nsDial dials from namespace ns.
func nsDial(t *testing.T, ns string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		type result struct {
			c   net.Conn
			err error
		}
		ch := make(chan result, 1)
		inNS(t, ns)(func() {
			c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			ch <- result{c, err}
		})
		r := <-ch
		return r.c, r.err
	}
}

// TestServeSelfSigned: on an address that is not loopback and without
// -tls-cert, serve makes a self-signed certificate beside the database
// (the key private), serves HTTPS with it, logs its fingerprint with the
// setup code, and uses the same one at the next start.
func TestServeSelfSigned(t *testing.T) {
	ns := labNS(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "lvs.db")
	var pin tlscert.Pin
	for start := range 2 {
		s := startServeLog(t, inNS(t, ns), "-db", db, "-listen", "10.77.0.1:0")
		at := 0
		if start == 0 {
			_, at = s.await(t, at, "made a self-signed certificate", "file="+filepath.Join(dir, "console.crt"))
		}
		line, at := s.await(t, at, "console listening", "url=https://10.77.0.1:")
		addr := strings.TrimPrefix(field(line, "url"), "https://")
		line, at = s.await(t, at, "console certificate", "sha256=")
		logged := field(line, "sha256")
		line, _ = s.await(t, at, "setup_code=")
		if field(line, "sha256") != logged {
			t.Errorf("the setup line lacks the fingerprint %s: %s", logged, line)
		}
		got := handshake(t, nsDial(t, ns), addr)
		if got.String() != logged {
			t.Errorf("serves %s, logged %s", got, logged)
		}
		if start == 0 {
			pin = got
		} else if got != pin {
			t.Errorf("the second start serves %s, the first %s: the certificate was not reused", got, pin)
		}
		s.mu.Lock()
		made := strings.Contains(strings.Join(s.lines, "\n"), "made a self-signed")
		s.mu.Unlock()
		if start == 1 && made {
			t.Error("the second start made a new certificate")
		}
		s.stop()
		<-s.done
		s.done <- nil // for the cleanup
	}
	fi, err := os.Stat(filepath.Join(dir, "console.key"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("console.key: %v, mode %v; want 0600", err, fi.Mode().Perm())
	}
	c, err := tls.LoadX509KeyPair(filepath.Join(dir, "console.crt"), filepath.Join(dir, "console.key"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Leaf.VerifyHostname("10.77.0.1"); err != nil {
		t.Errorf("the certificate does not name the listening address: %v", err)
	}
}

// TestServeInsecureHTTP: -insecure-http serves plain HTTP on an address
// that is not loopback, says so at start, and makes no certificate.
func TestServeInsecureHTTP(t *testing.T) {
	ns := labNS(t)
	dir := t.TempDir()
	s := startServeLog(t, inNS(t, ns), "-db", filepath.Join(dir, "lvs.db"), "-listen", "10.77.0.1:0", "-insecure-http")
	_, at := s.await(t, 0, "level=WARN", "-insecure-http", "in clear")
	line, _ := s.await(t, at, "console listening", "url=http://10.77.0.1:")
	addr := strings.TrimPrefix(field(line, "url"), "http://")
	client := &http.Client{Transport: &http.Transport{DialContext: nsDial(t, ns)}}
	resp, err := client.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), `"ok"`) {
		t.Errorf("GET /healthz over plain HTTP = %s %s", resp.Status, b)
	}
	if _, err := os.Stat(filepath.Join(dir, "console.crt")); !os.IsNotExist(err) {
		t.Errorf("a certificate was made with -insecure-http: %v", err)
	}
}
