package engine

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/lvs/ipvs"
	"github.com/lvsconsole/lvsconsole/lvs/ipvs/ipvstest"
)

var ctx = context.Background()

// memLedger is an in-memory Ledger.
type memLedger struct {
	mu    sync.Mutex
	owned map[string]bool
}

func newLedger() *memLedger { return &memLedger{owned: map[string]bool{}} }

func (l *memLedger) OwnedServices(context.Context) (map[string]bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	m := map[string]bool{}
	for k := range l.owned {
		m[k] = true
	}
	return m, nil
}

func (l *memLedger) Own(_ context.Context, keys ...string) error {
	l.mu.Lock()
	for _, k := range keys {
		l.owned[k] = true
	}
	l.mu.Unlock()
	return nil
}

func (l *memLedger) Disown(_ context.Context, keys ...string) error {
	l.mu.Lock()
	for _, k := range keys {
		delete(l.owned, k)
	}
	l.mu.Unlock()
	return nil
}

// fakeKernel returns a fake IPVS and a real client talking to it over a
// netlink socket emulation, batches included.
func fakeKernel(t testing.TB) (*ipvstest.Kernel, *ipvs.Client) {
	t.Helper()
	k := ipvstest.New()
	c, err := ipvs.NewNetlink(k.NetlinkConn())
	if err != nil {
		t.Fatal(err)
	}
	c.SetProc(k.ProcNetIPVS) // as Dial gives it the kernel's
	t.Cleanup(func() { c.Close() })
	return k, c
}

var a = netip.MustParseAddr

// sample is a configuration exercising what Desired maps.
func sample() *config.Config {
	c := config.Default()
	c.Global.Network = config.NAT
	c.Global.TCPTimeout = 1200
	www := config.NewVirtual("www")
	www.Active, www.Address, www.Scheduler = true, a("192.0.2.10"), "wrr"
	www.Persistence, www.PersistenceNetmask = 300, config.MaskBits(24)
	www.Reals = []config.RealServer{
		{Name: "web1", Active: true, Address: a("10.0.0.1"), Weight: 1},
		{Name: "web2", Active: true, Address: a("10.0.0.2"), Port: 8080, Weight: 3, Forward: config.Direct, UpperThreshold: 100, LowerThreshold: 50},
		{Name: "off", Active: false, Address: a("10.0.0.3"), Weight: 1},
	}
	dns := config.NewVirtual("dns6")
	dns.Active, dns.Address, dns.Protocol, dns.Port, dns.Scheduler = true, a("2001:db8::53"), config.UDP, 53, "mh"
	dns.SchedFallback, dns.SchedPort, dns.OnePacket = true, true, true
	dns.Reals = []config.RealServer{{Name: "ns1", Active: true, Address: a("2001:db8:1::1"), Weight: 5, Forward: config.Tunnel}}
	mark := config.NewVirtual("mark")
	mark.Active, mark.Address, mark.FWMark, mark.Port = true, a("192.0.2.11"), 7, 443
	mark.Reals = []config.RealServer{{Name: "m1", Active: true, Address: a("10.0.0.5"), Weight: 1}}
	sorry := config.NewVirtual("sorry")
	sorry.Active, sorry.Address, sorry.Port, sorry.SorryServer = true, a("192.0.2.12"), 80, a("10.0.0.99")
	sorry.Reals = []config.RealServer{{Name: "down", Active: false, Address: a("10.0.0.6"), Weight: 1}}
	idle := config.NewVirtual("idle") // inactive: not programmed
	idle.Address = a("192.0.2.13")
	c.Virtuals = []config.VirtualServer{www, dns, mark, sorry, idle}
	if err := c.Validate(); err != nil {
		panic(err)
	}
	return c
}

func TestDesired(t *testing.T) {
	tab := Desired(sample(), Configured{})
	if len(tab.Services) != 4 {
		t.Fatalf("%d services, want 4 (the inactive one left out)", len(tab.Services))
	}
	www := tab.Services[0]
	if www.Protocol != ipvs.TCP || www.Addr != a("192.0.2.10") || www.Port != 80 || www.Scheduler != "wrr" ||
		www.Flags != ipvs.FlagPersistent || www.Timeout != 300 || www.Netmask != 0xffffff00 {
		t.Errorf("www = %+v", www.Service)
	}
	if len(www.Dests) != 2 || www.Dests[0].Forward != ipvs.Masquerade || www.Dests[0].Port != 80 ||
		www.Dests[1].Forward != ipvs.DirectRoute || www.Dests[1].Port != 8080 || www.Dests[1].Weight != 3 ||
		www.Dests[1].UpperThreshold != 100 || www.Dests[1].LowerThreshold != 50 {
		t.Errorf("www destinations = %+v", www.Dests)
	}
	dns := tab.Services[1]
	if dns.Family != ipvs.FamilyIPv6 || dns.Protocol != ipvs.UDP || dns.Netmask != 128 ||
		dns.Flags != ipvs.FlagOnePacket|ipvs.FlagSched1|ipvs.FlagSched2 || dns.Dests[0].Forward != ipvs.Tunnel {
		t.Errorf("dns6 = %+v %+v", dns.Service, dns.Dests)
	}
	mark := tab.Services[2]
	if mark.FWMark != 7 || mark.Port != 0 || mark.Addr.IsValid() || mark.Dests[0].Port != 0 {
		t.Errorf("fwmark service = %+v %+v (destinations keep the packet's port)", mark.Service, mark.Dests)
	}
	sorry := tab.Services[3]
	if len(sorry.Dests) != 1 || sorry.Dests[0].Addr != a("10.0.0.99") || sorry.Dests[0].Weight != 1 {
		t.Errorf("sorry server not put in: %+v", sorry.Dests)
	}
	if tab.Timeouts.TCP != 1200*time.Second || tab.Timeouts.UDP != 0 {
		t.Errorf("timeouts = %+v", tab.Timeouts)
	}
}

// writes returns the commands of the fake's log that change the table.
func writes(k *ipvstest.Kernel) []uint8 {
	var cmds []uint8
	for _, r := range k.Requests() {
		switch r.Cmd {
		case cmdGetService, cmdGetDest, cmdGetConfig, cmdGetInfo, cmdGetDaemon:
		default:
			cmds = append(cmds, r.Cmd)
		}
	}
	return cmds
}

// Command numbers of include/uapi/linux/ip_vs.h.
const (
	cmdNewService = 1
	cmdSetService = 2
	cmdDelService = 3
	cmdGetService = 4
	cmdNewDest    = 5
	cmdSetDest    = 6
	cmdDelDest    = 7
	cmdGetDest    = 8
	cmdGetDaemon  = 11
	cmdSetConfig  = 12
	cmdGetConfig  = 13
	cmdGetInfo    = 15
)

func apply(t *testing.T, c *ipvs.Client, l Ledger, cfg *config.Config) *Result {
	t.Helper()
	res, err := Reconcile(ctx, c, l, Desired(cfg, Configured{}), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range res.Errors {
		t.Errorf("reconcile: %v", err)
	}
	return res
}

// kernelMatches checks that the fake holds exactly the desired table.
func kernelMatches(t *testing.T, k *ipvstest.Kernel, want *Table) {
	t.Helper()
	got := k.Services()
	if len(got) != len(want.Services) {
		t.Fatalf("kernel has %d services, want %d", len(got), len(want.Services))
	}
	for _, ws := range want.Services {
		i := slices.IndexFunc(got, func(s ipvs.Service) bool { return s.ServiceKey == ws.ServiceKey })
		if i < 0 {
			t.Errorf("kernel lacks %s", ws.ServiceKey)
			continue
		}
		if !sameService(&got[i], &ws.Service) {
			t.Errorf("%s: kernel %+v, want %+v", ws.ServiceKey, got[i], ws.Service)
		}
		dests := k.Destinations(ws.ServiceKey)
		if len(dests) != len(ws.Dests) {
			t.Errorf("%s: kernel has %d destinations, want %d", ws.ServiceKey, len(dests), len(ws.Dests))
			continue
		}
		for _, wd := range ws.Dests {
			j := slices.IndexFunc(dests, func(d ipvs.Destination) bool { return d.Key() == wd.Key() })
			if j < 0 || !sameDest(&dests[j], &wd) {
				t.Errorf("%s: destination %s missing or different", ws.ServiceKey, wd.Key())
			}
		}
	}
}

func TestReconcileAppliesAndIsIdempotent(t *testing.T) {
	k, c := fakeKernel(t)
	l := newLedger()
	cfg := sample()
	res := apply(t, c, l, cfg)
	kernelMatches(t, k, Desired(cfg, Configured{}))
	if len(res.Changes) != 4+5+1 { // services, destinations, timeouts
		t.Errorf("%d changes: %v", len(res.Changes), res.Changes)
	}
	if len(l.owned) != 4 {
		t.Errorf("ledger = %v", l.owned)
	}
	k.Reset()
	res = apply(t, c, l, cfg)
	if len(res.Changes) != 0 || len(writes(k)) != 0 {
		t.Errorf("second run changed %v, sent %v", res.Changes, writes(k))
	}
}

func TestEditsAreInPlace(t *testing.T) {
	k, c := fakeKernel(t)
	l := newLedger()
	cfg := sample()
	apply(t, c, l, cfg)

	k.Reset()
	cfg.Virtual("www").Real("web2").Weight = 7
	res := apply(t, c, l, cfg)
	if w := writes(k); !slices.Equal(w, []uint8{cmdSetDest}) {
		t.Errorf("a weight change sent %v, want one SET_DEST", w)
	}
	if len(res.Changes) != 1 || res.Changes[0].Op != "edit destination" {
		t.Errorf("changes = %v", res.Changes)
	}

	k.Reset()
	cfg.Virtual("www").Scheduler = "lc"
	apply(t, c, l, cfg)
	if w := writes(k); !slices.Equal(w, []uint8{cmdSetService}) {
		t.Errorf("a scheduler change sent %v, want one SET_SERVICE", w)
	}

	k.Reset()
	cfg.Virtual("www").Real("web1").Active = false
	apply(t, c, l, cfg)
	if w := writes(k); !slices.Equal(w, []uint8{cmdDelDest}) {
		t.Errorf("deactivating a real server sent %v, want one DEL_DEST", w)
	}

	// Changing the port changes the service's identity: delete and add.
	k.Reset()
	cfg.Virtual("www").Port = 8000
	apply(t, c, l, cfg)
	kernelMatches(t, k, Desired(cfg, Configured{}))
	if l.owned["6/192.0.2.10:80"] || !l.owned["6/192.0.2.10:8000"] {
		t.Errorf("ledger after the port change = %v", l.owned)
	}
	// Deactivating the virtual server deletes its service.
	cfg.Virtual("www").Active = false
	apply(t, c, l, cfg)
	kernelMatches(t, k, Desired(cfg, Configured{}))
}

func TestForeignServicesAreLeftAlone(t *testing.T) {
	k, c := fakeKernel(t)
	l := newLedger()
	// Someone added two services by hand: one we do not want, one that
	// collides with a virtual server of ours.
	foreign := ipvs.Service{ServiceKey: ipvs.ServiceKey{Family: ipvs.FamilyIPv4, Protocol: ipvs.TCP, Addr: a("198.51.100.1"), Port: 22},
		Scheduler: "rr", Netmask: 0xffffffff}
	clash := ipvs.Service{ServiceKey: ipvs.ServiceKey{Family: ipvs.FamilyIPv4, Protocol: ipvs.TCP, Addr: a("192.0.2.10"), Port: 80},
		Scheduler: "rr", Netmask: 0xffffffff}
	for _, s := range []ipvs.Service{foreign, clash} {
		if err := c.NewService(ctx, s); err != nil {
			t.Fatal(err)
		}
		if err := c.NewDestination(ctx, s.ServiceKey, ipvs.Destination{Addr: a("10.9.9.9"), Port: s.Port, Forward: ipvs.DirectRoute, Weight: 1}); err != nil {
			t.Fatal(err)
		}
	}
	res, err := Reconcile(ctx, c, l, Desired(sample(), Configured{}), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Errors) != 1 || !errors.Is(res.Errors[0], ErrNotOwned) || !strings.Contains(res.Errors[0].Error(), "www") {
		t.Errorf("errors = %v, want one saying www's service is not ours", res.Errors)
	}
	for _, s := range []ipvs.Service{foreign, clash} {
		got, err := c.Service(ctx, s.ServiceKey)
		if err != nil || got.Scheduler != "rr" || len(k.Destinations(s.ServiceKey)) != 1 {
			t.Errorf("%s was changed: %+v %v", s.ServiceKey, got, err)
		}
	}
	// The other services were still applied.
	if len(k.Services()) != 2+3 {
		t.Errorf("kernel has %d services", len(k.Services()))
	}
	// Emptying the configuration deletes only ours.
	apply(t, c, l, config.Default())
	if got := k.Services(); len(got) != 2 {
		t.Errorf("after emptying the configuration the kernel has %v", got)
	}
}

func TestOneFailureDoesNotStopTheOthers(t *testing.T) {
	k, c := fakeKernel(t)
	l := newLedger()
	k.Fail(cmdNewDest, int(syscall.EINVAL), 1)
	res, err := Reconcile(ctx, c, l, Desired(sample(), Configured{}), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Errors) != 1 || !strings.Contains(res.Errors[0].Error(), "www") || !strings.Contains(res.Errors[0].Error(), "10.0.0.1:80") {
		t.Fatalf("errors = %v, want one naming www and its destination", res.Errors)
	}
	if n := len(res.Changes); n != 4+4+1 {
		t.Errorf("%d changes applied despite the failure, want 9: %v", n, res.Changes)
	}
	// The next run repairs it.
	apply(t, c, l, sample())
	kernelMatches(t, k, Desired(sample(), Configured{}))
}

func TestRestartAdoptsItsOwn(t *testing.T) {
	k, c := fakeKernel(t)
	l := newLedger()
	apply(t, c, l, sample())
	// A new process (same ledger, new client) changes nothing.
	c2, err := ipvs.NewNetlink(k.NetlinkConn())
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	k.Reset()
	res := apply(t, c2, l, sample())
	if len(res.Changes) != 0 || len(writes(k)) != 0 {
		t.Errorf("a restart changed %v", res.Changes)
	}
	// Someone deleted one of ours by hand: it comes back.
	www := Desired(sample(), Configured{}).Services[0].ServiceKey
	if err := c2.DeleteService(ctx, www); err != nil {
		t.Fatal(err)
	}
	apply(t, c2, l, sample())
	kernelMatches(t, k, Desired(sample(), Configured{}))
}

// large is a configuration of 1,000 virtual servers x 10 real servers.
func large() *config.Config {
	cfg := config.Default()
	for i := range 1000 {
		vs := config.NewVirtual(fmt.Sprintf("vs%d", i))
		vs.Active, vs.Address = true, netip.AddrFrom4([4]byte{192, 0, byte(2 + i/250), byte(1 + i%250)})
		for j := range 10 {
			rs := config.NewReal(fmt.Sprintf("rs%d", j))
			rs.Active, rs.Address = true, netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), byte(1 + j)})
			vs.Reals = append(vs.Reals, rs)
		}
		cfg.Virtuals = append(cfg.Virtuals, vs)
	}
	return cfg
}
