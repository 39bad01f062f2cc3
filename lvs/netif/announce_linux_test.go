package netif

import (
	"net/netip"
	"strings"
	"testing"
)

// TestAnnounceIPv4 has a director send one gratuitous ARP for its new VIP
// and a client on the same link move its ARP entry to the director's MAC.
func TestAnnounceIPv4(t *testing.T) {
	testAnnounce(t, "4", "10.99.4.1/24", "10.99.4.2/24", "10.99.4.100/24", false)
}

// TestAnnounceIPv6 does the same with one unsolicited neighbour
// advertisement, from a director that does not forward: the client must
// not take the VIP for a router.
func TestAnnounceIPv6(t *testing.T) {
	testAnnounce(t, "6", "fd00:99:4::1/64", "fd00:99:4::2/64", "fd00:99:4::100/64", false)
}

// TestAnnounceIPv6Router has a forwarding director (LVS-NAT, where real
// servers route through the VIP) set the router flag, as the kernel's own
// advertisements do; without it a client would drop its routes via the VIP.
func TestAnnounceIPv6Router(t *testing.T) {
	testAnnounce(t, "6r", "fd00:99:4::1/64", "fd00:99:4::2/64", "fd00:99:4::100/64", true)
}

func testAnnounce(t *testing.T, tag, directorAddr, clientAddr, vip string, forwarding bool) {
	t.Parallel()
	d, c := newNS(t, "d"+tag), newNS(t, "c"+tag)
	// Only Announce may tell the client: the kernel's own announcements on
	// link and address changes stay off (a new namespace copies the host's
	// IPv4 settings, so they are set rather than assumed).
	fwd := map[bool]string{false: "0", true: "1"}[forwarding]
	for _, kv := range []string{
		"net.ipv4.conf.all.arp_notify=0", "net.ipv4.conf.default.arp_notify=0",
		"net.ipv6.conf.all.ndisc_notify=0", "net.ipv6.conf.default.ndisc_notify=0",
		"net.ipv6.conf.all.forwarding=" + fwd, "net.ipv6.conf.default.forwarding=" + fwd,
	} {
		sysctl(t, d, kv)
	}
	veth(t, d, "d0", c, "c0")
	ipCmd(t, "-n", d, "addr", "add", directorAddr, "dev", "d0")
	ipCmd(t, "-n", c, "addr", "add", clientAddr, "dev", "c0")

	prefix := netip.MustParsePrefix(vip)
	ip := prefix.Addr()
	// The client is a host that talked to the failed director: it has an
	// entry for the VIP with the old MAC. Linux updates only entries it
	// already has: by default a gratuitous ARP creates none (arp_accept=0),
	// nor does an unsolicited advertisement on a host that does not
	// forward. For IPv6 the advertisement's override flag is what lets it
	// replace the MAC of an existing entry; an entry in state FAILED
	// would be left alone.
	const oldMAC = "02:00:00:00:00:99"
	ipCmd(t, "-n", c, "neigh", "replace", ip.String(), "lladdr", oldMAC, "dev", "c0", "nud", "stale")

	// A packet sent before the links run would be dropped (no qdisc yet).
	watchLinks(t, d).await(t, "d0", "up", up)
	client := watchLinks(t, c).await(t, "c0", "up", up)
	sub := neighWatch(t, c)

	h := openIn(t, d)
	ctx := testCtx(t)
	if err := h.Add(ctx, Addr{Prefix: prefix, Device: "d0"}); err != nil {
		t.Fatal(err)
	}
	if out := ipCmd(t, "-n", c, "neigh", "show", ip.String(), "dev", "c0"); !strings.Contains(out, oldMAC) {
		t.Fatalf("the client's entry changed before Announce: %q", out)
	}

	mac := macOf(t, d, "d0")
	in(t, d, func() error { return Announce(ctx, "d0", ip) })
	awaitNeigh(t, sub, c, client.Index, ip, mac)
	out := ipCmd(t, "-n", c, "neigh", "show", ip.String(), "dev", "c0")
	if !strings.Contains(out, mac.String()) {
		t.Fatalf("after the announcement, ip neigh in the client: %q, want %s", out, mac)
	}
	if ip.Is6() && strings.Contains(out, "router") != forwarding {
		t.Fatalf("after the announcement, ip neigh in the client: %q, want the router flag %v", out, forwarding)
	}
}
