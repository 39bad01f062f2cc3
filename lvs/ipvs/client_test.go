package ipvs_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/ipvs"
	"github.com/lvsconsole/lvsconsole/lvs/ipvs/ipvstest"
)

// Commands, restated from include/uapi/linux/ip_vs.h for the tests.
const (
	cmdNewService = 1
	cmdSetService = 2
	cmdDelService = 3
	cmdGetService = 4
	cmdNewDest    = 5
	cmdSetDest    = 6
	cmdDelDest    = 7
	cmdGetDest    = 8
	cmdNewDaemon  = 9
	cmdDelDaemon  = 10
	cmdGetDaemon  = 11
	cmdSetConfig  = 12
	cmdGetConfig  = 13
	cmdGetInfo    = 15
	cmdZero       = 16
	cmdFlush      = 17
)

func newClient(t testing.TB) (*ipvstest.Kernel, *ipvs.Client) {
	t.Helper()
	k := ipvstest.New()
	c, err := ipvs.New(k.Conn())
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return k, c
}

var (
	vip4 = netip.MustParseAddr("192.0.2.1")
	vip6 = netip.MustParseAddr("2001:db8::1")
)

func tcp4(port uint16) ipvs.ServiceKey {
	return ipvs.ServiceKey{Family: ipvs.FamilyIPv4, Protocol: ipvs.TCP, Addr: vip4, Port: port}
}

// readBack is what the kernel reports for s: a zero netmask is the whole
// address.
func readBack(s ipvs.Service) ipvs.Service {
	if s.Netmask == 0 {
		s.Netmask = 0xffffffff
		if s.Family == ipvs.FamilyIPv6 {
			s.Netmask = 128
		}
	}
	return s
}

func TestServiceRoundTrip(t *testing.T) {
	ctx := context.Background()
	k4 := func(p ipvs.Protocol, port uint16) ipvs.ServiceKey {
		return ipvs.ServiceKey{Family: ipvs.FamilyIPv4, Protocol: p, Addr: vip4, Port: port}
	}
	k6 := func(p ipvs.Protocol, port uint16) ipvs.ServiceKey {
		return ipvs.ServiceKey{Family: ipvs.FamilyIPv6, Protocol: p, Addr: vip6, Port: port}
	}
	services := []ipvs.Service{
		{ServiceKey: k4(ipvs.TCP, 80), Scheduler: "rr"},
		{ServiceKey: k4(ipvs.UDP, 53), Scheduler: "wrr"},
		{ServiceKey: k4(ipvs.SCTP, 3868), Scheduler: "lc"},
		{ServiceKey: k6(ipvs.TCP, 443), Scheduler: "wlc"},
		{ServiceKey: k6(ipvs.UDP, 53), Scheduler: "sed"},
		{ServiceKey: k6(ipvs.SCTP, 3868), Scheduler: "nq"},
		{ServiceKey: ipvs.ServiceKey{Family: ipvs.FamilyIPv4, FWMark: 3}, Scheduler: "wlc"},
		{ServiceKey: ipvs.ServiceKey{Family: ipvs.FamilyIPv6, FWMark: 3}, Scheduler: "wlc"},
		{ServiceKey: k4(ipvs.TCP, 8080), Scheduler: "sh", Flags: ipvs.FlagSched1 | ipvs.FlagSched2},
		{ServiceKey: k4(ipvs.TCP, 8081), Scheduler: "mh", Flags: ipvs.FlagSched1},
		{ServiceKey: k4(ipvs.UDP, 514), Scheduler: "rr", Flags: ipvs.FlagOnePacket},
		{ServiceKey: k4(ipvs.TCP, 21), Scheduler: "wlc", Flags: ipvs.FlagPersistent, Timeout: 300, Netmask: 0xffffff00},
		{ServiceKey: k6(ipvs.TCP, 21), Scheduler: "wlc", Flags: ipvs.FlagPersistent, Timeout: 600, Netmask: 64},
		{ServiceKey: k4(ipvs.UDP, 5060), Scheduler: "rr", Flags: ipvs.FlagPersistent, Timeout: 360, PEName: "sip"},
		{ServiceKey: k4(ipvs.TCP, 0), Scheduler: "none"},
	}
	for i, name := range ipvstest.DefaultSchedulers() {
		services = append(services, ipvs.Service{ServiceKey: k4(ipvs.TCP, uint16(10000+i)), Scheduler: name})
	}

	k, c := newClient(t)
	for _, s := range services {
		if err := c.NewService(ctx, s); err != nil {
			t.Fatalf("NewService(%v): %v", s.ServiceKey, err)
		}
	}
	for _, s := range services {
		got, err := c.Service(ctx, s.ServiceKey)
		if err != nil {
			t.Fatalf("Service(%v): %v", s.ServiceKey, err)
		}
		if want := readBack(s); got != want {
			t.Errorf("Service(%v):\n got %+v\nwant %+v", s.ServiceKey, got, want)
		}
	}

	// The dump, and the fake's own view (a second decoder), agree.
	byKey := func(ss []ipvs.Service) map[ipvs.ServiceKey]ipvs.Service {
		m := make(map[ipvs.ServiceKey]ipvs.Service)
		for _, s := range ss {
			m[s.ServiceKey] = s
		}
		return m
	}
	list, err := c.Services(ctx)
	if err != nil {
		t.Fatalf("Services: %v", err)
	}
	dumped, table := byKey(list), byKey(k.Services())
	if len(list) != len(services) || len(dumped) != len(services) {
		t.Fatalf("Services: %d, want %d", len(list), len(services))
	}
	for _, s := range services {
		want := readBack(s)
		if got := dumped[s.ServiceKey]; got != want {
			t.Errorf("Services: %v:\n got %+v\nwant %+v", s.ServiceKey, got, want)
		}
		if got := table[s.ServiceKey]; got != want {
			t.Errorf("kernel table: %v:\n got %+v\nwant %+v", s.ServiceKey, got, want)
		}
	}
}

func TestDestinationRoundTrip(t *testing.T) {
	ctx := context.Background()
	k, c := newClient(t)
	svc4 := tcp4(80)
	svc6 := ipvs.ServiceKey{Family: ipvs.FamilyIPv6, Protocol: ipvs.TCP, Addr: vip6, Port: 80}
	for _, key := range []ipvs.ServiceKey{svc4, svc6} {
		if err := c.NewService(ctx, ipvs.Service{ServiceKey: key, Scheduler: "wrr"}); err != nil {
			t.Fatal(err)
		}
	}

	a := func(s string) netip.Addr { return netip.MustParseAddr(s) }
	cases := []struct {
		svc ipvs.ServiceKey
		d   ipvs.Destination
	}{
		{svc4, ipvs.Destination{Addr: a("10.0.0.1"), Port: 8080, Forward: ipvs.Masquerade, Weight: 1}},
		{svc4, ipvs.Destination{Addr: a("10.0.0.2"), Port: 80, Forward: ipvs.DirectRoute, Weight: 0}},
		{svc4, ipvs.Destination{Addr: a("10.0.0.3"), Port: 80, Forward: ipvs.Tunnel, Weight: 2147483647, TunnelType: ipvs.TunnelIPIP}},
		{svc4, ipvs.Destination{Addr: a("10.0.0.4"), Port: 80, Forward: ipvs.Tunnel, Weight: 5,
			TunnelType: ipvs.TunnelGUE, TunnelPort: 6080, TunnelFlags: ipvs.TunnelChecksum}},
		{svc4, ipvs.Destination{Addr: a("10.0.0.5"), Port: 80, Forward: ipvs.Tunnel, Weight: 5,
			TunnelType: ipvs.TunnelGUE, TunnelPort: 5555, TunnelFlags: ipvs.TunnelRemoteChecksum}},
		{svc4, ipvs.Destination{Addr: a("10.0.0.6"), Port: 80, Forward: ipvs.Tunnel, Weight: 5,
			TunnelType: ipvs.TunnelGRE, TunnelFlags: ipvs.TunnelChecksum}},
		{svc4, ipvs.Destination{Addr: a("10.0.0.7"), Port: 80, Forward: ipvs.Masquerade, Weight: 3,
			UpperThreshold: 1000, LowerThreshold: 100}},
		{svc6, ipvs.Destination{Addr: a("2001:db8:1::1"), Port: 80, Forward: ipvs.Masquerade, Weight: 1}},
		{svc6, ipvs.Destination{Addr: a("2001:db8:1::2"), Port: 443, Forward: ipvs.DirectRoute, Weight: 100}},
		// A mixed-family pool: IPv4 real server behind an IPv6 service.
		{svc6, ipvs.Destination{Addr: a("10.0.1.1"), Port: 80, Forward: ipvs.Tunnel, Weight: 1, TunnelType: ipvs.TunnelIPIP}},
	}
	for _, tc := range cases {
		if err := c.NewDestination(ctx, tc.svc, tc.d); err != nil {
			t.Fatalf("NewDestination(%v, %v): %v", tc.svc, tc.d.Key(), err)
		}
	}
	if err := k.SetConns(svc4, cases[0].d.Key(), 7, 8, 9); err != nil {
		t.Fatal(err)
	}
	big := ipvs.Stats{Conns: 1 << 33, InPkts: 1<<32 + 1, OutPkts: 3, InBytes: 1 << 40, OutBytes: 5,
		CPS: 6, InPPS: 7, OutPPS: 8, InBPS: 1 << 35, OutBPS: 10}
	key0 := cases[0].d.Key()
	if err := k.SetStats(svc4, &key0, big); err != nil {
		t.Fatal(err)
	}

	for _, svc := range []ipvs.ServiceKey{svc4, svc6} {
		var want []ipvs.Destination
		for _, tc := range cases {
			if tc.svc == svc {
				d := tc.d
				d.Family = ipvs.FamilyIPv6
				if d.Addr.Is4() {
					d.Family = ipvs.FamilyIPv4
				}
				if d.Key() == key0 {
					d.ActiveConns, d.InactiveConns, d.PersistConns = 7, 8, 9
					d.Stats = big
				}
				want = append([]ipvs.Destination{d}, want...) // newest first
			}
		}
		got, err := c.Destinations(ctx, svc)
		if err != nil {
			t.Fatalf("Destinations(%v): %v", svc, err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("Destinations(%v):\n got %+v\nwant %+v", svc, got, want)
		}
		if table := k.Destinations(svc); !slices.Equal(table, want) {
			t.Errorf("kernel table %v:\n got %+v\nwant %+v", svc, table, want)
		}
	}
}

func TestUpdateInPlace(t *testing.T) {
	ctx := context.Background()
	k, c := newClient(t)
	svc := ipvs.Service{ServiceKey: tcp4(80), Scheduler: "rr"}
	d := ipvs.Destination{Addr: netip.MustParseAddr("10.0.0.1"), Port: 80, Forward: ipvs.DirectRoute, Weight: 1}
	if err := c.NewService(ctx, svc); err != nil {
		t.Fatal(err)
	}
	if err := c.NewDestination(ctx, svc.ServiceKey, d); err != nil {
		t.Fatal(err)
	}

	// A scheduler change is one SET_SERVICE; the destination stays.
	k.Reset()
	before := c.Requests()
	svc.Scheduler = "wlc"
	if err := c.UpdateService(ctx, svc); err != nil {
		t.Fatalf("UpdateService: %v", err)
	}
	if n := c.Requests() - before; n != 1 {
		t.Errorf("UpdateService sent %d requests, want 1", n)
	}
	if r := k.Requests(); len(r) != 1 || r[0].Cmd != cmdSetService || r[0].Service != svc.ServiceKey {
		t.Errorf("kernel saw %+v, want one SET_SERVICE for %v", r, svc.ServiceKey)
	}
	if got := k.Services()[0].Scheduler; got != "wlc" {
		t.Errorf("scheduler %q, want wlc", got)
	}

	// A weight change is one SET_DEST.
	k.Reset()
	before = c.Requests()
	d.Weight = 50
	if err := c.UpdateDestination(ctx, svc.ServiceKey, d); err != nil {
		t.Fatalf("UpdateDestination: %v", err)
	}
	if n := c.Requests() - before; n != 1 {
		t.Errorf("UpdateDestination sent %d requests, want 1", n)
	}
	if r := k.Requests(); len(r) != 1 || r[0].Cmd != cmdSetDest || r[0].Dest != d.Key() {
		t.Errorf("kernel saw %+v, want one SET_DEST for %v", r, d.Key())
	}
	got := k.Destinations(svc.ServiceKey)
	if len(got) != 1 || got[0].Weight != 50 {
		t.Errorf("destinations after update: %+v, want one of weight 50", got)
	}

	// Flags and persistence change in place; an empty PE name unbinds.
	svc.Flags, svc.Timeout, svc.Netmask, svc.PEName = ipvs.FlagPersistent, 120, 0xffff0000, "sip"
	if err := c.UpdateService(ctx, svc); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.Service(ctx, svc.ServiceKey); got != svc {
		t.Errorf("after update:\n got %+v\nwant %+v", got, svc)
	}
	svc.Flags, svc.Timeout, svc.PEName = 0, 0, ""
	if err := c.UpdateService(ctx, svc); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.Service(ctx, svc.ServiceKey); got != svc {
		t.Errorf("after second update:\n got %+v\nwant %+v", got, svc)
	}
	if n := len(k.Destinations(svc.ServiceKey)); n != 1 {
		t.Errorf("%d destinations after the updates, want 1", n)
	}
}

func TestDelete(t *testing.T) {
	ctx := context.Background()
	k, c := newClient(t)
	key := tcp4(80)
	d := ipvs.Destination{Addr: netip.MustParseAddr("10.0.0.1"), Port: 80, Weight: 1}
	if err := c.NewService(ctx, ipvs.Service{ServiceKey: key, Scheduler: "rr"}); err != nil {
		t.Fatal(err)
	}
	if err := c.NewDestination(ctx, key, d); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteDestination(ctx, key, d.Key()); err != nil {
		t.Fatalf("DeleteDestination: %v", err)
	}
	if got, err := c.Destinations(ctx, key); err != nil || len(got) != 0 {
		t.Fatalf("Destinations after delete: %v, %v", got, err)
	}
	if err := c.DeleteService(ctx, key); err != nil {
		t.Fatalf("DeleteService: %v", err)
	}
	if _, err := c.Service(ctx, key); !errors.Is(err, ipvs.ErrNotFound) {
		t.Fatalf("Service after delete: %v, want ErrNotFound", err)
	}
	// The kernel's quirk: no error for a missing service's destinations.
	if got, err := c.Destinations(ctx, key); err != nil || len(got) != 0 {
		t.Fatalf("Destinations of a deleted service: %v, %v; want empty, nil", got, err)
	}
	if len(k.Services()) != 0 {
		t.Errorf("kernel still has %v", k.Services())
	}
}

func TestTimeouts(t *testing.T) {
	ctx := context.Background()
	k, c := newClient(t)
	got, err := c.Timeouts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := (ipvs.Timeouts{TCP: 900 * time.Second, TCPFin: 120 * time.Second, UDP: 300 * time.Second}); got != want {
		t.Errorf("Timeouts = %+v, want the kernel's defaults %+v", got, want)
	}
	if err := c.SetTimeouts(ctx, ipvs.Timeouts{TCP: time.Hour, UDP: 30 * time.Second}); err != nil {
		t.Fatal(err)
	}
	want := ipvs.Timeouts{TCP: time.Hour, TCPFin: 120 * time.Second, UDP: 30 * time.Second}
	if got, err := c.Timeouts(ctx); err != nil || got != want {
		t.Errorf("Timeouts = %+v, %v; want %+v", got, err, want)
	}
	if got := k.Timeouts(); got != want {
		t.Errorf("kernel has %+v, want %+v", got, want)
	}

	// Refused before sending: a fraction of a second.
	before := c.Requests()
	err = c.SetTimeouts(ctx, ipvs.Timeouts{TCP: 1500 * time.Millisecond})
	var e *ipvs.Error
	if !errors.As(err, &e) || c.Requests() != before {
		t.Errorf("SetTimeouts(1.5s) = %v after %d requests, want a local *Error", err, c.Requests()-before)
	}
	// Refused by the kernel: above INT_MAX/HZ.
	if err := c.SetTimeouts(ctx, ipvs.Timeouts{UDP: (1<<31 - 1) * time.Second}); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("SetTimeouts(huge) = %v, want EINVAL", err)
	}
}

func TestDaemons(t *testing.T) {
	ctx := context.Background()
	k, c := newClient(t)
	if got, err := c.Daemons(ctx); err != nil || len(got) != 0 {
		t.Fatalf("Daemons = %v, %v; want none", got, err)
	}
	master := ipvs.Daemon{State: ipvs.DaemonMaster, Interface: "eth0", SyncID: 7}
	backup := ipvs.Daemon{State: ipvs.DaemonBackup, Interface: "eth1", SyncID: 8, MaxLen: 1400,
		McastGroup: netip.MustParseAddr("ff02::1:8"), McastPort: 9000, McastTTL: 2}
	for _, d := range []ipvs.Daemon{master, backup} {
		if err := c.StartDaemon(ctx, d); err != nil {
			t.Fatalf("StartDaemon(%v): %v", d.State, err)
		}
	}
	// The kernel fills in its defaults: 224.0.0.81:8848, TTL 1, 1500 less
	// the IPv4 and UDP headers.
	master.McastGroup, master.McastPort, master.McastTTL, master.MaxLen =
		netip.MustParseAddr("224.0.0.81"), 8848, 1, 1472
	want := []ipvs.Daemon{master, backup}
	got, err := c.Daemons(ctx)
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("Daemons =\n %+v, %v\nwant %+v", got, err, want)
	}
	if table := k.Daemons(); !slices.Equal(table, want) {
		t.Errorf("kernel has %+v", table)
	}
	if err := c.StartDaemon(ctx, master); !errors.Is(err, ipvs.ErrExists) {
		t.Errorf("second master: %v, want ErrExists", err)
	}
	if err := c.StopDaemon(ctx, ipvs.DaemonMaster); err != nil {
		t.Fatalf("StopDaemon: %v", err)
	}
	if got, _ := c.Daemons(ctx); !slices.Equal(got, want[1:]) {
		t.Errorf("after stop: %+v", got)
	}
	if err := c.StopDaemon(ctx, ipvs.DaemonMaster); !errors.Is(err, ipvs.ErrNotFound) {
		t.Errorf("stopping a stopped master: %v, want ErrNotFound", err)
	}
}

func TestZeroAndFlush(t *testing.T) {
	ctx := context.Background()
	k, c := newClient(t)
	a, b := tcp4(80), tcp4(443)
	d := ipvs.Destination{Addr: netip.MustParseAddr("10.0.0.1"), Port: 80, Weight: 1}
	for _, key := range []ipvs.ServiceKey{a, b} {
		if err := c.NewService(ctx, ipvs.Service{ServiceKey: key, Scheduler: "rr"}); err != nil {
			t.Fatal(err)
		}
		if err := c.NewDestination(ctx, key, d); err != nil {
			t.Fatal(err)
		}
	}
	st := ipvs.Stats{Conns: 1, InPkts: 2, OutPkts: 3, InBytes: 4, OutBytes: 5, CPS: 6}
	dk := d.Key()
	for _, key := range []ipvs.ServiceKey{a, b} {
		if err := k.SetStats(key, nil, st); err != nil {
			t.Fatal(err)
		}
		if err := k.SetStats(key, &dk, st); err != nil {
			t.Fatal(err)
		}
	}
	if s, _ := c.Service(ctx, a); s.Stats != st {
		t.Fatalf("stats %+v, want %+v", s.Stats, st)
	}

	if err := c.Zero(ctx, &a); err != nil {
		t.Fatalf("Zero(a): %v", err)
	}
	sa, _ := c.Service(ctx, a)
	sb, _ := c.Service(ctx, b)
	da, _ := c.Destinations(ctx, a)
	if sa.Stats != (ipvs.Stats{}) || da[0].Stats != (ipvs.Stats{}) || sb.Stats != st {
		t.Errorf("after Zero(a): a %+v, a's destination %+v, b %+v", sa.Stats, da[0].Stats, sb.Stats)
	}
	if err := c.Zero(ctx, nil); err != nil {
		t.Fatalf("Zero(nil): %v", err)
	}
	if sb, _ := c.Service(ctx, b); sb.Stats != (ipvs.Stats{}) {
		t.Errorf("after Zero(nil): b %+v", sb.Stats)
	}
	if err := c.Zero(ctx, ptr(tcp4(1))); !errors.Is(err, ipvs.ErrNotFound) {
		t.Errorf("Zero of a missing service: %v, want ErrNotFound", err)
	}

	if err := c.Flush(ctx); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	if got, err := c.Services(ctx); err != nil || len(got) != 0 {
		t.Errorf("Services after Flush: %v, %v", got, err)
	}
}

func ptr[T any](v T) *T { return &v }

func TestInfo(t *testing.T) {
	_, c := newClient(t)
	i, err := c.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := i.String(), "IP Virtual Server version 1.2.1 (size=4096)"; got != want {
		t.Errorf("Info = %q, want %q", got, want)
	}
}

func TestManyServicesDump(t *testing.T) {
	// Enough to span several datagrams of the multipart dump.
	ctx := context.Background()
	_, c := newClient(t)
	const n = 700
	for i := range n {
		key := ipvs.ServiceKey{Family: ipvs.FamilyIPv4, Protocol: ipvs.TCP,
			Addr: netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}), Port: 80}
		if err := c.NewService(ctx, ipvs.Service{ServiceKey: key, Scheduler: "rr"}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := c.Services(ctx)
	if err != nil || len(got) != n {
		t.Fatalf("Services: %d, %v; want %d", len(got), err, n)
	}
	slices.SortFunc(got, func(a, b ipvs.Service) int { return a.Addr.Compare(b.Addr) })
	for i, s := range got {
		if want := netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}); s.Addr != want {
			t.Fatalf("service %d is %v, want %v", i, s.Addr, want)
		}
	}
}

func TestContext(t *testing.T) {
	k, c := newClient(t)

	// Done before sending: nothing is sent.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	before := c.Requests()
	if _, err := c.Services(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Services(canceled) = %v, want context.Canceled", err)
	}
	if c.Requests() != before || len(k.Requests()) != 0 {
		t.Errorf("a canceled call sent a request")
	}

	// The deadline is the socket's for the call.
	ctx, cancel = context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	if _, err := c.Info(ctx); err != nil {
		t.Fatal(err)
	}
	want, _ := ctx.Deadline()
	if r := k.Requests(); len(r) != 1 || !r[0].Deadline.Equal(want) {
		t.Errorf("deadline at the socket: %+v, want %v", r, want)
	}
	if _, err := c.Info(context.Background()); err != nil {
		t.Fatal(err)
	}
	if r := k.Requests(); !r[1].Deadline.IsZero() {
		t.Errorf("deadline left over from the previous call: %v", r[1].Deadline)
	}

	// A slow answer runs into the deadline; its late reply does not
	// confuse the next call.
	k.SetReplyDelay(30 * time.Millisecond)
	ctx, cancel = context.WithTimeout(context.Background(), 5*time.Millisecond)
	defer cancel()
	if _, err := c.Info(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Info past its deadline = %v, want context.DeadlineExceeded", err)
	}
	k.SetReplyDelay(0)
	if _, err := c.Timeouts(context.Background()); err != nil {
		t.Errorf("the call after a timeout: %v", err)
	}

	// Cancellation interrupts a call that has no deadline.
	k.SetReplyDelay(5 * time.Second)
	ctx, cancel = context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	start := time.Now()
	if _, err := c.Info(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled Info = %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("cancellation took %v", d)
	}
}

func TestConcurrent(t *testing.T) {
	ctx := context.Background()
	k, c := newClient(t)
	other, err := ipvs.New(k.Conn()) // a second socket on the same table
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()

	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := range 8 {
		cl := c
		if g%2 == 1 {
			cl = other
		}
		wg.Go(func() {
			for i := range 25 {
				key := tcp4(uint16(1000*g + i))
				if err := cl.NewService(ctx, ipvs.Service{ServiceKey: key, Scheduler: "rr"}); err != nil {
					errs <- err
					return
				}
				d := ipvs.Destination{Addr: netip.AddrFrom4([4]byte{10, 0, byte(g), byte(i)}), Port: 80, Weight: 1}
				if err := cl.NewDestination(ctx, key, d); err != nil {
					errs <- err
					return
				}
				if _, err := cl.Services(ctx); err != nil {
					errs <- err
					return
				}
				if ds, err := cl.Destinations(ctx, key); err != nil || len(ds) != 1 {
					errs <- fmt.Errorf("Destinations(%v) = %v, %v", key, ds, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := len(k.Services()); n != 200 {
		t.Errorf("%d services, want 200", n)
	}
	// 4 requests per iteration on the two clients, plus their lookups.
	if n := c.Requests() + other.Requests(); n != 200*4+2 {
		t.Errorf("Requests = %d, want %d", n, 200*4+2)
	}
}

func TestClose(t *testing.T) {
	k, c := newClient(t)
	k.SetReplyDelay(time.Minute)
	done := make(chan error)
	go func() {
		_, err := c.Info(context.Background())
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err == nil {
			t.Error("a call cut short by Close succeeded")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not end the waiting call")
	}
	if _, err := c.Info(context.Background()); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Info after Close = %v, want net.ErrClosed", err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
