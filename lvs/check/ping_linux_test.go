package check

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/internal/testenv"
	"github.com/lvsconsole/lvsconsole/lvs/internal/netns"
)

// TestPing pings loopback over both kinds of socket, IPv4 and IPv6: the
// unprivileged ICMP socket (ping_group_range lets root have one) and the
// raw one it falls back to.
func TestPing(t *testing.T) {
	testenv.Root(t)
	for _, raw := range []bool{false, true} {
		for _, a := range []string{"127.0.0.1", "::1"} {
			t.Run(fmt.Sprintf("%s raw=%v", a, raw), func(t *testing.T) {
				p, err := NewProbe(Spec{Kind: Ping, Timeout: 2 * time.Second})
				if err != nil {
					t.Fatal(err)
				}
				p.icmpRaw = raw
				// The port is not a ping's: 0 is fine.
				if r := p.Run(context.Background(), Target{Addr: netip.MustParseAddr(a)}); !r.OK || r.Reason != "echo reply" {
					t.Fatalf("ping %s: %+v", a, r)
				}
			})
		}
	}
}

// TestPingNoReply pings loopback in a network namespace whose kernel
// ignores echoes: DOWN at the timeout, over both kinds of socket.
func TestPingNoReply(t *testing.T) {
	testenv.NetNS(t)
	ns := fmt.Sprintf("lvsping%d", os.Getpid())
	ipCmd(t, "netns", "add", ns)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	ipCmd(t, "-n", ns, "link", "set", "lo", "up")
	for _, sysctl := range []string{"net.ipv4.icmp_echo_ignore_all=1", "net.ipv6.icmp.echo_ignore_all=1"} {
		if out, err := exec.Command("ip", "netns", "exec", ns, "sysctl", "-w", sysctl).CombinedOutput(); err != nil {
			t.Fatalf("sysctl %s: %v\n%s", sysctl, err, out)
		}
	}
	for _, raw := range []bool{false, true} {
		for _, a := range []string{"127.0.0.1", "::1"} {
			p, err := NewProbe(Spec{Kind: Ping, Timeout: 300 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			p.icmpRaw = raw
			var r Result
			if err := netns.Do(ns, func() error { r = p.Run(context.Background(), Target{Addr: netip.MustParseAddr(a)}); return nil }); err != nil {
				t.Fatal(err)
			}
			if r.OK || r.Reason != "no echo reply within 300ms" {
				t.Errorf("ping %s (raw=%v) where echoes are ignored: %+v", a, raw, r)
			}
		}
	}
}
