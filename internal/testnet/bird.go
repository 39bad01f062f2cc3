package testnet

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// Buffer is a bytes.Buffer a child process writes while the test reads.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Bird is a BIRD 2 daemon a test runs as a router, and its control socket.
type Bird struct {
	t    testing.TB
	Sock string
}

// InNetns starts a command in the network namespace ns (ip netns exec).
func InNetns(ns string) func(*exec.Cmd) error {
	return func(c *exec.Cmd) error {
		ip, err := exec.LookPath("ip")
		if err != nil {
			return err
		}
		c.Path, c.Args = ip, append([]string{"ip", "netns", "exec", ns}, c.Args...)
		return c.Start()
	}
}

// StartBird runs BIRD with configuration conf, started by start (InNetns,
// or the caller's own way into a namespace), until t ends, and waits up
// to wait for it to answer on its socket. Its log is in t's when t fails.
func StartBird(t testing.TB, conf string, start func(*exec.Cmd) error, wait time.Duration) *Bird {
	t.Helper()
	dir := t.TempDir()
	file, sock := filepath.Join(dir, "bird.conf"), filepath.Join(dir, "bird.ctl")
	if err := os.WriteFile(file, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bird", "-c", file, "-s", sock, "-f")
	var out Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := start(cmd); err != nil {
		t.Fatalf("bird: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("bird's log:\n%s", out.String())
		}
	})
	for deadline := time.Now().Add(wait); exec.Command("birdc", "-s", sock, "show", "status").Run() != nil; {
		if time.Now().After(deadline) {
			t.Fatalf("BIRD did not answer on its socket in %v:\n%s", wait, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return &Bird{t: t, Sock: sock}
}

// Birdc runs a BIRD command and returns its output; a failure fails t.
func (b *Bird) Birdc(args ...string) string {
	out, err := exec.Command("birdc", append([]string{"-s", b.Sock}, args...)...).CombinedOutput()
	if err != nil {
		b.t.Fatalf("birdc %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// NextHops are the gateways of the network namespace ns's kernel route to
// p, sorted: one for a plain route, each next hop's for ECMP, none when
// there is no route.
func NextHops(ns string, p netip.Prefix) ([]string, error) {
	family := "-4"
	if p.Addr().Is6() {
		family = "-6"
	}
	out, err := exec.Command("ip", "-n", ns, family, "-j", "route", "show", "exact", p.String()).Output()
	if err != nil {
		return nil, err
	}
	return ParseNextHops(out)
}

// ParseNextHops reads the gateways of `ip -j route`'s answer, sorted.
func ParseNextHops(js []byte) ([]string, error) {
	var routes []struct {
		Gateway  string `json:"gateway"`
		Nexthops []struct {
			Gateway string `json:"gateway"`
		} `json:"nexthops"`
	}
	if err := json.Unmarshal(js, &routes); err != nil {
		return nil, err
	}
	var gws []string
	for _, r := range routes {
		if r.Gateway != "" {
			gws = append(gws, r.Gateway)
		}
		for _, n := range r.Nexthops {
			gws = append(gws, n.Gateway)
		}
	}
	slices.Sort(gws)
	return gws, nil
}
