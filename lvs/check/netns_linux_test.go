package check

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/internal/testenv"
	"github.com/lvsconsole/lvsconsole/lvs/internal/netns"
)

func ipCmd(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// listenIn opens a TCP listener inside network namespace ns.
func listenIn(t *testing.T, ns, addr string) net.Listener {
	t.Helper()
	var ln net.Listener
	if err := netns.Do(ns, func() (err error) { ln, err = net.Listen("tcp", addr); return err }); err != nil {
		t.Fatal(err)
	}
	return ln
}

// TestCheckAcrossANamespace checks an HTTP server on another host (a
// network namespace behind a veth pair): up while reachable, down with a
// timeout when its link goes down, up again when it returns.
func TestCheckAcrossANamespace(t *testing.T) {
	testenv.NetNS(t)
	ns := fmt.Sprintf("lvscheck%d", os.Getpid())
	ipCmd(t, "netns", "add", ns)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	host, peer := fmt.Sprintf("lvc%dh", os.Getpid()%100000), fmt.Sprintf("lvc%dp", os.Getpid()%100000)
	ipCmd(t, "link", "add", host, "type", "veth", "peer", "name", peer)
	t.Cleanup(func() { exec.Command("ip", "link", "del", host).Run() })
	ipCmd(t, "link", "set", peer, "netns", ns)
	ipCmd(t, "addr", "add", "10.213.0.1/30", "dev", host)
	ipCmd(t, "link", "set", host, "up")
	ipCmd(t, "-n", ns, "addr", "add", "10.213.0.2/30", "dev", peer)
	ipCmd(t, "-n", ns, "link", "set", peer, "up")
	ipCmd(t, "-n", ns, "link", "set", "lo", "up")

	ln := listenIn(t, ns, "10.213.0.2:80")
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })}
	go srv.Serve(ln)
	defer srv.Close()

	target := Target{Addr: netip.MustParseAddr("10.213.0.2"), Port: 80}
	ctx := context.Background()
	half := NewHalfOpen()
	defer half.Close()
	// The syn check's segments cross a veth whose receiver verifies the
	// checksum the check computed (loopback would not).
	for _, spec := range []Spec{
		{Kind: HTTP, Timeout: 500 * time.Millisecond, BodyRegex: "^ok"},
		{Kind: SYN, Timeout: 500 * time.Millisecond},
	} {
		p, err := NewProbe(spec, WithHalfOpen(half))
		if err != nil {
			t.Fatal(err)
		}
		if r := p.Run(ctx, target); !r.OK {
			t.Fatalf("%s check across the namespace: %s", spec.Kind, r.Reason)
		}
		ipCmd(t, "-n", ns, "link", "set", peer, "down")
		if r := p.Run(ctx, target); r.OK || !strings.Contains(r.Reason, "timeout") && !strings.Contains(r.Reason, "unreachable") {
			t.Errorf("%s check with the link down: %+v, want a timeout or unreachable", spec.Kind, r)
		}
		ipCmd(t, "-n", ns, "link", "set", peer, "up")
		// The link comes back asynchronously (carrier, neighbour
		// resolution): a checker sees the server again within a few checks.
		var r Result
		for i := 0; i < 10 && !r.OK; i++ {
			r = p.Run(ctx, target)
		}
		if !r.OK {
			t.Errorf("%s check with the link back, 10 checks failed: %s", spec.Kind, r.Reason)
		}
	}
}

// TestSYNCheckSourceChange: when the route to a real server changes its
// source address, the syn check's cached source (which its checksum covers)
// costs at most one failed check: the timeout drops it, and the next check
// looks the route up again, long before the cache's TTL.
func TestSYNCheckSourceChange(t *testing.T) {
	testenv.NetNS(t)
	ns := fmt.Sprintf("lvssrc%d", os.Getpid())
	ipCmd(t, "netns", "add", ns)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	host, peer := fmt.Sprintf("lvs%dh", os.Getpid()%100000), fmt.Sprintf("lvs%dp", os.Getpid()%100000)
	ipCmd(t, "link", "add", host, "type", "veth", "peer", "name", peer)
	t.Cleanup(func() { exec.Command("ip", "link", "del", host).Run() })
	ipCmd(t, "link", "set", peer, "netns", ns)
	ipCmd(t, "addr", "add", "10.214.0.1/24", "dev", host)
	ipCmd(t, "addr", "add", "10.214.0.3/24", "dev", host)
	ipCmd(t, "link", "set", host, "up")
	ipCmd(t, "-n", ns, "addr", "add", "10.214.0.2/24", "dev", peer)
	ipCmd(t, "-n", ns, "link", "set", peer, "up")
	ipCmd(t, "route", "replace", "10.214.0.2/32", "dev", host, "src", "10.214.0.1")
	ln := listenIn(t, ns, "10.214.0.2:80")
	defer ln.Close()

	half := NewHalfOpen()
	defer half.Close()
	p, err := NewProbe(Spec{Kind: SYN, Timeout: 500 * time.Millisecond}, WithHalfOpen(half))
	if err != nil {
		t.Fatal(err)
	}
	target := Target{Addr: netip.MustParseAddr("10.214.0.2"), Port: 80}
	ctx := context.Background()
	// The link comes up asynchronously: a few checks to see it.
	var r Result
	for i := 0; i < 10 && !r.OK; i++ {
		r = p.Run(ctx, target)
	}
	if !r.OK {
		t.Fatalf("syn check across the namespace: %s", r.Reason)
	}
	ipCmd(t, "route", "replace", "10.214.0.2/32", "dev", host, "src", "10.214.0.3")
	first := p.Run(ctx, target) // may fail: its checksum is for the old source
	if r := p.Run(ctx, target); !r.OK {
		t.Errorf("second syn check after the source changed: %s (the first: %+v)", r.Reason, first)
	}
}
