package netif

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/jsimonetti/rtnetlink/v2"
	"github.com/lvsconsole/lvsconsole/internal/testenv"
	"github.com/lvsconsole/lvsconsole/lvs/internal/netns"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// Every test here builds network namespaces: see newNS.
func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

// wait bounds every await: events here come within milliseconds, so
// reaching it means the event never came.
const wait = 10 * time.Second

// cmd runs a command and returns its output, failing the test if it fails.
func cmd(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func ipCmd(t *testing.T, args ...string) string {
	t.Helper()
	return cmd(t, "ip", args...)
}

// newNS makes a network namespace for this test only (the pid keeps
// parallel test binaries apart) and removes it, with its links, at the end.
func newNS(t *testing.T, tag string) string {
	t.Helper()
	testenv.NetNS(t)
	name := fmt.Sprintf("netif%d%s", os.Getpid(), tag)
	exec.Command("ip", "netns", "del", name).Run() // left by a killed run
	ipCmd(t, "netns", "add", name)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	ipCmd(t, "-n", name, "link", "set", "lo", "up")
	return name
}

// veth joins dev1 in ns1 and dev2 in ns2 (which may be the same) and sets
// both up.
func veth(t *testing.T, ns1, dev1, ns2, dev2 string) {
	t.Helper()
	ipCmd(t, "-n", ns1, "link", "add", dev1, "type", "veth", "peer", "name", dev2, "netns", ns2)
	ipCmd(t, "-n", ns1, "link", "set", dev1, "up")
	ipCmd(t, "-n", ns2, "link", "set", dev2, "up")
}

// sysctl sets a sysctl inside ns with the sysctl command, independently of
// the code under test.
func sysctl(t *testing.T, ns, kv string) {
	t.Helper()
	cmd(t, "ip", "netns", "exec", ns, "sysctl", "-qw", kv)
}

// in runs fn on a thread inside ns.
func in(t *testing.T, ns string, fn func() error) {
	t.Helper()
	if err := netns.Do(ns, fn); err != nil {
		t.Fatal(err)
	}
}

// openIn opens a Handle inside ns.
func openIn(t *testing.T, ns string) *Handle {
	t.Helper()
	var h *Handle
	in(t, ns, func() (err error) { h, err = Open(); return err })
	t.Cleanup(func() { h.Close() })
	return h
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	t.Cleanup(cancel)
	return ctx
}

// linkWatch runs WatchLinks inside a namespace for the test's lifetime.
type linkWatch struct {
	ch   chan LinkState
	done chan struct{}
	err  error
}

func watchLinks(t *testing.T, ns string) *linkWatch {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w := &linkWatch{ch: make(chan LinkState), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		w.err = netns.Do(ns, func() error { return WatchLinks(ctx, w.ch) })
	}()
	t.Cleanup(func() {
		cancel()
		<-w.done
		if w.err != nil {
			t.Errorf("WatchLinks returned %v after its context ended, want nil", w.err)
		}
	})
	return w
}

// await reads states until one for dev satisfies ok.
func (w *linkWatch) await(t *testing.T, dev, what string, ok func(LinkState) bool) LinkState {
	t.Helper()
	timer := time.NewTimer(wait)
	defer timer.Stop()
	var seen []string
	for {
		select {
		case s := <-w.ch:
			if s.Device == dev && ok(s) {
				return s
			}
			seen = append(seen, fmt.Sprintf("%+v", s))
		case <-w.done:
			t.Fatalf("WatchLinks ended (%v) before %s %s", w.err, dev, what)
		case <-timer.C:
			t.Fatalf("%s not %s within %v; states seen: %s", dev, what, wait, strings.Join(seen, "; "))
		}
	}
}

func up(s LinkState) bool   { return s.Exists && s.Up }
func down(s LinkState) bool { return s.Exists && !s.Up }

// neighWatch subscribes to neighbour table changes (RTNLGRP_NEIGH) inside ns.
func neighWatch(t *testing.T, ns string) *rtnetlink.Conn {
	t.Helper()
	var c *rtnetlink.Conn
	in(t, ns, func() (err error) {
		c, err = rtnetlink.Dial(&netlink.Config{Groups: unix.RTMGRP_NEIGH})
		return err
	})
	t.Cleanup(func() { c.Close() })
	return c
}

// awaitNeigh reads neighbour events until ip's entry on ifindex has mac.
func awaitNeigh(t *testing.T, c *rtnetlink.Conn, ns string, ifindex int, ip netip.Addr, mac net.HardwareAddr) {
	t.Helper()
	if err := c.SetReadDeadline(time.Now().Add(wait)); err != nil {
		t.Fatal(err)
	}
	var seen []string
	for {
		msgs, nms, err := c.Receive()
		if err != nil {
			t.Fatalf("no neighbour update giving %s the MAC %s (%v); updates seen: %s\nip neigh in %s:\n%s",
				ip, mac, err, strings.Join(seen, "; "), ns, ipCmd(t, "-n", ns, "neigh", "show"))
		}
		for i, m := range msgs {
			nm, ok := m.(*rtnetlink.NeighMessage)
			if !ok || nms[i].Header.Type != unix.RTM_NEWNEIGH || nm.Attributes == nil {
				continue
			}
			a, _ := netip.AddrFromSlice(nm.Attributes.Address)
			seen = append(seen, fmt.Sprintf("%s lladdr %s state %#x", a.Unmap(), nm.Attributes.LLAddress, nm.State))
			if int(nm.Index) == ifindex && a.Unmap() == ip && bytes.Equal(nm.Attributes.LLAddress, mac) {
				return
			}
		}
	}
}

// macOf reads a device's MAC with ip, to check ours against.
func macOf(t *testing.T, ns, dev string) net.HardwareAddr {
	t.Helper()
	f := strings.Fields(ipCmd(t, "-n", ns, "-br", "link", "show", "dev", dev))
	if len(f) < 3 {
		t.Fatalf("ip -br link show dev %s: %q", dev, f)
	}
	mac, err := net.ParseMAC(f[2])
	if err != nil {
		t.Fatal(err)
	}
	return mac
}
