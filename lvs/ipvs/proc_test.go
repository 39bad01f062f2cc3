package ipvs_test

import (
	"errors"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/lvsconsole/lvsconsole/lvs/ipvs"
)

// procSample is /proc/net/ip_vs as Debian's 6.1 kernel writes it, with
// what each kind of line can hold.
const procSample = `IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port Forward Weight ActiveConn InActConn
TCP  C0000201:0050 wlc 
  -> 0A000002:1F90      Masq    3      12         4         
  -> 0A000001:0050      Route   1      0          0         
UDP  C0000202:0035 rr ops persistent 75000 FFFFFF00
TCP  [2001:0db8:0000:0000:0000:0000:0000:0001]:01BB sh 
  -> [2001:0db8:0000:0000:0000:0000:0000:0010]:01BB      Tunnel  0      0          7         
FWM  00000007 mh persistent 75000 FFFFFFFF
  -> 0A000003:0000      Local   100    1          0         
`

func TestParseProc(t *testing.T) {
	got, err := ipvs.ParseProc([]byte(procSample))
	if err != nil {
		t.Fatal(err)
	}
	want := []ipvs.ProcService{
		{ServiceKey: ipvs.ServiceKey{Family: ipvs.FamilyIPv4, Protocol: ipvs.TCP, Addr: netip4("192.0.2.1"), Port: 80}, Scheduler: "wlc",
			Dests: []ipvs.ProcDest{
				{Addr: netip4("10.0.0.2"), Port: 8080, Forward: ipvs.Masquerade, Weight: 3, ActiveConns: 12, InactiveConns: 4},
				{Addr: netip4("10.0.0.1"), Port: 80, Forward: ipvs.DirectRoute, Weight: 1},
			}},
		{ServiceKey: ipvs.ServiceKey{Family: ipvs.FamilyIPv4, Protocol: ipvs.UDP, Addr: netip4("192.0.2.2"), Port: 53}, Scheduler: "rr",
			Flags: ipvs.FlagOnePacket | ipvs.FlagPersistent},
		{ServiceKey: ipvs.ServiceKey{Family: ipvs.FamilyIPv6, Protocol: ipvs.TCP, Addr: netip4("2001:db8::1"), Port: 443}, Scheduler: "sh",
			Dests: []ipvs.ProcDest{{Addr: netip4("2001:db8::10"), Port: 443, Forward: ipvs.Tunnel, InactiveConns: 7}}},
		{ServiceKey: ipvs.ServiceKey{FWMark: 7}, Scheduler: "mh", Flags: ipvs.FlagPersistent,
			Dests: []ipvs.ProcDest{{Addr: netip4("10.0.0.3"), Forward: ipvs.LocalNode, Weight: 100, ActiveConns: 1}}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parsed\n%+v\nwant\n%+v", got, want)
	}
	// A service's destinations cannot grow into the next one's.
	for _, s := range got {
		if cap(s.Dests) != len(s.Dests) {
			t.Errorf("%s: %d destinations, room for %d", s.ServiceKey, len(s.Dests), cap(s.Dests))
		}
	}
}

func TestParseProcErrors(t *testing.T) {
	head := "IP Virtual Server version 1.2.1 (size=4096)\nProt LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port Forward Weight ActiveConn InActConn\n"
	for _, tc := range []struct{ text, want string }{
		{"  -> 0A000002:1F90      Masq    3      0          0\n", "line 4: a destination before any service"},
		{"ICMP  C0000201:0050 wlc\n", `line 4: "ICMP" is not a protocol`},
		{"TCP  C00002:0050 wlc\n", `line 4: "C00002" is not an IPv4 address`},
		{"TCP  C0000201:0050 wlc\n  -> 0A000002:1F90      Bounce  3      0          0\n", `line 5: "Bounce" is not a forwarding method`},
		{"TCP  C0000201:0050 wlc\n  -> 0A000002:1F90      Masq    x      0          0\n", "line 5: "},
		{"FWM  00000000 wlc\n", `line 4: "00000000" is not a firewall mark`},
	} {
		_, err := ipvs.ParseProc([]byte(head + tc.text))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want one with %q", tc.text, err, tc.want)
		}
	}
}

// TestProcServicesOfTheFake: what ProcServices reads of the fake kernel,
// which writes the file as the kernel does, is what the netlink dumps
// read, destinations in the kernel's order.
func TestProcServicesOfTheFake(t *testing.T) {
	ctx := t.Context()
	k, c := newClient(t)
	if _, err := c.ProcServices(ctx); !errors.Is(err, ipvs.ErrNoProc) {
		t.Errorf("without a file: %v, want ErrNoProc", err)
	}
	c.SetProc(k.ProcNetIPVS)
	svcs := []ipvs.Service{
		{ServiceKey: ipvs.ServiceKey{Family: ipvs.FamilyIPv4, Protocol: ipvs.TCP, Addr: netip4("192.0.2.1"), Port: 80}, Scheduler: "wlc"},
		{ServiceKey: ipvs.ServiceKey{Family: ipvs.FamilyIPv6, Protocol: ipvs.UDP, Addr: netip4("2001:db8::1"), Port: 53}, Scheduler: "rr",
			Flags: ipvs.FlagPersistent, Timeout: 300, Netmask: 64},
		{ServiceKey: ipvs.ServiceKey{Family: ipvs.FamilyIPv4, FWMark: 9}, Scheduler: "mh", Flags: ipvs.FlagOnePacket},
	}
	for i, s := range svcs {
		if err := c.NewService(ctx, s); err != nil {
			t.Fatal(err)
		}
		for j, fwd := range []ipvs.Forward{ipvs.Masquerade, ipvs.DirectRoute, ipvs.Tunnel} {
			a := netip.AddrFrom4([4]byte{10, 0, byte(i), byte(j + 1)})
			if s.Family == ipvs.FamilyIPv6 {
				a = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(j + 1)})
			}
			if err := c.NewDestination(ctx, s.ServiceKey, ipvs.Destination{Addr: a, Port: uint16(8000 + j), Forward: fwd, Weight: int32(j * 5)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	got, err := c.ProcServices(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dumped, err := c.Services(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(dumped) {
		t.Fatalf("%d services listed, %d dumped", len(got), len(dumped))
	}
	for i, s := range dumped {
		p := got[i]
		key := s.ServiceKey
		if key.FWMark != 0 {
			key.Family = 0 // not listed
		}
		if p.ServiceKey != key || p.Scheduler != s.Scheduler || p.Flags != s.Flags&(ipvs.FlagPersistent|ipvs.FlagOnePacket) {
			t.Errorf("listed %+v, dumped %+v", p, s)
		}
		ds, err := c.Destinations(ctx, s.ServiceKey)
		if err != nil {
			t.Fatal(err)
		}
		var want []ipvs.ProcDest
		for _, d := range ds {
			want = append(want, ipvs.ProcDest{Addr: d.Addr, Port: d.Port, Forward: d.Forward, Weight: d.Weight,
				ActiveConns: d.ActiveConns, InactiveConns: d.InactiveConns})
		}
		if !slices.Equal(p.Dests, want) {
			t.Errorf("%s: listed %+v, dumped %+v", s.ServiceKey, p.Dests, want)
		}
	}
}
