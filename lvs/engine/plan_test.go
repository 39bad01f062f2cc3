//go:build !guest

package engine

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/lvs/ipvs"
)

// planCase is a configuration, an edit of it, and the plan from the first
// (applied) to the second.
type planCase struct {
	name string
	edit func(c *config.Config)
	// foreign adds services to the kernel that this director did not make.
	foreign []*Service
	want    []string // the plan as ipvsadm lines, in order
	refused []string // what each refusal names
}

// small is a configuration of two NAT services and a direct-routing one.
func small() *config.Config {
	c := config.Default()
	c.Global.Network = config.NAT
	www := config.NewVirtual("www")
	www.Active, www.Address, www.Scheduler = true, a("192.0.2.10"), "wlc"
	www.Persistence, www.PersistenceNetmask = 300, config.MaskBits(24)
	www.Reals = []config.RealServer{
		{Name: "web1", Active: true, Address: a("10.0.0.1"), Weight: 1},
		{Name: "web2", Active: true, Address: a("10.0.0.2"), Port: 8080, Weight: 3, UpperThreshold: 100, LowerThreshold: 50},
	}
	dns := config.NewVirtual("dns")
	dns.Active, dns.Address, dns.Protocol, dns.Port, dns.Scheduler = true, a("192.0.2.53"), config.UDP, 53, "rr"
	dns.Reals = []config.RealServer{{Name: "ns1", Active: true, Address: a("10.0.1.1"), Weight: 1, Forward: config.Direct}}
	c.Virtuals = []config.VirtualServer{www, dns}
	if err := c.Validate(); err != nil {
		panic(err)
	}
	return c
}

// TestPlan: what the engine would send for each kind of change, in the
// order it sends it, as ipvsadm lines.
func TestPlan(t *testing.T) {
	for _, c := range []planCase{
		{name: "nothing to do", edit: func(*config.Config) {}},
		{name: "add a virtual server", edit: func(c *config.Config) {
			vs := config.NewVirtual("ssh")
			vs.Active, vs.Address, vs.Port, vs.Scheduler = true, a("192.0.2.22"), 22, "sh"
			vs.SchedFallback = true
			vs.Reals = []config.RealServer{{Name: "s1", Active: true, Address: a("10.0.2.1"), Weight: 2, Forward: config.Tunnel}}
			c.Virtuals = append(c.Virtuals, vs)
		}, want: []string{
			"ipvsadm -A -t 192.0.2.22:22 -s sh -b sh-fallback",
			"ipvsadm -a -t 192.0.2.22:22 -r 10.0.2.1:22 -i -w 2 --tun-type ipip",
		}},
		{name: "scheduler edited in place", edit: func(c *config.Config) {
			c.Virtual("www").Scheduler = "lc"
		}, want: []string{"ipvsadm -E -t 192.0.2.10:80 -s lc -p 300 -M 255.255.255.0"}},
		{name: "weight change", edit: func(c *config.Config) {
			c.Virtual("www").Real("web2").Weight = 7
		}, want: []string{"ipvsadm -e -t 192.0.2.10:80 -r 10.0.0.2:8080 -m -w 7 -x 100 -y 50"}},
		{name: "real server removed", edit: func(c *config.Config) {
			c.Virtual("www").Reals = c.Virtual("www").Reals[1:]
		}, want: []string{"ipvsadm -d -t 192.0.2.10:80 -r 10.0.0.1:80"}},
		{name: "virtual server deleted", edit: func(c *config.Config) {
			c.Virtuals = c.Virtuals[:1]
		}, want: []string{"ipvsadm -D -u 192.0.2.53:53"}},
		{name: "port changed: deletions first, then the new service", edit: func(c *config.Config) {
			c.Virtual("dns").Port = 5353
			c.Virtual("dns").Real("ns1").Port = 5353
		}, want: []string{
			"ipvsadm -D -u 192.0.2.53:53",
			"ipvsadm -A -u 192.0.2.53:5353 -s rr",
			"ipvsadm -a -u 192.0.2.53:5353 -r 10.0.1.1:5353 -g -w 1",
		}},
		{name: "timeouts after the table", edit: func(c *config.Config) {
			c.Global.TCPTimeout = 1200
			c.Virtual("www").Real("web1").Weight = 2
		}, want: []string{
			"ipvsadm -e -t 192.0.2.10:80 -r 10.0.0.1:80 -m -w 2",
			"ipvsadm --set 1200 0 0",
		}},
		{name: "a foreign service that collides is refused, the rest planned", edit: func(c *config.Config) {
			vs := config.NewVirtual("mail")
			vs.Active, vs.Address, vs.Port = true, a("192.0.2.25"), 25
			vs.Reals = []config.RealServer{{Name: "m1", Active: true, Address: a("10.0.3.1"), Weight: 1}}
			c.Virtuals = append(c.Virtuals, vs)
			c.Virtual("www").Real("web1").Weight = 4
		}, foreign: []*Service{
			{Service: ipvs.Service{ServiceKey: ipvs.ServiceKey{Family: ipvs.FamilyIPv4, Protocol: ipvs.TCP, Addr: a("192.0.2.25"), Port: 25}, Scheduler: "rr"}},
			{Service: ipvs.Service{ServiceKey: ipvs.ServiceKey{Family: ipvs.FamilyIPv4, Protocol: ipvs.TCP, Addr: a("198.51.100.1"), Port: 22}, Scheduler: "rr"}},
		}, want: []string{
			"ipvsadm -e -t 192.0.2.10:80 -r 10.0.0.1:80 -m -w 4",
		}, refused: []string{"virtual server mail: TCP 192.0.2.25:25 exists in IPVS but was not created by lvsconsole"}},
		{name: "direct routing to another port: a comment", edit: func(c *config.Config) {
			c.Virtual("dns").Real("ns1").Port = 5353
		}, want: []string{
			"ipvsadm -d -u 192.0.2.53:53 -r 10.0.1.1:53",
			"# ipvsadm cannot make this change: port 5353: it gives a direct-routed or tunnelled real server the service's port, 53: ipvsadm -a -u 192.0.2.53:53 -r 10.0.1.1:5353 -g -w 1",
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := small()
			have := Desired(cfg, Configured{})
			owned := map[string]bool{}
			for _, s := range have.Services {
				owned[keyText(s.ServiceKey)] = true
			}
			have.Services = append(have.Services, c.foreign...)
			have.Timeouts = ipvs.Timeouts{TCP: 900 * time.Second, TCPFin: 120 * time.Second, UDP: 300 * time.Second}
			c.edit(cfg)
			if err := cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			p := Desired(cfg, Configured{}).Plan(have, owned)
			if got := p.Ipvsadm(); !slices.Equal(got, c.want) {
				t.Errorf("plan:\n\t%s\nwant:\n\t%s", strings.Join(got, "\n\t"), strings.Join(c.want, "\n\t"))
			}
			if p.Empty() != (len(c.want) == 0) {
				t.Errorf("Empty() = %v with %d lines", p.Empty(), len(c.want))
			}
			if len(p.Refused) != len(c.refused) {
				t.Fatalf("refused %v, want %d", p.Refused, len(c.refused))
			}
			for i, err := range p.Refused {
				if !errors.Is(err, ErrNotOwned) || !strings.Contains(err.Error(), c.refused[i]) {
					t.Errorf("refusal %v, want ErrNotOwned naming %q", err, c.refused[i])
				}
			}
		})
	}
}

// TestPlanLeavesPendingAlone: real servers not checked yet are left as the
// kernel has them, and a stale ledger record is planned away without a
// request.
func TestPlanLeavesPendingAlone(t *testing.T) {
	cfg := small()
	have := Desired(cfg, Configured{})
	owned := map[string]bool{"6/192.0.2.99:80": true} // neither wanted nor in the kernel
	for _, s := range have.Services {
		owned[keyText(s.ServiceKey)] = true
	}
	want := Desired(cfg, fakeHealth{"web1": {0, Pending}, "web2": {0, Pending}, "ns1": {1, In}})
	p := want.Plan(have, owned)
	if !p.Empty() || len(p.Steps) != 0 {
		t.Errorf("pending servers planned: %v", p.Ipvsadm())
	}
	if !slices.Equal(p.stale, []string{"6/192.0.2.99:80"}) {
		t.Errorf("stale records = %v", p.stale)
	}
}

// TestReconcileSendsThePlan: what Reconcile sends is the plan, step by
// step, in its order: one planner.
func TestReconcileSendsThePlan(t *testing.T) {
	k, c := fakeKernel(t)
	l := newLedger()
	cfg := small()
	apply(t, c, l, cfg)

	cfg.Virtual("www").Scheduler = "lc"
	cfg.Virtual("www").Real("web2").Weight = 9
	cfg.Virtual("www").Reals = cfg.Virtual("www").Reals[1:]
	cfg.Virtual("dns").Port = 5353
	cfg.Global.UDPTimeout = 77
	want := Desired(cfg, Configured{})
	have, err := ReadTable(ctx, c, nil)
	if err != nil {
		t.Fatal(err)
	}
	owned, _ := l.OwnedServices(ctx)
	p := want.Plan(have, owned)

	k.Reset()
	res, err := Reconcile(ctx, c, l, want, nil)
	if err != nil || len(res.Errors) != 0 {
		t.Fatal(err, res.Errors)
	}
	cmds := map[ipvs.OpKind]uint8{ipvs.AddService: cmdNewService, ipvs.EditService: cmdSetService, ipvs.DeleteService: cmdDelService,
		ipvs.AddDest: cmdNewDest, ipvs.EditDest: cmdSetDest, ipvs.DeleteDest: cmdDelDest}
	var planned []uint8
	for _, st := range p.Steps {
		planned = append(planned, cmds[st.Op.Kind])
	}
	planned = append(planned, cmdSetConfig) // the timeouts, last
	if got := writes(k); !slices.Equal(got, planned) {
		t.Errorf("Reconcile sent %v, the plan says %v:\n%s", got, planned, strings.Join(p.Ipvsadm(), "\n"))
	}
	if len(res.Changes) != len(p.Steps)+1 {
		t.Errorf("%d changes for a plan of %d steps and the timeouts", len(res.Changes), len(p.Steps))
	}
	kernelMatches(t, k, want)
	// And once applied, nothing is left to do.
	have, err = ReadTable(ctx, c, nil)
	if err != nil {
		t.Fatal(err)
	}
	owned, _ = l.OwnedServices(ctx)
	if p := want.Plan(have, owned); !p.Empty() {
		t.Errorf("after the apply the plan is still %v", p.Ipvsadm())
	}
}

// TestWriteSave: the table as ipvsadm -Sn writes it (compared with the
// real ipvsadm in cmd/lvsconsole TestGuestPlanIsIpvsadm).
func TestWriteSave(t *testing.T) {
	var b strings.Builder
	if err := Desired(small(), Configured{}).WriteSave(&b); err != nil {
		t.Fatal(err)
	}
	want := `-A -t 192.0.2.10:80 -s wlc -p 300 -M 255.255.255.0
-a -t 192.0.2.10:80 -r 10.0.0.1:80 -m -w 1
-a -t 192.0.2.10:80 -r 10.0.0.2:8080 -m -w 3
-A -u 192.0.2.53:53 -s rr
-a -u 192.0.2.53:53 -r 10.0.1.1:53 -g -w 1
`
	if b.String() != want {
		t.Errorf("WriteSave:\n%s\nwant:\n%s", b.String(), want)
	}
}

// TestPlanOrdersMaglev: Maglev (mh) and source hashing (sh) fill their
// tables taking the destinations in the kernel's order, so that directors
// scheduling a flow alike (cluster mode) need the same order whatever
// order the checks passed in: in cluster mode the plan deletes and
// re-adds those out of the canonical order (sorted; the kernel adds at
// its list's head, so in reverse), and leaves the tail already in place.
// Other schedulers, and mh outside cluster mode, are left in any order.
func TestPlanOrdersMaglev(t *testing.T) {
	key := ipvs.ServiceKey{Family: ipvs.FamilyIPv4, Protocol: ipvs.TCP, Addr: a("192.0.2.10"), Port: 80}
	dest := func(last byte, w int32) ipvs.Destination {
		return ipvs.Destination{Addr: a("10.0.0." + string('0'+last)), Port: 80, Forward: ipvs.DirectRoute, Weight: w}
	}
	service := func(sched string, order []byte, w int32) *Service {
		s := &Service{Service: ipvs.Service{ServiceKey: key, Scheduler: sched}, Order: []ipvs.DestKey{}}
		s.Canonical = sched == "mh" || sched == "sh"
		for _, n := range order {
			d := dest(n, w)
			s.Dests = append(s.Dests, d)
			s.Order = append(s.Order, d.Key())
		}
		sortDests(s.Dests)
		return s
	}
	steps := func(p *Plan) []string {
		var out []string
		for _, s := range p.Steps {
			out = append(out, s.Op.Kind.String()+" "+s.Op.Dest.Addr.String())
		}
		return out
	}
	owned := map[string]bool{keyText(key): true}
	for _, c := range []struct {
		name      string
		sched     string
		have      []byte // the kernel's order, head first
		haveW     int32
		want      []byte
		wantSteps []string
	}{
		{"in order", "mh", []byte{1, 2, 3}, 1, []byte{1, 2, 3}, nil},
		{"in order, a weight", "mh", []byte{1, 2, 3}, 2, []byte{1, 2, 3}, []string{"EditDest 10.0.0.1", "EditDest 10.0.0.2", "EditDest 10.0.0.3"}},
		{"a new one at the head", "mh", []byte{2, 3}, 1, []byte{1, 2, 3}, []string{"AddDest 10.0.0.1"}},
		{"a new one in the middle", "mh", []byte{1, 3}, 1, []byte{1, 2, 3}, []string{"DeleteDest 10.0.0.1", "AddDest 10.0.0.2", "AddDest 10.0.0.1"}},
		{"one back at the head out of place", "mh", []byte{3, 1, 2}, 1, []byte{1, 2, 3},
			[]string{"DeleteDest 10.0.0.3", "DeleteDest 10.0.0.1", "DeleteDest 10.0.0.2", "AddDest 10.0.0.3", "AddDest 10.0.0.2", "AddDest 10.0.0.1"}},
		{"sh too", "sh", []byte{2, 1}, 1, []byte{1, 2}, []string{"DeleteDest 10.0.0.2", "DeleteDest 10.0.0.1", "AddDest 10.0.0.2", "AddDest 10.0.0.1"}},
		{"one removed", "mh", []byte{1, 2, 3}, 1, []byte{1, 3}, []string{"DeleteDest 10.0.0.2"}},
		{"wlc: any order", "wlc", []byte{3, 1}, 1, []byte{1, 2, 3}, []string{"AddDest 10.0.0.2"}},
		{"mh outside cluster mode: any order", "", []byte{3, 1}, 1, []byte{1, 2, 3}, []string{"AddDest 10.0.0.2"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			have := &Table{Services: []*Service{service(c.sched, c.have, c.haveW)}}
			want := &Table{Services: []*Service{service(c.sched, c.want, 1)}}
			if c.sched == "" {
				want.Services[0].Scheduler, have.Services[0].Scheduler = "mh", "mh"
			}
			if got := steps(want.Plan(have, owned)); !slices.Equal(got, c.wantSteps) {
				t.Errorf("plan:\n got %q\nwant %q", got, c.wantSteps)
			}
		})
	}
	// What the engine takes as the kernel's table after a plan applied
	// (Result.After, the next plan's have) has that order.
	next := after(&Table{Services: []*Service{service("mh", []byte{1, 2, 3}, 1)}}, &Table{Services: []*Service{service("mh", []byte{3, 1, 2}, 1)}}, owned, ipvs.Timeouts{}, nil)
	if o := next.Services[0].Order; len(o) != 3 || o[0].Addr != a("10.0.0.1") || o[2].Addr != a("10.0.0.3") {
		t.Errorf("the table after the plan has the order %v", o)
	}
	// A new service is added in the canonical order too.
	want := &Table{Services: []*Service{service("mh", []byte{2, 1, 3}, 1)}}
	got := steps(want.Plan(&Table{}, map[string]bool{}))
	if w := []string{"AddService invalid IP", "AddDest 10.0.0.3", "AddDest 10.0.0.2", "AddDest 10.0.0.1"}; !slices.Equal(got, w) {
		t.Errorf("new service's plan:\n got %q\nwant %q", got, w)
	}
}

// TestDesiredCanonical: only cluster mode asks mh and sh services for the
// canonical order.
func TestDesiredCanonical(t *testing.T) {
	cfg := small()
	cfg.Virtuals[0].Scheduler = "mh"
	if s := Desired(cfg, Configured{}).Services; !slices.ContainsFunc(s, func(s *Service) bool { return s.Scheduler == "mh" }) || slices.ContainsFunc(s, func(s *Service) bool { return s.Canonical }) {
		t.Errorf("pair mode: a canonical service, or no mh service")
	}
	cfg.Redundancy.Cluster = true
	for _, s := range Desired(cfg, Configured{}).Services {
		if s.Canonical != (s.Scheduler == "mh") {
			t.Errorf("cluster mode: %s with %s: Canonical %v", s.ServiceKey, s.Scheduler, s.Canonical)
		}
	}
}
