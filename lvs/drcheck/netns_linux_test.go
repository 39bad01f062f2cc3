package drcheck

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/internal/testenv"
	"github.com/lvsconsole/lvsconsole/internal/testnet"
	"github.com/lvsconsole/lvsconsole/lvs/direct"
	"github.com/lvsconsole/lvsconsole/lvs/internal/netns"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

func ipCmd(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func sysctl(t *testing.T, ns string, kvs ...string) {
	t.Helper()
	for _, kv := range kvs {
		if out, err := exec.Command("ip", "netns", "exec", ns, "sysctl", "-qw", kv).CombinedOutput(); err != nil {
			t.Fatalf("sysctl %s in %s: %v\n%s", kv, ns, err, out)
		}
	}
}

func newNS(t *testing.T, tag string) string {
	t.Helper()
	name := fmt.Sprintf("drc%d%s", os.Getpid(), tag)
	exec.Command("ip", "netns", "del", name).Run() // left by a killed run
	ipCmd(t, "netns", "add", name)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	ipCmd(t, "-n", name, "link", "set", "lo", "up")
	return name
}

// lab is a director and a real server on one link.
type lab struct {
	dir, real string
	dirDev    string
	realAddr  netip.Addr
	checker   *Checker
}

// newLab joins two new namespaces by a veth pair, with IPv4 and IPv6
// addresses (no duplicate address detection, so that they are usable at
// once), and a Checker whose checks run in the director's.
func newLab(t *testing.T) *lab {
	t.Helper()
	testenv.NetNS(t) // ss comes with ip (iproute2), sysctl with procps (essential)
	l := &lab{dir: newNS(t, "d"), real: newNS(t, "r"), dirDev: "drcd", realAddr: netip.MustParseAddr("10.214.0.2")}
	for _, ns := range []string{l.dir, l.real} {
		sysctl(t, ns, "net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0")
	}
	ipCmd(t, "-n", l.dir, "link", "add", l.dirDev, "type", "veth", "peer", "name", "drcr", "netns", l.real)
	ipCmd(t, "-n", l.dir, "addr", "add", "10.214.0.1/24", "dev", l.dirDev)
	ipCmd(t, "-n", l.dir, "addr", "add", "fd14::1/64", "dev", l.dirDev, "nodad")
	ipCmd(t, "-n", l.real, "addr", "add", "10.214.0.2/24", "dev", "drcr")
	ipCmd(t, "-n", l.real, "addr", "add", "fd14::2/64", "dev", "drcr", "nodad")
	ipCmd(t, "-n", l.dir, "link", "set", l.dirDev, "up")
	ipCmd(t, "-n", l.real, "link", "set", "drcr", "up")
	// The kernel turns a veth's carrier on asynchronously (linkwatch, up
	// to a second later); until then the ARP request the check makes the
	// kernel send is dropped, and the next comes a second later, after
	// the check's timeout.
	l.linkUp(t, l.dir, l.dirDev)
	l.linkUp(t, l.real, "drcr")
	// 2 s: an answer that comes is there in microseconds, but a loaded
	// machine running the race detector can hold a thread for longer.
	l.checker = New(Options{Timeout: 2 * time.Second})
	l.checker.run = func(ctx context.Context, tg direct.Target, timeout time.Duration) direct.Result {
		var r direct.Result
		if err := netns.Do(l.dir, func() error { r = probe(ctx, tg, timeout); return nil }); err != nil {
			t.Errorf("enter %s: %v", l.dir, err)
		}
		return r
	}
	return l
}

// serveVIP configures the VIP on the real server's lo, as the snippet
// says, and listens on it when port is not 0.
func (l *lab) serveVIP(t *testing.T, vip netip.Addr, port int) {
	t.Helper()
	sysctl(t, l.real, "net.ipv4.conf.all.arp_ignore=1", "net.ipv4.conf.all.arp_announce=2")
	if vip.Is4() {
		ipCmd(t, "-n", l.real, "addr", "add", vip.String()+"/32", "dev", "lo")
	} else {
		ipCmd(t, "-n", l.real, "addr", "add", vip.String()+"/128", "dev", "lo")
	}
	if port == 0 {
		return
	}
	var ln net.Listener
	if err := netns.Do(l.real, func() (err error) {
		ln, err = net.Listen("tcp", netip.AddrPortFrom(vip, uint16(port)).String())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	testnet.Serve(ln, nil)
}

func (l *lab) check(t *testing.T, vip string, port uint16, real string) direct.Result {
	t.Helper()
	return l.checker.Check(context.Background(), direct.Target{VIP: netip.MustParseAddr(vip), Port: port, Real: netip.MustParseAddr(real)})
}

// halfOpen lists the real server's TCP sockets in SYN-RECV, waiting a
// while for the check's RST to arrive: a check must leave none (without
// the RST one stays for a minute, the SYN-ACK's retransmissions).
func halfOpen(t *testing.T, ns string) string {
	t.Helper()
	deadline := time.Now().Add(time.Second)
	for {
		out, err := exec.Command("ip", "netns", "exec", ns, "ss", "-Htn", "state", "syn-recv").CombinedOutput()
		if err != nil {
			t.Fatalf("ss: %v\n%s", err, out)
		}
		if s := strings.TrimSpace(string(out)); s == "" || time.Now().After(deadline) {
			return s
		}
		time.Sleep(10 * time.Millisecond) // polling for a state, with a deadline
	}
}

// TestProbeAcceptsTheVIP is case A: the VIP on lo, ARP quiet, a listener:
// a SYN-ACK, then no half-open connection left on the real server.
func TestProbeAcceptsTheVIP(t *testing.T) {
	l := newLab(t)
	l.serveVIP(t, netip.MustParseAddr("10.214.9.9"), 80)
	r := l.check(t, "10.214.9.9", 80, "10.214.0.2")
	if r.Outcome != direct.Accepted || !r.AcceptsVIP() || r.RTT <= 0 {
		t.Fatalf("check = %+v (%s), want Accepted with an RTT", r, r)
	}
	if !strings.HasPrefix(r.String(), "accepts traffic for VIP 10.214.9.9 (SYN-ACK") {
		t.Errorf("text %q", r)
	}
	t.Log(r)
	// The RST the check sends ends the half-open connection at once.
	if s := halfOpen(t, l.real); s != "" {
		t.Errorf("half-open connections left on the real server:\n%s", s)
	}
	// A second check within the TTL is the first's result.
	if again := l.check(t, "10.214.9.9", 80, "10.214.0.2"); again != r {
		t.Errorf("second check %+v, want the cached %+v", again, r)
	}
}

// TestProbeVIPNotConfigured is case B: the real server drops a packet for
// an address it does not have.
func TestProbeVIPNotConfigured(t *testing.T) {
	l := newLab(t)
	r := l.check(t, "10.214.9.9", 80, "10.214.0.2")
	if r.Outcome != direct.Silent || r.AcceptsVIP() {
		t.Fatalf("check = %+v (%s), want Silent", r, r)
	}
	if !strings.Contains(r.String(), "add the VIP on lo") {
		t.Errorf("text %q does not say what to do", r)
	}
}

// TestProbeVIPWithoutListener is case C: the VIP is there, the port
// closed: a RST from the VIP, which still proves the VIP is accepted.
func TestProbeVIPWithoutListener(t *testing.T) {
	l := newLab(t)
	l.serveVIP(t, netip.MustParseAddr("10.214.9.9"), 0)
	r := l.check(t, "10.214.9.9", 81, "10.214.0.2")
	if r.Outcome != direct.Refused || !r.AcceptsVIP() {
		t.Fatalf("check = %+v (%s), want Refused", r, r)
	}
	if !strings.Contains(r.String(), "port 81/tcp is closed") {
		t.Errorf("text %q", r)
	}
	t.Log(r)
}

// TestProbeDirectorHasTheVIP: the active director holds the VIP itself,
// so its kernel drops the SYN-ACK from the VIP as a martian; the check
// sees it on the packet socket all the same, and its RST ends the
// half-open connection.
func TestProbeDirectorHasTheVIP(t *testing.T) {
	l := newLab(t)
	ipCmd(t, "-n", l.dir, "addr", "add", "10.214.9.9/32", "dev", l.dirDev)
	l.serveVIP(t, netip.MustParseAddr("10.214.9.9"), 80)
	r := l.check(t, "10.214.9.9", 80, "10.214.0.2")
	if r.Outcome != direct.Accepted {
		t.Fatalf("check = %+v (%s), want Accepted", r, r)
	}
	if s := halfOpen(t, l.real); s != "" {
		t.Errorf("half-open connections left on the real server:\n%s", s)
	}
}

// TestProbeIPv6 is cases A, B and C over IPv6 (neighbour discovery, the
// IPv6 checksum). Without the VIP, Linux answers with an ICMPv6 error: it
// tries to route the packet on and has no route to the VIP.
func TestProbeIPv6(t *testing.T) {
	l := newLab(t)
	// IPv6 sends neighbour solicitations once the link is ready, which
	// its link-local address shows (carrier comes asynchronously).
	l.linkLocalReady(t, l.dir, l.dirDev)
	l.linkLocalReady(t, l.real, "drcr")
	if r := l.check(t, "fd14:9::9", 80, "fd14::2"); r.Outcome != direct.ICMP || r.Detail != "no route to destination from fd14::2" ||
		!strings.Contains(r.String(), "add the VIP on lo") {
		t.Fatalf("check before the VIP is configured = %+v (%s), want ICMP no route from fd14::2", r, r)
	}
	l.serveVIP(t, netip.MustParseAddr("fd14:9::9"), 80)
	l.checker.ttl = 0 // a new check
	if r := l.check(t, "fd14:9::9", 80, "fd14::2"); r.Outcome != direct.Accepted {
		t.Fatalf("check = %+v (%s), want Accepted", r, r)
	}
	if r := l.check(t, "fd14:9::9", 81, "fd14::2"); r.Outcome != direct.Refused {
		t.Fatalf("check of a closed port = %+v (%s), want Refused", r, r)
	}
}

// linkLocalReady waits until dev in ns has a usable link-local address.
// linkUp waits for dev in ns to be operationally up (its carrier on).
func (l *lab) linkUp(t *testing.T, ns, dev string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		out := ipCmd(t, "-n", ns, "-o", "link", "show", "dev", dev)
		if strings.Contains(out, " state UP ") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s in %s not up within 10 s:\n%s", dev, ns, out)
		}
		time.Sleep(10 * time.Millisecond) // polling for a state, with a deadline
	}
}

func (l *lab) linkLocalReady(t *testing.T, ns, dev string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		out := ipCmd(t, "-n", ns, "-6", "addr", "show", "dev", dev, "scope", "link")
		if strings.Contains(out, "fe80::") && !strings.Contains(out, "tentative") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no link-local address on %s in %s within 10 s:\n%s", dev, ns, out)
		}
		time.Sleep(10 * time.Millisecond) // polling for a state, with a deadline
	}
}

// TestProbeFailures: what cannot be checked says why.
func TestProbeFailures(t *testing.T) {
	l := newLab(t)
	for _, tc := range []struct{ vip, real, want string }{
		{"10.214.9.9", "10.214.0.1", "is an address of this director"},
		{"10.214.9.9", "10.214.0.3", "no answer to ARP"},
		{"10.214.9.9", "fd14::2", "not of one address family"},
		{"10.214.9.9", "192.0.2.1", "route to 192.0.2.1"},
	} {
		r := l.check(t, tc.vip, 80, tc.real)
		if r.Outcome != direct.Failed || !strings.Contains(r.Detail, tc.want) {
			t.Errorf("check of %s for %s = %+v, want a failure saying %q", tc.real, tc.vip, r, tc.want)
		}
	}
}
