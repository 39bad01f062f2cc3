//go:build !guest

package engine

import (
	"context"
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/check"
	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/lvs/health"
	"github.com/lvsconsole/lvsconsole/lvs/ipvs"
)

// TestConfigureAlike: an edit that changes no check leaves Configure
// nothing to redo (checksAlike), and an edit that changes one makes it
// rebuild; either way the checkers, their intervals and the load targets
// are those a fresh Configure of the edited configuration gives.
func TestConfigureAlike(t *testing.T) {
	base := func() *config.Config {
		c := config.Default()
		c.Serial = 1
		for _, name := range []string{"web", "mail"} {
			vs := config.NewVirtual(name)
			vs.Active, vs.Address, vs.Port = true, netip.MustParseAddr("192.0.2.1"), 80
			if name == "mail" {
				vs.Port, vs.LoadMonitor, vs.LoadPort = 25, "agent", 3333
			}
			for i, a := range []string{"10.0.0.1", "10.0.0.2", "10.0.0.3"} {
				rs := config.NewReal("rs" + a)
				rs.Active, rs.Address, rs.Weight = i != 2, netip.MustParseAddr(a), 1
				vs.Reals = append(vs.Reals, rs)
			}
			c.Virtuals = append(c.Virtuals, vs)
		}
		return c
	}
	for _, tc := range []struct {
		name  string
		edit  func(c *config.Config)
		alike bool
	}{
		{"a weight", func(c *config.Config) { c.Virtuals[0].Reals[1].Weight = 7 }, true},
		{"a drain", func(c *config.Config) { c.Virtuals[0].Reals[0].Draining = true }, true},
		{"an inactive server's address", func(c *config.Config) { c.Virtuals[0].Reals[2].Address = netip.MustParseAddr("10.0.0.9") }, true},
		{"the scheduler", func(c *config.Config) { c.Virtuals[0].Scheduler = "rr" }, true},
		{"a global setting", func(c *config.Config) { c.Global.TCPTimeout = 99 }, true},
		{"a monitored server's weight", func(c *config.Config) { c.Virtuals[1].Reals[0].Weight = 7 }, false},
		{"a real server's address", func(c *config.Config) { c.Virtuals[0].Reals[0].Address = netip.MustParseAddr("10.0.0.8") }, false},
		{"a real server's port", func(c *config.Config) { c.Virtuals[0].Reals[0].Port = 8080 }, false},
		{"a real server activated", func(c *config.Config) { c.Virtuals[0].Reals[2].Active = true }, false},
		{"a real server deactivated", func(c *config.Config) { c.Virtuals[0].Reals[0].Active = false }, false},
		{"a virtual server deactivated", func(c *config.Config) { c.Virtuals[0].Active = false }, false},
		{"the check's send and expect", func(c *config.Config) { c.Virtuals[0].Send, c.Virtuals[0].Expect = "HELO x", "250" }, false},
		{"the check's interval", func(c *config.Config) { c.Virtuals[0].CheckInterval = 3 * time.Second }, false},
		{"the failures", func(c *config.Config) { c.Virtuals[0].CheckFailures = 3 }, false},
		{"the virtual server's port", func(c *config.Config) { c.Virtuals[0].Port = 8000 }, false},
		{"a real server added", func(c *config.Config) {
			rs := config.NewReal("new")
			rs.Active, rs.Address = true, netip.MustParseAddr("10.0.0.4")
			c.Virtuals[0].Reals = append(c.Virtuals[0].Reals, rs)
		}, false},
		{"a virtual server deleted", func(c *config.Config) { c.Virtuals = c.Virtuals[:1] }, false},
		{"the order", func(c *config.Config) { c.Virtuals[0], c.Virtuals[1] = c.Virtuals[1], c.Virtuals[0] }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := base()
			after := before.Clone()
			tc.edit(after)
			after.Serial = 2
			if got := checksAlike(before, after); got != tc.alike {
				t.Errorf("checksAlike = %v, want %v", got, tc.alike)
			}
			edited, fresh := NewChecks(), NewChecks()
			el, fl := &fakeLoads{}, &fakeLoads{}
			edited.SetLoads(el)
			fresh.SetLoads(fl)
			edited.Configure(before)
			edited.Configure(after)
			fresh.Configure(after)
			// Spec ids are each Checks' own: compare what they stand for.
			if edited.shortest != fresh.shortest {
				t.Errorf("shortest interval %v, a fresh Configure's %v", edited.shortest, fresh.shortest)
			}
			// Every real server finds its checker by position as after a
			// fresh Configure.
			for i := range after.Virtuals {
				vs := &after.Virtuals[i]
				for j := range vs.Reals {
					rs := &vs.Reals[j]
					_, eok := edited.pos.Load().at(vs, rs)
					_, fok := fresh.pos.Load().at(vs, rs)
					if eok != fok {
						t.Errorf("%s/%s: found by position %v, after a fresh Configure %v", vs.Name, rs.Name, eok, fok)
					}
				}
			}
			if ep, fp := slicesKeys(byCheck(edited, edited.mon.Snapshot())), slicesKeys(byCheck(fresh, fresh.mon.Snapshot())); !reflect.DeepEqual(ep, fp) {
				t.Errorf("checkers %v, a fresh Configure's %v", ep, fp)
			}
			if !reflect.DeepEqual(el.targets, fl.targets) {
				t.Errorf("load targets %v, a fresh Configure's %v", el.targets, fl.targets)
			}
			if edited.serial != 2 || edited.cfg != after {
				t.Errorf("configured serial %d", edited.serial)
			}
		})
	}
}

// plainKey is a checkKey with its spec rather than the spec's id.
type plainKey struct {
	Target check.Target
	Spec   check.Spec
}

// byCheck rekeys m by plainKey.
func byCheck[V any](c *Checks, m map[checkKey]V) map[plainKey]V {
	out := make(map[plainKey]V, len(m))
	for k, v := range m {
		out[plainKey{k.Target, c.specs.all[k.spec]}] = v
	}
	return out
}

func slicesKeys[V any](m map[plainKey]V) map[plainKey]bool {
	out := map[plainKey]bool{}
	for k := range m {
		out[k] = true
	}
	return out
}

// BenchmarkChecksConfigure10000x10 is Checks.Configure for an edit of one
// weight at 10,000 x 10: serve's checks follow every new serial.
func BenchmarkChecksConfigure10000x10(b *testing.B) {
	cfg := editConfig20()
	c := NewChecks()
	cfg.Serial = 1
	c.Configure(cfg)
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		next := *cfg // the configuration is not changed once configured
		next.Virtuals = append([]config.VirtualServer(nil), cfg.Virtuals...)
		next.Virtuals[5000].Reals = append([]config.RealServer(nil), cfg.Virtuals[5000].Reals...)
		next.Virtuals[5000].Reals[5].Weight = int64(2 + i%100)
		next.Serial = int64(i + 2)
		b.StartTimer()
		c.Configure(&next)
		cfg = &next
	}
}

// TestKeyText: the ledger's keys are those fmt wrote before; a change
// would disown every service this director made.
func TestKeyText(t *testing.T) {
	for _, k := range []ipvs.ServiceKey{
		{Family: ipvs.FamilyIPv4, Protocol: ipvs.TCP, Addr: netip.MustParseAddr("192.0.2.1"), Port: 80},
		{Family: ipvs.FamilyIPv6, Protocol: ipvs.UDP, Addr: netip.MustParseAddr("2001:db8::1"), Port: 53},
		{Family: ipvs.FamilyIPv6, Protocol: ipvs.SCTP, Addr: netip.MustParseAddr("fe80::1%eth0"), Port: 0},
		{Family: ipvs.FamilyIPv4, FWMark: 7},
		{Family: ipvs.FamilyIPv6, FWMark: 4294967295},
		{},
	} {
		want := fmt.Sprintf("%d/%s", k.Protocol, netip.AddrPortFrom(k.Addr, k.Port))
		if k.FWMark != 0 {
			want = fmt.Sprintf("fwm/%d/%d", k.Family, k.FWMark)
		}
		if got := keyText(k); got != want {
			t.Errorf("keyText(%+v) = %q, want %q", k, got, want)
		}
	}
}

// TestSpecsIntern: equal checks share an id, different ones do not, and a
// lookup answers for the virtual server asked, whatever was asked before
// and whenever its spec was numbered.
func TestSpecsIntern(t *testing.T) {
	var s specs
	web := config.NewVirtual("web")
	web.Send, web.Expect = "GET / HTTP/1.0\\r\\n\\r\\n", "HTTP"
	same := config.NewVirtual("same")
	same.Send, same.Expect = web.Send, web.Expect
	same.HTTPPath = "/ignored" // not a field of a send/expect check
	other := config.NewVirtual("other")
	other.CheckKind = string(check.SYN)

	if _, ok := s.of(&web); ok {
		t.Fatal("a spec never numbered has an id")
	}
	w := s.intern(specOf(&web))
	if id, ok := s.of(&web); !ok || id != w {
		t.Fatalf("after intern: of = %d, %v; want %d", id, ok, w)
	}
	if id, ok := s.of(&same); !ok || id != w {
		t.Errorf("an equal check: of = %d, %v; want %d", id, ok, w)
	}
	if _, ok := s.of(&other); ok {
		t.Error("a different check has an id before it was numbered")
	}
	o := s.intern(specOf(&other))
	if o == w {
		t.Fatal("two different checks share an id")
	}
	for i, vs := range []*config.VirtualServer{&web, &other, &other, &same, &web, &other} {
		want := w
		if vs == &other {
			want = o
		}
		if id, ok := s.of(vs); !ok || id != want {
			t.Errorf("lookup %d (%s): %d, %v; want %d", i, vs.Name, id, ok, want)
		}
	}
	if s.all[o] != specOf(&other) || s.intern(specOf(&same)) != w {
		t.Error("the table does not give back what it numbered")
	}
}

// TestPositions: a real server's check state found by its position in the
// configuration the checks follow is the one found by its key, for every
// server: checked, inactive but sharing an active one's checker, and
// asked about through another copy of the configuration (a draft), which
// is not found by position.
func TestPositions(t *testing.T) {
	up := listen(t, "127.0.0.1:0")
	upAddr := netip.MustParseAddrPort(up.Addr().String())
	closed := listen(t, "127.0.0.2:0")
	closedAddr := netip.MustParseAddrPort(closed.Addr().String())
	closed.Close()

	cfg := config.Default()
	cfg.Serial = 1
	for i, name := range []string{"off", "web", "mail"} {
		vs := config.NewVirtual(name)
		vs.Active, vs.Address, vs.Port = name != "off", netip.AddrFrom4([4]byte{192, 0, 2, byte(i + 1)}), 80
		vs.CheckKind, vs.CheckTimeout = "tcp", 50*time.Millisecond
		for j, ap := range []netip.AddrPort{upAddr, closedAddr} {
			rs := config.NewReal(fmt.Sprintf("rs%d", j))
			rs.Active, rs.Address, rs.Port, rs.Weight = true, ap.Addr(), int(ap.Port()), 1
			vs.Reals = append(vs.Reals, rs)
		}
		if name == "mail" {
			vs.Reals[0].Active = false // the same checker as web's
		}
		cfg.Virtuals = append(cfg.Virtuals, vs)
	}
	checks := NewChecks()
	checks.Configure(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { checks.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	web := &cfg.Virtuals[1]
	waitState(t, checks, web, &web.Reals[0], health.Up)
	waitState(t, checks, web, &web.Reals[1], health.Down)

	draft := cfg.Clone()
	byKey := func(vs *config.VirtualServer, rs *config.RealServer) (health.Status, bool) {
		id, ok := checks.specs.of(vs)
		if !ok {
			return health.Status{}, false
		}
		return checks.mon.Status(checkKey{Target: targetKey(vs, rs), spec: id})
	}
	p := checks.pos.Load()
	for i := range cfg.Virtuals {
		for j := range cfg.Virtuals[i].Reals {
			vs, rs := &cfg.Virtuals[i], &cfg.Virtuals[i].Reals[j]
			want, wok := byKey(vs, rs)
			_, positioned := p.at(vs, rs)
			if checked := vs.Active && rs.Active; positioned != checked {
				t.Errorf("%s/%s: found by position %v, want %v", vs.Name, rs.Name, positioned, checked)
			}
			for _, v := range []*config.VirtualServer{vs, &draft.Virtuals[i]} {
				if _, ok := p.at(v, &v.Reals[j]); ok && v != vs {
					t.Errorf("%s/%s of a copy found by position", vs.Name, rs.Name)
				}
				got, ok := checks.status(v, &v.Reals[j])
				if ok != wok || got.State != want.State || got.Checks == 0 != (want.Checks == 0) {
					t.Errorf("%s/%s: status %v %v (%d checks), by key %v %v (%d checks)", vs.Name, rs.Name,
						got.State, ok, got.Checks, want.State, wok, want.Checks)
				}
			}
		}
	}
	if _, ok := checks.status(&cfg.Virtuals[2], &cfg.Virtuals[2].Reals[0]); !ok {
		t.Error("an inactive server does not share the checker of the active one")
	}
}

// TestChecksChanged: the checks tell which virtual servers' answers
// changed since a mark: those of a real server that went down, and those
// with a real server in its slow start (its weight changes with time
// alone), not the others; nothing for another configuration.
func TestChecksChanged(t *testing.T) {
	live := listen(t, "127.0.0.1:0")
	liveAddr := netip.MustParseAddrPort(live.Addr().String())
	doomed := listen(t, "127.0.0.3:0")
	doomedAddr := netip.MustParseAddrPort(doomed.Addr().String())

	cfg := config.Default()
	cfg.Serial = 1
	for i, ap := range []netip.AddrPort{liveAddr, doomedAddr, liveAddr} {
		vs := config.NewVirtual(fmt.Sprintf("vs%d", i))
		vs.Active, vs.Address, vs.Port = true, netip.AddrFrom4([4]byte{192, 0, 2, byte(i + 1)}), 80
		// A timeout well above a loopback connect's, even on a busy
		// machine: a check that timed out would be a change.
		vs.CheckKind, vs.CheckTimeout, vs.CheckInterval = "tcp", 2*time.Second, 300*time.Millisecond
		rs := config.NewReal("rs")
		rs.Active, rs.Address, rs.Port, rs.Weight = true, ap.Addr(), int(ap.Port()), 1
		if i == 2 {
			// A slow start lasts 5 intervals: an hour, here.
			vs.CheckInterval, rs.Weight = time.Hour, 32
		}
		vs.Reals = append(vs.Reals, rs)
		cfg.Virtuals = append(cfg.Virtuals, vs)
	}
	checks := NewChecks()
	checks.Configure(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { checks.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	for i := range cfg.Virtuals {
		waitState(t, checks, &cfg.Virtuals[i], &cfg.Virtuals[i].Reals[0], health.Up)
	}

	mark, dirty, ok := checks.Changed(cfg, HealthMark{})
	if !ok || !slices.Equal(dirty, []int{0, 1, 2}) {
		t.Fatalf("since the start: %v %v, want all three", dirty, ok)
	}
	if _, dirty, _ = checks.Changed(cfg, mark); !slices.Equal(dirty, []int{2}) {
		t.Errorf("with nothing changed: %v, want only the one in its slow start", dirty)
	}
	doomed.Close()
	waitState(t, checks, &cfg.Virtuals[1], &cfg.Virtuals[1].Reals[0], health.Down)
	if _, dirty, _ = checks.Changed(cfg, mark); !slices.Equal(dirty, []int{1, 2}) {
		t.Errorf("after a server went down: %v, want its virtual server and the slow start", dirty)
	}
	if _, _, ok := checks.Changed(cfg.Clone(), mark); ok {
		t.Error("answered for a configuration the checks do not follow")
	}
}
