package netif

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/jsimonetti/rtnetlink/v2"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// addrLines returns the lines of `ip -o addr show dev` in ns that hold ip.
func addrLines(t *testing.T, ns, family, dev string, ip netip.Addr) []string {
	t.Helper()
	var lines []string
	for _, l := range strings.Split(ipCmd(t, "-n", ns, "-o", family, "addr", "show", "dev", dev), "\n") {
		if strings.Contains(l, " "+ip.String()+"/") {
			lines = append(lines, l)
		}
	}
	return lines
}

func has(t *testing.T, h *Handle, ip netip.Addr) bool {
	t.Helper()
	ok, err := h.Has(testCtx(t), ip)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

// TestAddDelIPv4Label puts a VIP with a label on a veth inside a namespace
// and takes it off, checking each step with ip and with Has.
func TestAddDelIPv4Label(t *testing.T) {
	t.Parallel()
	ns := newNS(t, "a4")
	veth(t, ns, "d0", ns, "d1")
	h := openIn(t, ns)
	ctx := testCtx(t)
	a := Addr{Prefix: netip.MustParsePrefix("10.99.0.100/24"), Device: "d0", Label: "d0:1"}
	ip := a.Prefix.Addr()

	if has(t, h, ip) {
		t.Fatalf("Has(%s) before Add: true", ip)
	}
	if err := h.Add(ctx, a); err != nil {
		t.Fatal(err)
	}
	lines := addrLines(t, ns, "-4", "d0", ip)
	if len(lines) != 1 || !strings.Contains(lines[0], "inet 10.99.0.100/24 brd 10.99.0.255 scope global d0:1") {
		t.Fatalf("after Add, ip -o -4 addr show dev d0:\n%s\nwant one line with 10.99.0.100/24, its broadcast and label d0:1", strings.Join(lines, "\n"))
	}
	if !has(t, h, ip) {
		t.Fatalf("Has(%s) after Add: false", ip)
	}
	if err := h.Add(ctx, a); err != nil {
		t.Fatalf("Add again: %v, want nil", err)
	}
	if lines := addrLines(t, ns, "-4", "d0", ip); len(lines) != 1 {
		t.Fatalf("after a second Add, %d lines for %s, want 1:\n%s", len(lines), ip, strings.Join(lines, "\n"))
	}
	if err := h.Del(ctx, a); err != nil {
		t.Fatal(err)
	}
	if lines := addrLines(t, ns, "-4", "d0", ip); len(lines) != 0 {
		t.Fatalf("after Del, ip still shows:\n%s", strings.Join(lines, "\n"))
	}
	if has(t, h, ip) {
		t.Fatalf("Has(%s) after Del: true", ip)
	}
	if err := h.Del(ctx, a); err != nil {
		t.Fatalf("Del again: %v, want nil", err)
	}
}

// TestAddDelIPv6 does the same for IPv6, where the address must be usable
// at once: no duplicate address detection, so never "tentative".
func TestAddDelIPv6(t *testing.T) {
	t.Parallel()
	ns := newNS(t, "a6")
	veth(t, ns, "d0", ns, "d1")
	h := openIn(t, ns)
	ctx := testCtx(t)
	a := Addr{Prefix: netip.MustParsePrefix("fd00:99::100/64"), Device: "d0"}
	ip := a.Prefix.Addr()

	if has(t, h, ip) {
		t.Fatalf("Has(%s) before Add: true", ip)
	}
	if err := h.Add(ctx, a); err != nil {
		t.Fatal(err)
	}
	lines := addrLines(t, ns, "-6", "d0", ip)
	if len(lines) != 1 || !strings.Contains(lines[0], "inet6 fd00:99::100/64 scope global nodad") || strings.Contains(lines[0], "tentative") {
		t.Fatalf("after Add, ip -o -6 addr show dev d0:\n%s\nwant one line with fd00:99::100/64 nodad, not tentative", strings.Join(lines, "\n"))
	}
	// Usable at once: a tentative address cannot be bound to.
	in(t, ns, func() error {
		c, err := net.ListenPacket("udp6", "["+ip.String()+"]:0")
		if err != nil {
			t.Errorf("binding to %s right after Add: %v", ip, err)
			return nil
		}
		return c.Close()
	})
	if !has(t, h, ip) {
		t.Fatalf("Has(%s) after Add: false", ip)
	}
	if err := h.Add(ctx, a); err != nil {
		t.Fatalf("Add again: %v, want nil", err)
	}
	if lines := addrLines(t, ns, "-6", "d0", ip); len(lines) != 1 {
		t.Fatalf("after a second Add, %d lines for %s, want 1:\n%s", len(lines), ip, strings.Join(lines, "\n"))
	}
	if err := h.Del(ctx, a); err != nil {
		t.Fatal(err)
	}
	if lines := addrLines(t, ns, "-6", "d0", ip); len(lines) != 0 {
		t.Fatalf("after Del, ip still shows:\n%s", strings.Join(lines, "\n"))
	}
	if has(t, h, ip) {
		t.Fatalf("Has(%s) after Del: true", ip)
	}
	if err := h.Del(ctx, a); err != nil {
		t.Fatalf("Del again: %v, want nil", err)
	}
}

// TestBadInput checks that mistakes are refused with errors naming the
// field and the address, and that nothing reaches the interface.
func TestBadInput(t *testing.T) {
	t.Parallel()
	ns := newNS(t, "bad")
	veth(t, ns, "d0", ns, "d1")
	h := openIn(t, ns)
	ctx := testCtx(t)
	v4 := netip.MustParsePrefix("10.99.1.100/24")
	v6 := netip.MustParsePrefix("fd00:99:1::100/64")

	for _, tc := range []struct {
		a    Addr
		want []string
	}{
		{Addr{Prefix: v4, Device: "d0", Label: "eth0:1"}, []string{"netif: add 10.99.1.100/24 on d0 label eth0:1", `Label "eth0:1"`, `"d0:"`}},
		{Addr{Prefix: v4, Device: "d0", Label: "d0x"}, []string{`Label "d0x"`}},
		{Addr{Prefix: v4, Device: "d0", Label: "d0:123456789abcd"}, []string{"Label", "longer"}},
		{Addr{Prefix: v6, Device: "d0", Label: "d0:1"}, []string{"fd00:99:1::100/64", "Label", "IPv6"}},
		{Addr{Prefix: v4, Device: "nosuch0"}, []string{"netif: add 10.99.1.100/24 on nosuch0: no such interface"}},
		{Addr{Prefix: v4}, []string{"Device: empty"}},
		{Addr{Device: "d0"}, []string{"Prefix"}},
		{Addr{Prefix: netip.MustParsePrefix("224.0.0.1/32"), Device: "d0"}, []string{"Prefix", "unicast"}},
	} {
		err := h.Add(ctx, tc.a)
		if err == nil {
			t.Errorf("Add(%s): nil error", tc.a)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("Add(%s): %q, want it to contain %q", tc.a, err, w)
			}
		}
	}
	if out := ipCmd(t, "-n", ns, "-o", "addr", "show", "dev", "d0"); strings.Contains(out, "10.99.1.") || strings.Contains(out, "fd00:99:1:") {
		t.Errorf("a refused Add reached the interface:\n%s", out)
	}

	missing := Addr{Prefix: v4, Device: "nosuch0"}
	if err := h.Add(ctx, missing); !errors.Is(err, ErrNoDevice) {
		t.Errorf("Add on a missing device: %v, want ErrNoDevice", err)
	}
	// Deleting from a device that is not there is a configuration
	// mistake, not an address that is already gone.
	if err := h.Del(ctx, missing); !errors.Is(err, ErrNoDevice) || !strings.Contains(err.Error(), "delete 10.99.1.100/24 on nosuch0") {
		t.Errorf("Del on a missing device: %v, want ErrNoDevice naming the address", err)
	}
	if s, err := h.Link(ctx, "nosuch0"); err != nil || s.Exists || s.Up {
		t.Errorf("Link(nosuch0) = %+v, %v; want Exists false, Up false, nil", s, err)
	}
	var err error
	in(t, ns, func() error { err = Announce(ctx, "nosuch0", v4.Addr()); return nil })
	if !errors.Is(err, ErrNoDevice) {
		t.Errorf("Announce on a missing device: %v, want ErrNoDevice", err)
	}
	// The advertisement's source is the address itself, so it must be on
	// the device.
	in(t, ns, func() error { err = Announce(ctx, "d0", v6.Addr()); return nil })
	if err == nil || !strings.Contains(err.Error(), "netif: announce fd00:99:1::100 on d0: address is not on the device") {
		t.Errorf("Announce of an IPv6 address the device lacks: %v", err)
	}

	// A call whose context has ended does nothing and does not spoil the
	// handle for the next one.
	done, cancel := context.WithCancel(context.Background())
	cancel()
	if err := h.Add(done, Addr{Prefix: v4, Device: "d0"}); !errors.Is(err, context.Canceled) {
		t.Errorf("Add with a cancelled context: %v, want context.Canceled", err)
	}
	if has(t, h, v4.Addr()) {
		t.Errorf("Add with a cancelled context added the address")
	}
}

// TestLinkState follows a veth through carrier loss (its peer goes down),
// its own administrative down, and removal, through WatchLinks and Link.
func TestLinkState(t *testing.T) {
	t.Parallel()
	ns := newNS(t, "ln")
	veth(t, ns, "d0", ns, "d1")
	h := openIn(t, ns)
	ctx := testCtx(t)
	w := watchLinks(t, ns)

	check := func(what string, ok func(LinkState) bool) LinkState {
		t.Helper()
		s := w.await(t, "d0", what, ok)
		l, err := h.Link(ctx, "d0")
		if err != nil {
			t.Fatal(err)
		}
		if l.Exists != s.Exists || l.Up != s.Up || l.Exists && (l.Index != s.Index || l.MAC.String() != s.MAC.String()) {
			t.Fatalf("Link(d0) = %+v, WatchLinks said %+v", l, s)
		}
		return s
	}

	s := check("up", up)
	if mac := macOf(t, ns, "d0"); s.MAC.String() != mac.String() || s.Index == 0 {
		t.Fatalf("d0 reported as %+v, ip says MAC %s", s, mac)
	}
	ipCmd(t, "-n", ns, "link", "set", "d1", "down") // carrier loss on d0
	check("down after its peer went down", down)
	ipCmd(t, "-n", ns, "link", "set", "d1", "up")
	check("up after its peer came back", up)
	ipCmd(t, "-n", ns, "link", "set", "d0", "down")
	check("down after ip link set down", down)
	ipCmd(t, "-n", ns, "link", "set", "d0", "up")
	check("up after ip link set up", up)
	ipCmd(t, "-n", ns, "link", "del", "d1") // takes d0 with it
	check("removed", func(s LinkState) bool { return !s.Exists && !s.Up })
}

// TestForwarding sets the forwarding sysctls differently in two namespaces
// and reads them from threads inside each: /proc/sys/net is resolved by
// the namespace of the thread that opens the file, not the process's.
func TestForwarding(t *testing.T) {
	t.Parallel()
	a, b := newNS(t, "fa"), newNS(t, "fb")
	v4, v6 := netip.MustParseAddr("10.99.2.1"), netip.MustParseAddr("fd00:99:2::1")
	read := func(ns string, ip netip.Addr) bool {
		t.Helper()
		var on bool
		in(t, ns, func() (err error) { on, err = Forwarding(ip); return err })
		return on
	}
	for _, on := range []string{"1", "0"} {
		off := map[string]string{"1": "0", "0": "1"}[on]
		sysctl(t, a, "net.ipv4.ip_forward="+on)
		sysctl(t, b, "net.ipv4.ip_forward="+off)
		sysctl(t, a, "net.ipv6.conf.all.forwarding="+off)
		sysctl(t, b, "net.ipv6.conf.all.forwarding="+on)
		if got, want := read(a, v4), on == "1"; got != want {
			t.Errorf("IPv4 forwarding in %s: %v, want %v", a, got, want)
		}
		if got, want := read(b, v4), off == "1"; got != want {
			t.Errorf("IPv4 forwarding in %s: %v, want %v", b, got, want)
		}
		if got, want := read(a, v6), off == "1"; got != want {
			t.Errorf("IPv6 forwarding in %s: %v, want %v", a, got, want)
		}
		if got, want := read(b, v6), on == "1"; got != want {
			t.Errorf("IPv6 forwarding in %s: %v, want %v", b, got, want)
		}
	}
	if _, err := Forwarding(netip.Addr{}); err == nil {
		t.Error("Forwarding of the zero address: nil error")
	}
}

// TestWatchLinksOverflow floods the watch with link changes while nobody
// reads it, so that the kernel drops events (ENOBUFS); WatchLinks must
// then read the links again so that the last state it sends is the
// current one.
func TestWatchLinksOverflow(t *testing.T) {
	t.Parallel()
	ns := newNS(t, "of")
	veth(t, ns, "d0", ns, "d1")
	w := watchLinks(t, ns)
	w.await(t, "d0", "up", up)

	var batch strings.Builder
	for range 2000 {
		batch.WriteString("link set d1 down\nlink set d1 up\n")
	}
	batch.WriteString("link set d1 down\nlink add z9 type veth peer name z8\n") // z9 marks the end
	c := exec.Command("ip", "-n", ns, "-batch", "-")
	c.Stdin = strings.NewReader(batch.String())
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("ip -batch: %v\n%s", err, out)
	}

	last := map[string]LinkState{}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	// Read until z9 comes, then remove it and read until that comes too:
	// anything queued before the removal is then read, so a stale state
	// left in the queue would show.
	readUntil := func(what string, ok func() bool) {
		t.Helper()
		for !ok() {
			select {
			case s := <-w.ch:
				last[s.Device] = s
			case <-w.done:
				t.Fatalf("WatchLinks ended: %v", w.err)
			case <-timer.C:
				t.Fatalf("%s never reported; last states: %+v", what, last)
			}
		}
	}
	readUntil("z9", func() bool { return last["z9"].Exists })
	ipCmd(t, "-n", ns, "link", "del", "z9")
	readUntil("z9's removal", func() bool { return !last["z9"].Exists })
	for _, dev := range []string{"d0", "d1"} {
		if s := last[dev]; !down(s) {
			t.Errorf("last state sent for %s: %+v, want down", dev, s)
		}
	}
}

// TestHandleAfterCancel cuts calls short while they wait for the kernel.
// The handle must report the context's error, and its next call, made from
// a thread outside the namespace, must work on a fresh socket in the
// handle's own namespace (the old one may still hold a reply).
func TestHandleAfterCancel(t *testing.T) {
	t.Parallel()
	ns := newNS(t, "hc")
	veth(t, ns, "d0", ns, "d1")
	ipCmd(t, "-n", ns, "addr", "add", "10.99.3.1/24", "dev", "d0")
	h := openIn(t, ns)
	// Nothing is ever sent to the socket, so only the context can end
	// the read.
	block := func(c *rtnetlink.Conn) error { _, _, err := c.Receive(); return err }

	ctx, cancel := context.WithCancel(context.Background())
	err := h.do(ctx, func(c *rtnetlink.Conn) error { cancel(); return block(c) })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("call cancelled while reading: %v, want context.Canceled", err)
	}
	if !has(t, h, netip.MustParseAddr("10.99.3.1")) {
		t.Fatal("after a cancelled call, Has does not see the namespace's address")
	}

	// A deadline that strikes between request and reply leaves the reply
	// queued; the next call must not take it for its own.
	err = h.do(context.Background(), func(c *rtnetlink.Conn) error {
		if _, err := c.Send(&rtnetlink.LinkMessage{}, unix.RTM_GETLINK, netlink.Request|netlink.Dump); err != nil {
			return err
		}
		return os.ErrDeadlineExceeded
	})
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("simulated timeout: %v", err)
	}
	if ok, err := h.Has(testCtx(t), netip.MustParseAddr("10.99.3.1")); err != nil || !ok {
		t.Fatalf("after a call whose reply was left unread, Has = %v, %v; want true, nil", ok, err)
	}

	ctx, cancel = context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := h.do(ctx, block); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("call past its deadline: %v, want context.DeadlineExceeded", err)
	}
	if s, err := h.Link(testCtx(t), "d0"); err != nil || !s.Exists {
		t.Fatalf("after a timed-out call, Link(d0) = %+v, %v", s, err)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if err := h.Add(testCtx(t), Addr{Prefix: netip.MustParsePrefix("10.99.3.2/24"), Device: "d0"}); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Fatalf("Add on a closed handle: %v", err)
	}
}
