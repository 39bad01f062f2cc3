package ipvs_test

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/ipvs"
)

var (
	web   = ipvs.ServiceKey{Family: ipvs.FamilyIPv4, Protocol: ipvs.TCP, Addr: netip4("192.0.2.10"), Port: 80}
	dns   = ipvs.ServiceKey{Family: ipvs.FamilyIPv4, Protocol: ipvs.UDP, Addr: netip4("192.0.2.53"), Port: 53}
	diam  = ipvs.ServiceKey{Family: ipvs.FamilyIPv4, Protocol: ipvs.SCTP, Addr: netip4("192.0.2.5"), Port: 3868}
	web6  = ipvs.ServiceKey{Family: ipvs.FamilyIPv6, Protocol: ipvs.TCP, Addr: netip4("2001:db8::1"), Port: 443}
	mark  = ipvs.ServiceKey{Family: ipvs.FamilyIPv4, FWMark: 7}
	mark6 = ipvs.ServiceKey{Family: ipvs.FamilyIPv6, FWMark: 8}
)

func netip4(s string) netip.Addr { return netip.MustParseAddr(s) }

// TestOpIpvsadm: each change as the ipvsadm command that makes it, every
// field the engine sends said; the lines were run through ipvsadm 1.31 in
// the guest (cmd/lvsconsole TestGuestOpsAreIpvsadm).
func TestOpIpvsadm(t *testing.T) {
	full := ipvs.Service{ServiceKey: web, Scheduler: "wlc", Flags: ipvs.FlagPersistent, Timeout: 300, Netmask: 0xffffff00}
	for _, c := range []struct {
		name string
		op   ipvs.Op
		want string
	}{
		{"add service", ipvs.Op{Kind: ipvs.AddService, Service: full},
			"ipvsadm -A -t 192.0.2.10:80 -s wlc -p 300 -M 255.255.255.0"},
		{"edit in place", ipvs.Op{Kind: ipvs.EditService, Service: ipvs.Service{ServiceKey: web, Scheduler: "rr", Netmask: 0xffffffff}},
			"ipvsadm -E -t 192.0.2.10:80 -s rr"},
		{"mask without persistence", ipvs.Op{Kind: ipvs.AddService, Service: ipvs.Service{ServiceKey: web, Scheduler: "rr", Netmask: 0xffff0000}},
			"ipvsadm -A -t 192.0.2.10:80 -s rr -M 255.255.0.0"},
		{"delete service", ipvs.Op{Kind: ipvs.DeleteService, Service: ipvs.Service{ServiceKey: web}},
			"ipvsadm -D -t 192.0.2.10:80"},
		{"udp, sh flags, one-packet", ipvs.Op{Kind: ipvs.AddService, Service: ipvs.Service{ServiceKey: dns, Scheduler: "sh",
			Flags: ipvs.FlagSched1 | ipvs.FlagSched2 | ipvs.FlagOnePacket, Netmask: 0xffffffff}},
			"ipvsadm -A -u 192.0.2.53:53 -s sh -o -b sh-fallback,sh-port"},
		{"mh port only", ipvs.Op{Kind: ipvs.AddService, Service: ipvs.Service{ServiceKey: dns, Scheduler: "mh", Flags: ipvs.FlagSched2}},
			"ipvsadm -A -u 192.0.2.53:53 -s mh -b mh-port"},
		{"another scheduler's flags", ipvs.Op{Kind: ipvs.AddService, Service: ipvs.Service{ServiceKey: web, Scheduler: "rr", Flags: ipvs.FlagSched3}},
			"ipvsadm -A -t 192.0.2.10:80 -s rr -b flag-3"},
		{"persistence engine", ipvs.Op{Kind: ipvs.AddService, Service: ipvs.Service{ServiceKey: dns, Scheduler: "rr", Flags: ipvs.FlagPersistent, Timeout: 30, PEName: "sip"}},
			"ipvsadm -A -u 192.0.2.53:53 -s rr -p 30 --pe sip"},
		{"sctp", ipvs.Op{Kind: ipvs.AddService, Service: ipvs.Service{ServiceKey: diam, Scheduler: "rr"}},
			"ipvsadm -A --sctp-service 192.0.2.5:3868 -s rr"},
		{"ipv6, prefix", ipvs.Op{Kind: ipvs.AddService, Service: ipvs.Service{ServiceKey: web6, Scheduler: "wrr", Flags: ipvs.FlagPersistent, Timeout: 60, Netmask: 64}},
			"ipvsadm -A -t [2001:db8::1]:443 -s wrr -p 60 -M 64"},
		{"ipv6, whole address", ipvs.Op{Kind: ipvs.AddService, Service: ipvs.Service{ServiceKey: web6, Scheduler: "wrr", Netmask: 128}},
			"ipvsadm -A -t [2001:db8::1]:443 -s wrr"},
		{"firewall mark", ipvs.Op{Kind: ipvs.AddService, Service: ipvs.Service{ServiceKey: mark, Scheduler: "rr", Netmask: 0xffffffff}},
			"ipvsadm -A -f 7 -s rr"},
		{"ipv6 firewall mark", ipvs.Op{Kind: ipvs.DeleteService, Service: ipvs.Service{ServiceKey: mark6}},
			"ipvsadm -D -f 8 -6"},
		{"largest mark, unsigned", ipvs.Op{Kind: ipvs.DeleteService, Service: ipvs.Service{ServiceKey: ipvs.ServiceKey{Family: ipvs.FamilyIPv4, FWMark: 4294967295}}},
			"ipvsadm -D -f 4294967295"},

		{"add destination", ipvs.Op{Kind: ipvs.AddDest, Service: ipvs.Service{ServiceKey: web},
			Dest: ipvs.Destination{Addr: netip4("10.0.0.1"), Port: 80, Forward: ipvs.Masquerade, Weight: 5, UpperThreshold: 100, LowerThreshold: 10}},
			"ipvsadm -a -t 192.0.2.10:80 -r 10.0.0.1:80 -m -w 5 -x 100 -y 10"},
		{"nat to another port", ipvs.Op{Kind: ipvs.AddDest, Service: ipvs.Service{ServiceKey: web},
			Dest: ipvs.Destination{Addr: netip4("10.0.0.2"), Port: 8080, Forward: ipvs.Masquerade, Weight: 0}},
			"ipvsadm -a -t 192.0.2.10:80 -r 10.0.0.2:8080 -m -w 0"},
		{"weight edited in place", ipvs.Op{Kind: ipvs.EditDest, Service: ipvs.Service{ServiceKey: web},
			Dest: ipvs.Destination{Addr: netip4("10.0.0.3"), Port: 80, Forward: ipvs.DirectRoute, Weight: 2147483647}},
			"ipvsadm -e -t 192.0.2.10:80 -r 10.0.0.3:80 -g -w 2147483647"},
		{"delete destination", ipvs.Op{Kind: ipvs.DeleteDest, Service: ipvs.Service{ServiceKey: web},
			Dest: ipvs.Destination{Addr: netip4("10.0.0.3"), Port: 80, Forward: ipvs.DirectRoute, Weight: 3}},
			"ipvsadm -d -t 192.0.2.10:80 -r 10.0.0.3:80"},
		{"ipip", ipvs.Op{Kind: ipvs.AddDest, Service: ipvs.Service{ServiceKey: web},
			Dest: ipvs.Destination{Addr: netip4("10.0.0.5"), Port: 80, Forward: ipvs.Tunnel, Weight: 2}},
			"ipvsadm -a -t 192.0.2.10:80 -r 10.0.0.5:80 -i -w 2 --tun-type ipip"},
		{"gue", ipvs.Op{Kind: ipvs.EditDest, Service: ipvs.Service{ServiceKey: web},
			Dest: ipvs.Destination{Addr: netip4("10.0.0.6"), Port: 80, Forward: ipvs.Tunnel, Weight: 2, TunnelType: ipvs.TunnelGUE, TunnelPort: 6080, TunnelFlags: ipvs.TunnelChecksum}},
			"ipvsadm -e -t 192.0.2.10:80 -r 10.0.0.6:80 -i -w 2 --tun-type gue --tun-port 6080 --tun-csum"},
		{"gre", ipvs.Op{Kind: ipvs.AddDest, Service: ipvs.Service{ServiceKey: web},
			Dest: ipvs.Destination{Addr: netip4("10.0.0.7"), Port: 80, Forward: ipvs.Tunnel, Weight: 2, TunnelType: ipvs.TunnelGRE}},
			"ipvsadm -a -t 192.0.2.10:80 -r 10.0.0.7:80 -i -w 2 --tun-type gre --tun-nocsum"},
		{"ipv6 real server of an ipv4 service, tunnelled", ipvs.Op{Kind: ipvs.AddDest, Service: ipvs.Service{ServiceKey: web},
			Dest: ipvs.Destination{Addr: netip4("2001:db8:1::1"), Port: 80, Forward: ipvs.Tunnel, Weight: 1}},
			"ipvsadm -a -t 192.0.2.10:80 -r [2001:db8:1::1]:80 -i -w 1 --tun-type ipip"},
		{"mark keeps the packet's port", ipvs.Op{Kind: ipvs.AddDest, Service: ipvs.Service{ServiceKey: mark},
			Dest: ipvs.Destination{Addr: netip4("10.0.0.20"), Forward: ipvs.DirectRoute, Weight: 1}},
			"ipvsadm -a -f 7 -r 10.0.0.20:0 -g -w 1"},
		{"ipv6 mark", ipvs.Op{Kind: ipvs.AddDest, Service: ipvs.Service{ServiceKey: mark6},
			Dest: ipvs.Destination{Addr: netip4("2001:db8:1::8"), Port: 443, Forward: ipvs.DirectRoute, Weight: 1}},
			"ipvsadm -a -f 8 -6 -r [2001:db8:1::8]:443 -g -w 1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := c.op.Ipvsadm(); got != c.want {
				t.Errorf("%v:\n got %s\nwant %s", c.op.Kind, got, c.want)
			}
			if _, err := c.op.IpvsadmArgs(); err != nil {
				t.Errorf("ipvsadm can say this, but: %v", err)
			}
		})
	}
}

// TestOpNotIpvsadm: what ipvsadm 1.31 would refuse, or do differently, is
// a comment saying why, with the nearest command; the error wraps
// ErrNotIpvsadm for callers to tell.
func TestOpNotIpvsadm(t *testing.T) {
	for _, c := range []struct {
		name string
		op   ipvs.Op
		why  string
	}{
		{"direct routing to another port", ipvs.Op{Kind: ipvs.AddDest, Service: ipvs.Service{ServiceKey: web},
			Dest: ipvs.Destination{Addr: netip4("10.0.0.2"), Port: 8080, Forward: ipvs.DirectRoute, Weight: 3}},
			"port 8080: it gives a direct-routed or tunnelled real server the service's port, 80"},
		{"a threshold above INT_MAX", ipvs.Op{Kind: ipvs.EditDest, Service: ipvs.Service{ServiceKey: web},
			Dest: ipvs.Destination{Addr: netip4("10.0.0.2"), Port: 80, Forward: ipvs.Masquerade, Weight: 3, UpperThreshold: 4294967295}},
			"an upper threshold of 4294967295 (it takes up to 2147483647)"},
		{"persistence above 31 days", ipvs.Op{Kind: ipvs.AddService, Service: ipvs.Service{ServiceKey: web, Scheduler: "rr", Flags: ipvs.FlagPersistent, Timeout: 2678401}},
			"persistence of 2678401 s (it takes 1-2678400)"},
		{"local node", ipvs.Op{Kind: ipvs.AddDest, Service: ipvs.Service{ServiceKey: web},
			Dest: ipvs.Destination{Addr: netip4("10.0.0.2"), Port: 80, Forward: ipvs.LocalNode, Weight: 1}},
			"forwarding Local"},
		{"ipv6 real server, direct routing", ipvs.Op{Kind: ipvs.AddDest, Service: ipvs.Service{ServiceKey: web},
			Dest: ipvs.Destination{Addr: netip4("2001:db8:1::1"), Port: 80, Forward: ipvs.DirectRoute, Weight: 1}},
			"another address family"},
		{"gue without a port", ipvs.Op{Kind: ipvs.AddDest, Service: ipvs.Service{ServiceKey: web},
			Dest: ipvs.Destination{Addr: netip4("10.0.0.6"), Port: 80, Forward: ipvs.Tunnel, Weight: 1, TunnelType: ipvs.TunnelGUE}},
			"a gue tunnel without a port"},
		{"gre with remote checksum", ipvs.Op{Kind: ipvs.AddDest, Service: ipvs.Service{ServiceKey: web},
			Dest: ipvs.Destination{Addr: netip4("10.0.0.7"), Port: 80, Forward: ipvs.Tunnel, Weight: 1, TunnelType: ipvs.TunnelGRE, TunnelFlags: ipvs.TunnelRemoteChecksum}},
			"gre tunnel flags 0x2"},
		{"a scheduler with a space", ipvs.Op{Kind: ipvs.AddService, Service: ipvs.Service{ServiceKey: web, Scheduler: "r r"}},
			`scheduler "r r"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := c.op.IpvsadmArgs()
			if !errors.Is(err, ipvs.ErrNotIpvsadm) || !strings.Contains(err.Error(), c.why) {
				t.Errorf("error %v, want ErrNotIpvsadm saying %q", err, c.why)
			}
			if line := c.op.Ipvsadm(); !strings.HasPrefix(line, "# ipvsadm cannot make this change: ") || !strings.Contains(line, ": ipvsadm -") {
				t.Errorf("line %q, want a comment with the nearest command", line)
			}
		})
	}
}

func TestTimeoutsIpvsadm(t *testing.T) {
	for _, c := range []struct {
		t    ipvs.Timeouts
		want string
	}{
		{ipvs.Timeouts{TCP: 900 * time.Second, TCPFin: 120 * time.Second, UDP: 300 * time.Second}, "ipvsadm --set 900 120 300"},
		{ipvs.Timeouts{TCP: 1200 * time.Second}, "ipvsadm --set 1200 0 0"},
		{ipvs.Timeouts{UDP: 2678400 * time.Second}, "ipvsadm --set 0 0 2678400"},
		{ipvs.Timeouts{UDP: 2678401 * time.Second},
			"# ipvsadm cannot make this change: a UDP timeout of 2678401 s (it takes 0-2678400): ipvsadm --set 0 0 2678401"},
	} {
		if got := c.t.Ipvsadm(); got != c.want {
			t.Errorf("%+v:\n got %s\nwant %s", c.t, got, c.want)
		}
	}
}

// TestSaveFormat: services and destinations as ipvsadm -Sn writes them
// (compared with the real one in cmd/lvsconsole TestGuestOpsAreIpvsadm).
func TestSaveFormat(t *testing.T) {
	for _, c := range []struct {
		s    ipvs.Service
		want string
	}{
		{ipvs.Service{ServiceKey: web, Scheduler: "wlc", Flags: ipvs.FlagPersistent, Timeout: 300, Netmask: 0xffffff00}, "-A -t 192.0.2.10:80 -s wlc -p 300 -M 255.255.255.0"},
		// A mask without persistence is not in the save format.
		{ipvs.Service{ServiceKey: web, Scheduler: "rr", Netmask: 0xffffff00}, "-A -t 192.0.2.10:80 -s rr"},
		{ipvs.Service{ServiceKey: dns, Scheduler: "sh", Flags: ipvs.FlagSched1 | ipvs.FlagSched2 | ipvs.FlagOnePacket}, "-A -u 192.0.2.53:53 -s sh -o -b sh-fallback,sh-port"},
		{ipvs.Service{ServiceKey: dns, Scheduler: "rr", Flags: ipvs.FlagPersistent, Timeout: 30, PEName: "sip"}, "-A -u 192.0.2.53:53 -s rr -p 30 --pe sip"},
		{ipvs.Service{ServiceKey: web6, Scheduler: "wrr", Flags: ipvs.FlagPersistent, Timeout: 60, Netmask: 64}, "-A -t [2001:db8::1]:443 -s wrr -p 60 -M 64"},
		{ipvs.Service{ServiceKey: mark6, Scheduler: "rr", Flags: ipvs.FlagPersistent, Timeout: 100, Netmask: 128}, "-A -f 8 -6 -s rr -p 100"},
		{ipvs.Service{ServiceKey: diam, Scheduler: "rr"}, "-A --sctp-service 192.0.2.5:3868 -s rr"},
		// ipvsadm writes only the flags sh and mh name.
		{ipvs.Service{ServiceKey: dns, Scheduler: "mh", Flags: ipvs.FlagSched2 | ipvs.FlagSched3}, "-A -u 192.0.2.53:53 -s mh -b mh-port"},
		{ipvs.Service{ServiceKey: dns, Scheduler: "rr", Flags: ipvs.FlagSched3}, "-A -u 192.0.2.53:53 -s rr -b flag-3"},
	} {
		if got := ipvs.SaveService(&c.s); got != c.want {
			t.Errorf("SaveService:\n got %s\nwant %s", got, c.want)
		}
	}
	for _, c := range []struct {
		k    ipvs.ServiceKey
		d    ipvs.Destination
		want string
	}{
		{web, ipvs.Destination{Addr: netip4("10.0.0.1"), Port: 80, Forward: ipvs.Masquerade, Weight: 5, UpperThreshold: 100}, "-a -t 192.0.2.10:80 -r 10.0.0.1:80 -m -w 5"},
		{web, ipvs.Destination{Addr: netip4("10.0.0.3"), Port: 80, Forward: ipvs.LocalNode, Weight: 1}, "-a -t 192.0.2.10:80 -r 10.0.0.3:80 -g -w 1"},
		{web, ipvs.Destination{Addr: netip4("10.0.0.5"), Port: 80, Forward: ipvs.Tunnel, Weight: 2}, "-a -t 192.0.2.10:80 -r 10.0.0.5:80 -i -w 2 --tun-type ipip"},
		{web, ipvs.Destination{Addr: netip4("10.0.0.8"), Port: 80, Forward: ipvs.Tunnel, Weight: 2, TunnelType: ipvs.TunnelGUE, TunnelPort: 6081},
			"-a -t 192.0.2.10:80 -r 10.0.0.8:80 -i -w 2 --tun-type gue --tun-port 6081 --tun-nocsum"},
		{mark, ipvs.Destination{Addr: netip4("10.0.0.20"), Forward: ipvs.DirectRoute, Weight: 1}, "-a -f 7 -r 10.0.0.20:0 -g -w 1"},
		{web6, ipvs.Destination{Addr: netip4("2001:db8:1::1"), Port: 443, Forward: ipvs.Masquerade, Weight: 1}, "-a -t [2001:db8::1]:443 -r [2001:db8:1::1]:443 -m -w 1"},
	} {
		if got := ipvs.SaveDest(c.k, &c.d); got != c.want {
			t.Errorf("SaveDest:\n got %s\nwant %s", got, c.want)
		}
	}
}
