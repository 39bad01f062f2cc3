//go:build guest

package engine

import (
	"bytes"
	"fmt"
	"net/netip"
	"os/exec"
	"slices"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/lvs/ipvs"
)

// Issue 20's kernel figures: 10,000 virtual servers x 10 real servers,
// programmed and read back by lvsconsole and by ipvsadm in turn, in the
// same boot, so that each iteration gives both times under the same load.

const (
	virtuals20 = 10000
	reals20    = 10
)

// table20 is 10,000 NAT virtual servers of 10 real servers each; the real
// servers are in 10.0.0.0/8, routed in the bench namespace.
func table20() *Table {
	cfg := config.Default()
	cfg.Global.Network = config.NAT
	for i := range virtuals20 {
		vs := config.NewVirtual(fmt.Sprintf("vs%d", i))
		vs.Active, vs.Address = true, netip.AddrFrom4([4]byte{192, 0, byte(2 + i/250), byte(1 + i%250)})
		for j := range reals20 {
			rs := config.NewReal(fmt.Sprintf("rs%d", j))
			rs.Active, rs.Address = true, netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), byte(1 + j)})
			vs.Reals = append(vs.Reals, rs)
		}
		cfg.Virtuals = append(cfg.Virtuals, vs)
	}
	return Desired(cfg, Configured{})
}

// ratio reports both times per iteration and ours as a fraction of
// ipvsadm's, next to the target.
func ratio(b *testing.B, ours, theirs time.Duration, n int, target float64) {
	b.ReportMetric(float64(ours.Milliseconds())/float64(n), "lvsconsole-ms/op")
	b.ReportMetric(float64(theirs.Milliseconds())/float64(n), "ipvsadm-ms/op")
	b.ReportMetric(float64(ours)/float64(theirs), "x-ipvsadm")
	b.ReportMetric(target, "target-x")
}

// BenchmarkKernelRead10000x10: a full read of that table, the engine's
// ReadTable against ipvsadm -Sn. Target: at most 0.5x.
func BenchmarkKernelRead10000x10(b *testing.B) {
	c := dialIPVS(b, "bench")
	flush(b, c)
	if res, err := Reconcile(ctx, c, newLedger(), table20(), nil); err != nil || len(res.Errors) != 0 {
		b.Fatal(err, res.Errors)
	}
	var ours, theirs time.Duration
	n := 0
	for b.Loop() {
		start := time.Now()
		t, err := ReadTable(ctx, c, nil)
		ours += time.Since(start)
		if err != nil || len(t.Services) != virtuals20 || len(t.Services[0].Dests) != reals20 {
			b.Fatal(err)
		}

		start = time.Now()
		out, err := exec.Command("ip", "netns", "exec", "bench", "ipvsadm", "-Sn").Output()
		theirs += time.Since(start)
		if err != nil || bytes.Count(out, []byte("-A ")) != virtuals20 || bytes.Count(out, []byte("-a ")) != virtuals20*reals20 {
			b.Fatalf("ipvsadm -Sn: %v, %d bytes", err, len(out))
		}
		n++
	}
	flush(b, c)
	ratio(b, ours, theirs, n, 0.5)
}

// BenchmarkKernelProgram10000x10: from an empty table, the engine's
// Reconcile (batched netlink) against ipvsadm -R of the same rules.
// Target: at most 0.25x.
func BenchmarkKernelProgram10000x10(b *testing.B) {
	c := dialIPVS(b, "bench")
	want := table20()
	rules := ipvsadmRules(want)
	var ours, theirs time.Duration
	n := 0
	for b.Loop() {
		flush(b, c)
		start := time.Now()
		res, err := Reconcile(ctx, c, newLedger(), want, nil)
		ours += time.Since(start)
		if err != nil || len(res.Errors) != 0 {
			b.Fatal(err, res.Errors)
		}

		flush(b, c)
		cmd := exec.Command("ip", "netns", "exec", "bench", "ipvsadm", "-R")
		cmd.Stdin = bytes.NewReader(rules)
		start = time.Now()
		out, err := cmd.CombinedOutput()
		theirs += time.Since(start)
		if err != nil {
			b.Fatalf("ipvsadm -R: %v %s", err, out)
		}
		n++
	}
	flush(b, c)
	ratio(b, ours, theirs, n, 0.25)
}

// TestGuestDestinationsOf: the pipelined dumps of ipvs.Client.DestinationsOf
// read what Destinations reads one service at a time: services of no
// destination, of one, and of 600, whose dump spans several datagrams (the
// request sent ahead is refused with EBUSY and sent again); then the
// client goes on working.
func TestGuestDestinationsOf(t *testing.T) {
	c := dialIPVS(t, "bench")
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	sizes := []int{0, 1, 600, 10, 0, 600, 3}
	var keys []ipvs.ServiceKey
	var ops []ipvs.Op
	for i, n := range sizes {
		s := ipvs.Service{ServiceKey: ipvs.ServiceKey{Family: ipvs.FamilyIPv4, Protocol: ipvs.TCP,
			Addr: netip.AddrFrom4([4]byte{192, 0, 2, byte(1 + i)}), Port: 80}, Scheduler: "wlc"}
		keys = append(keys, s.ServiceKey)
		ops = append(ops, ipvs.Op{Kind: ipvs.AddService, Service: s})
		for j := range n {
			ops = append(ops, ipvs.Op{Kind: ipvs.AddDest, Service: s, Dest: ipvs.Destination{
				Addr: netip.AddrFrom4([4]byte{10, 20, byte(i), byte(1 + j%250)}), Port: uint16(1000 + j), Forward: ipvs.Masquerade, Weight: int32(1 + j)}})
		}
	}
	for i, err := range c.Apply(ctx, ops) {
		if err != nil {
			t.Fatalf("op %d: %v", i, err)
		}
	}
	for round := range 2 {
		all, err := c.DestinationsOf(ctx, keys)
		if err != nil {
			t.Fatal(err)
		}
		for i, k := range keys {
			one, err := c.Destinations(ctx, k)
			if err != nil {
				t.Fatal(err)
			}
			if len(one) != sizes[i] || !slices.Equal(all[i], one) {
				t.Errorf("round %d, %s: DestinationsOf read %d destinations, Destinations %d (want %d), or they differ", round, k, len(all[i]), len(one), sizes[i])
			}
		}
	}
	if all, err := c.DestinationsOf(ctx, nil); err != nil || len(all) != 0 {
		t.Errorf("DestinationsOf(nil) = %v, %v", all, err)
	}
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

// freshNS makes network namespace name with the bench namespace's route to
// 10.0.0.0/8: an IPVS that has never held anything. A flushed table is not
// that: the kernel keeps deleted destinations in a trash list for a minute
// or two and walks the whole list on every destination added
// (ip_vs_trash_get_dest), 110,000 entries after flushing 10,000 x 10.
func freshNS(b *testing.B, name string) {
	b.Helper()
	sh(b, "ip", "netns", "add", name)
	sh(b, "ip", "-n", name, "link", "set", "lo", "up")
	sh(b, "ip", "-n", name, "link", "add", "b0", "type", "veth", "peer", "name", "b1")
	sh(b, "ip", "-n", name, "addr", "add", "10.255.255.254/8", "dev", "b0")
	sh(b, "ip", "-n", name, "link", "set", "b0", "up")
	sh(b, "ip", "-n", name, "link", "set", "b1", "up")
}

// BenchmarkKernelProgramFresh10000x10 is BenchmarkKernelProgram10000x10
// into IPVS tables that have never held anything (a new namespace for
// each tool and iteration): programming from empty without the kernel's
// trash of the last flush.
func BenchmarkKernelProgramFresh10000x10(b *testing.B) {
	want := table20()
	rules := ipvsadmRules(want)
	var ours, theirs time.Duration
	n := 0
	for b.Loop() {
		mine, their := fmt.Sprintf("fresh%da", n), fmt.Sprintf("fresh%db", n)
		freshNS(b, mine)
		freshNS(b, their)
		c := dialIPVS(b, mine)
		start := time.Now()
		res, err := Reconcile(ctx, c, newLedger(), want, nil)
		ours += time.Since(start)
		if err != nil || len(res.Errors) != 0 {
			b.Fatal(err, res.Errors)
		}
		c.Close()

		cmd := exec.Command("ip", "netns", "exec", their, "ipvsadm", "-R")
		cmd.Stdin = bytes.NewReader(rules)
		start = time.Now()
		out, err := cmd.CombinedOutput()
		theirs += time.Since(start)
		if err != nil {
			b.Fatalf("ipvsadm -R: %v %s", err, out)
		}
		// The tables go with their namespaces.
		sh(b, "ip", "netns", "del", mine)
		sh(b, "ip", "netns", "del", their)
		n++
	}
	ratio(b, ours, theirs, n, 0.25)
}

// BenchmarkKernelRefresh10000x10: the engine's periodic re-read of that
// table (RefreshOwned: the services' dump and /proc/net/ip_vs checked
// against what it believes, nothing changed since) against ipvsadm -Sn.
// Target: at most 0.5x (a full read, every fullResyncs-th, is
// BenchmarkKernelRead10000x10).
func BenchmarkKernelRefresh10000x10(b *testing.B) {
	c := dialIPVS(b, "bench")
	flush(b, c)
	l := newLedger()
	res, err := Reconcile(ctx, c, l, table20(), nil)
	if err != nil || len(res.Errors) != 0 {
		b.Fatal(err, res.Errors)
	}
	owned, _ := l.OwnedServices(ctx)
	var ours, theirs time.Duration
	n := 0
	for b.Loop() {
		before := c.Requests()
		start := time.Now()
		t, err := RefreshOwned(ctx, c, owned, res.After)
		ours += time.Since(start)
		if err != nil || len(t.Services) != virtuals20 || len(t.Services[0].Dests) != reals20 {
			b.Fatal(err)
		}
		if sent := c.Requests() - before; sent > 10 {
			b.Fatalf("%d requests: the destinations were dumped", sent)
		}

		start = time.Now()
		out, err := exec.Command("ip", "netns", "exec", "bench", "ipvsadm", "-Sn").Output()
		theirs += time.Since(start)
		if err != nil || bytes.Count(out, []byte("-a ")) != virtuals20*reals20 {
			b.Fatalf("ipvsadm -Sn: %v, %d bytes", err, len(out))
		}
		n++
	}
	flush(b, c)
	ratio(b, ours, theirs, n, 0.5)
}

// TestGuestProcServices: /proc/net/ip_vs of the real kernel, read in a
// namespace of its own, lists what the netlink dumps read (every kind of
// service and forwarding), and a re-read checked against it (RefreshOwned)
// reads what a full read does, without dumping destinations; after a
// weight changed by hand, it dumps that service alone.
func TestGuestProcServices(t *testing.T) {
	c := dialIPVS(t, "bench")
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Global.Network = config.NAT
	add := func(name string, addr string, port int, fwd config.Forward, reals ...string) *config.VirtualServer {
		vs := config.NewVirtual(name)
		vs.Active, vs.Address, vs.Port = true, netip.MustParseAddr(addr), port
		for i, r := range reals {
			rs := config.NewReal(fmt.Sprint("rs", i))
			rs.Active, rs.Address, rs.Weight, rs.Forward = true, netip.MustParseAddr(r), int64(i*3), fwd
			vs.Reals = append(vs.Reals, rs)
		}
		cfg.Virtuals = append(cfg.Virtuals, vs)
		return &cfg.Virtuals[len(cfg.Virtuals)-1]
	}
	add("nat", "192.0.2.1", 80, config.NAT, "10.0.0.1", "10.0.0.2", "10.0.0.3")
	add("dr", "192.0.2.2", 443, config.Direct, "10.0.0.4", "10.0.0.5").Persistence = 300
	add("tun", "192.0.2.3", 53, config.Tunnel, "10.0.0.6").Protocol = config.UDP
	add("six", "2001:db8::1", 80, config.NAT, "2001:db8:1::1", "2001:db8:1::2")
	add("mark", "192.0.2.4", 0, config.Direct, "10.0.0.7").FWMark = 7
	add("empty", "192.0.2.5", 25, config.NAT)
	l := newLedger()
	res, err := Reconcile(ctx, c, l, Desired(cfg, Configured{}), nil)
	if err != nil || len(res.Errors) != 0 {
		t.Fatal(err, res.Errors)
	}

	listed, err := c.ProcServices(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dumped, err := c.Services(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(listed) != len(dumped) {
		t.Fatalf("%d services listed, %d dumped", len(listed), len(dumped))
	}
	byKey := map[ipvs.ServiceKey]ipvs.ProcService{}
	for _, p := range listed {
		byKey[p.ServiceKey] = p
	}
	for _, s := range dumped {
		key := s.ServiceKey
		if key.FWMark != 0 {
			key.Family = 0
		}
		p, ok := byKey[key]
		if !ok || p.Scheduler != s.Scheduler || p.Flags != s.Flags&(ipvs.FlagPersistent|ipvs.FlagOnePacket) {
			t.Errorf("%s: listed %+v, dumped %+v", s.ServiceKey, p, s)
			continue
		}
		ds, err := c.Destinations(ctx, s.ServiceKey)
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) != len(p.Dests) {
			t.Errorf("%s: %d destinations listed, %d dumped", s.ServiceKey, len(p.Dests), len(ds))
			continue
		}
		for i, d := range ds {
			q := p.Dests[i]
			if q.Key() != d.Key() || q.Forward != d.Forward || q.Weight != d.Weight || q.ActiveConns != d.ActiveConns || q.InactiveConns != d.InactiveConns {
				t.Errorf("%s: destination %d listed %+v, dumped %+v", s.ServiceKey, i, q, d)
			}
		}
	}

	owned, _ := l.OwnedServices(ctx)
	refresh := func(what string, maxRequests uint64) {
		t.Helper()
		before := c.Requests()
		got, err := RefreshOwned(ctx, c, owned, res.After)
		if err != nil {
			t.Fatal(err)
		}
		if sent := c.Requests() - before; sent > maxRequests {
			t.Errorf("%s: %d requests, want at most %d", what, sent, maxRequests)
		}
		full, err := ReadOwned(ctx, c, owned)
		if err != nil {
			t.Fatal(err)
		}
		if !sameTables(got, full) {
			t.Errorf("%s: refreshed\n%s\nread in full\n%s", what, dumpTable(got), dumpTable(full))
		}
	}
	refresh("unchanged", 2) // the services, the timeouts
	sh(t, "ip", "netns", "exec", "bench", "ipvsadm", "-e", "-t", "192.0.2.1:80", "-r", "10.0.0.2:80", "-m", "-w", "9")
	refresh("a weight changed by hand", 3)
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}
