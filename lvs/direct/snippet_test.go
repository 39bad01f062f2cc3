package direct

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/config"
)

func real(name, addr string, fwd config.Forward) config.RealServer {
	rs := config.NewReal(name)
	rs.Address, rs.Forward = netip.MustParseAddr(addr), fwd
	return rs
}

func virtual(name, vip string, port int, reals ...config.RealServer) config.VirtualServer {
	vs := config.NewVirtual(name)
	vs.Address, vs.Port, vs.Protocol, vs.Reals = netip.MustParseAddr(vip), port, config.TCP, reals
	return vs
}

func TestSnippets(t *testing.T) {
	type want struct {
		real  string
		names []string
		vips  []string
		// lines that must be, and must not be, in the commands
		has, hasNot []string
	}
	for _, tc := range []struct {
		name    string
		network config.Forward
		virts   []config.VirtualServer
		of      int // the virtual server asked about
		want    []want
	}{{
		name: "one IPv4 VIP",
		virts: []config.VirtualServer{
			virtual("www", "192.0.2.10", 80, real("web1", "10.0.0.11", config.Direct), real("web2", "10.0.0.12", "")),
		},
		want: []want{
			{real: "10.0.0.11", names: []string{"web1"}, vips: []string{"192.0.2.10"},
				has:    []string{"ip addr add 192.0.2.10/32 dev lo", "sysctl -w net.ipv4.conf.all.arp_ignore=1", "sysctl -w net.ipv4.conf.all.arp_announce=2", "sysctl -w net.ipv4.conf.lo.arp_ignore=1", "# 192.0.2.10: www (TCP 192.0.2.10:80)"},
				hasNot: []string{"ip -6"}},
			// No method of its own: the global default, direct.
			{real: "10.0.0.12", names: []string{"web2"}, vips: []string{"192.0.2.10"}, has: []string{"ip addr add 192.0.2.10/32 dev lo"}},
		},
	}, {
		name:    "NAT and tunnel real servers need nothing; the global method counts",
		network: config.NAT,
		virts: []config.VirtualServer{
			virtual("www", "192.0.2.10", 80, real("nat", "10.0.0.11", ""), real("tun", "10.0.0.12", config.Tunnel), real("dr", "10.0.0.13", config.Direct)),
		},
		want: []want{{real: "10.0.0.13", names: []string{"dr"}, vips: []string{"192.0.2.10"}}},
	}, {
		name: "a real server in several virtual servers gets all their VIPs, once each",
		virts: []config.VirtualServer{
			virtual("www", "192.0.2.20", 80, real("a", "10.0.0.11", config.Direct)),
			virtual("www-tls", "192.0.2.20", 443, real("a-tls", "10.0.0.11", config.Direct)),
			virtual("mail", "192.0.2.3", 25, real("m", "10.0.0.11", config.Direct), real("other", "10.0.0.99", config.Direct)),
			// NAT here: not a VIP of its loopback.
			virtual("db", "192.0.2.4", 5432, real("d", "10.0.0.11", config.NAT)),
		},
		want: []want{{real: "10.0.0.11", names: []string{"a"}, vips: []string{"192.0.2.3", "192.0.2.20"},
			has:    []string{"ip addr add 192.0.2.3/32 dev lo", "ip addr add 192.0.2.20/32 dev lo", "# 192.0.2.20: www (TCP 192.0.2.20:80), www-tls (TCP 192.0.2.20:443)"},
			hasNot: []string{"192.0.2.4"}}},
	}, {
		name: "one real server twice in a virtual server (two ports) is one snippet",
		virts: []config.VirtualServer{
			virtual("www", "192.0.2.10", 80, real("a", "10.0.0.11", config.Direct), real("a2", "10.0.0.11", config.Direct)),
		},
		want: []want{{real: "10.0.0.11", names: []string{"a", "a2"}, vips: []string{"192.0.2.10"}}},
	}, {
		name: "IPv6: the VIP on lo, /128, no ARP sysctls",
		virts: []config.VirtualServer{
			virtual("www6", "2001:db8::10", 80, real("a", "2001:db8:1::11", config.Direct)),
		},
		want: []want{{real: "2001:db8:1::11", names: []string{"a"}, vips: []string{"2001:db8::10"},
			has:    []string{"ip -6 addr add 2001:db8::10/128 dev lo", "# IPv6 has no ARP", "nodad is not needed"},
			hasNot: []string{"arp_ignore", "ip addr add"}}},
	}, {
		name: "a virtual server without an address yet gives nothing",
		virts: []config.VirtualServer{
			{Name: "new", Reals: []config.RealServer{real("a", "10.0.0.11", config.Direct)}},
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config.Default()
			cfg.Global.Network = tc.network
			cfg.Virtuals = tc.virts
			got := Snippets(cfg, &cfg.Virtuals[tc.of])
			if len(got) != len(tc.want) {
				t.Fatalf("%d snippets, want %d: %+v", len(got), len(tc.want), got)
			}
			for i, w := range tc.want {
				s := got[i]
				var vips []string
				for _, v := range s.VIPs {
					vips = append(vips, v.Addr.String())
				}
				if s.Real.String() != w.real || !slices.Equal(s.Names, w.names) || !slices.Equal(vips, w.vips) {
					t.Errorf("snippet %d: real %s names %q VIPs %q, want %s %q %q", i, s.Real, s.Names, vips, w.real, w.names, w.vips)
				}
				lines := strings.Split(s.Commands, "\n")
				for _, l := range w.has {
					if !slices.Contains(lines, l) && !strings.Contains(s.Commands, l) {
						t.Errorf("snippet %d commands lack %q:\n%s", i, l, s.Commands)
					}
				}
				for _, l := range w.hasNot {
					if strings.Contains(s.Commands, l) {
						t.Errorf("snippet %d commands have %q:\n%s", i, l, s.Commands)
					}
				}
				// Every VIP is in every persistent form and the note.
				for _, v := range w.vips {
					a := netip.MustParseAddr(v)
					p := netip.PrefixFrom(a, a.BitLen()).String()
					for _, f := range s.Files {
						if strings.HasPrefix(f.Path, "/etc/sysctl.d/") {
							continue
						}
						if !strings.Contains(f.Content, p) {
							t.Errorf("snippet %d: %s lacks %s:\n%s", i, f.Path, p, f.Content)
						}
					}
					if !strings.Contains(s.Other, p) {
						t.Errorf("snippet %d: the note for other systems lacks %s", i, p)
					}
				}
			}
		})
	}
}

// TestSnippetFiles: the persistent forms, whole, for one IPv4 VIP (a
// sysctl.d file only when there is an IPv4 VIP).
func TestSnippetFiles(t *testing.T) {
	cfg := config.Default()
	cfg.Virtuals = []config.VirtualServer{virtual("www", "192.0.2.10", 80, real("a", "10.0.0.11", config.Direct))}
	s := Snippets(cfg, &cfg.Virtuals[0])[0]
	want := []File{{
		Path: "/etc/sysctl.d/90-lvs-dr.conf", Note: "read at boot; `sysctl --system` applies it now",
		Content: "# Direct routing (LVS-DR): the director answers ARP for the VIPs.\n" +
			"net.ipv4.conf.all.arp_ignore = 1\nnet.ipv4.conf.all.arp_announce = 2\nnet.ipv4.conf.lo.arp_ignore = 1\nnet.ipv4.conf.lo.arp_announce = 2\n",
	}, {
		Path: "/etc/network/interfaces", Note: "ifupdown (Debian): lo's stanza",
		Content: "auto lo\niface lo inet loopback\n    post-up ip addr add 192.0.2.10/32 dev lo\n    pre-down ip addr del 192.0.2.10/32 dev lo\n",
	}, {
		Path: "/etc/systemd/network/10-lo-vip.network", Note: "systemd-networkd: instead of the ifupdown lines",
		Content: "[Match]\nName=lo\n\n[Network]\n# keep the loopback's own addresses\nAddress=127.0.0.1/8\nAddress=::1/128\nAddress=192.0.2.10/32\n",
	}}
	if !slices.Equal(s.Files, want) {
		t.Errorf("files:\n%+v\nwant\n%+v", s.Files, want)
	}
	cfg.Virtuals = []config.VirtualServer{virtual("www", "2001:db8::10", 80, real("a", "2001:db8::11", config.Direct))}
	s = Snippets(cfg, &cfg.Virtuals[0])[0]
	if len(s.Files) != 2 || s.Files[0].Path != "/etc/network/interfaces" ||
		!strings.Contains(s.Files[0].Content, "post-up ip -6 addr add 2001:db8::10/128 dev lo") {
		t.Errorf("IPv6 files: %+v", s.Files)
	}
}

func TestResultString(t *testing.T) {
	tg := Target{VIP: netip.MustParseAddr("192.0.2.10"), Port: 80, Real: netip.MustParseAddr("10.0.0.11")}
	for _, tc := range []struct {
		r       Result
		want    string
		accepts bool
	}{
		{Result{Target: tg, Outcome: Accepted, RTT: 400 * time.Microsecond}, "accepts traffic for VIP 192.0.2.10 (SYN-ACK from port 80 in 0.4 ms)", true},
		{Result{Target: tg, Outcome: Refused, RTT: 1250 * time.Microsecond}, "accepts traffic for VIP 192.0.2.10, but port 80/tcp is closed (RST in 1.25 ms)", true},
		{Result{Target: tg, Outcome: Silent, RTT: time.Second}, "did not answer a SYN for VIP 192.0.2.10 port 80 within 1s: add the VIP on lo (see the snippet)", false},
		{Result{Target: tg, Outcome: ICMP, Detail: "port unreachable from 10.0.0.11", RTT: time.Millisecond}, "answered a SYN for VIP 192.0.2.10 port 80 with ICMP port unreachable from 10.0.0.11 in 1 ms", false},
		{Result{Target: tg, Outcome: Failed, Detail: "no route"}, "could not check: no route", false},
	} {
		if s := tc.r.String(); !strings.HasPrefix(s, tc.want) {
			t.Errorf("%+v: %q, want it to start with %q", tc.r, s, tc.want)
		}
		if tc.r.AcceptsVIP() != tc.accepts {
			t.Errorf("%+v: AcceptsVIP %v", tc.r, !tc.accepts)
		}
	}
}
