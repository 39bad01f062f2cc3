//go:build guest

// These tests run inside the qemu guest (see kernel_test.go), against the
// real IPVS of Debian's kernel and its ipvsadm 1.31, in the network
// namespaces the boot script made: "a", programmed by the engine as serve
// programs it; "b", programmed only by running the lines lvsconsole plan
// printed through ipvsadm; "c" and "d" for restores and single changes.
package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/lvs/engine"
	"github.com/lvsconsole/lvsconsole/lvs/ipvs"
	"github.com/lvsconsole/lvsconsole/store"
)

var addr = netip.MustParseAddr

// dialNS opens IPVS in namespace ns.
func dialNS(ns string) (*ipvs.Client, error) {
	f, err := os.Open("/run/netns/" + ns)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ipvs.Dial(&ipvs.Options{NetNS: int(f.Fd())})
}

// ipvsadm runs ipvsadm in namespace ns, stdin from in (nil: none).
func ipvsadm(t *testing.T, ns string, in []byte, args ...string) string {
	t.Helper()
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns, "ipvsadm"}, args...)...)
	if in != nil {
		cmd.Stdin = bytes.NewReader(in)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("ipvsadm %s in %s: %v\n%s", strings.Join(args, " "), ns, err, out)
	}
	return string(out)
}

// saved is ipvsadm -Sn of namespace ns, as a sorted set of lines.
func saved(t *testing.T, ns string) []string { return lineSet(ipvsadm(t, ns, nil, "-Sn")) }

func lineSet(s string) []string {
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	slices.Sort(lines)
	return slices.Compact(lines)
}

// timeouts is ipvsadm's view of the timeouts of ns.
func timeouts(t *testing.T, ns string) string {
	return strings.TrimSpace(ipvsadm(t, ns, nil, "-L", "--timeout"))
}

// fullTable is every field of ns's table that a change sets (the kernel's
// own read, through the client): -Sn leaves out thresholds, masks without
// persistence and tunnels' details.
func fullTable(t *testing.T, ns string) []string {
	t.Helper()
	c, err := dialNS(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	tab, err := engine.ReadTable(context.Background(), c, nil)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, s := range tab.Services {
		lines = append(lines, fmt.Sprintf("%s sched=%s flags=%#x timeout=%d mask=%#x pe=%q",
			s.ServiceKey, s.Scheduler, uint32(s.Flags), s.Timeout, s.Netmask, s.PEName))
		for _, d := range s.Dests {
			lines = append(lines, fmt.Sprintf("%s -> %s fwd=%s w=%d x=%d y=%d tun=%d/%d/%d", s.ServiceKey, d.Key(),
				d.Forward, d.Weight, d.UpperThreshold, d.LowerThreshold, d.TunnelType, d.TunnelPort, d.TunnelFlags))
		}
	}
	lines = append(lines, fmt.Sprintf("timeouts %+v", tab.Timeouts))
	slices.Sort(lines)
	return lines
}

// ruleKey is what a rule of ipvsadm -Sn, or a command, is about: its
// service ("-t 192.0.2.1:80"), and its real server ("... -r 10.0.0.1:80").
func ruleKey(args []string) string {
	var svc []string
	for i := 1; i < len(args); i++ {
		switch args[i] {
		case "-r":
			return strings.Join(svc, " ") + " -r " + args[i+1]
		case "-s", "-p", "-M", "-b", "-o", "--pe":
			return strings.Join(svc, " ")
		}
		svc = append(svc, args[i])
	}
	return strings.Join(svc, " ")
}

// changedKeys are the services and real servers whose ipvsadm -Sn rules
// differ between before and after.
func changedKeys(before, after []string) []string {
	var keys []string
	for _, l := range append(slices.Clone(before), after...) {
		if slices.Contains(before, l) != slices.Contains(after, l) {
			keys = append(keys, ruleKey(strings.Fields(l)))
		}
	}
	slices.Sort(keys)
	return slices.Compact(keys)
}

// guestConfig is a configuration of what ipvsadm can say exactly: each
// protocol, IPv6, firewall marks of both families, persistence with masks,
// scheduler flags, one-packet scheduling, the three forwarding methods,
// thresholds and timeouts.
func guestConfig() *config.Config {
	c := config.Default()
	c.Global.Network = config.NAT
	c.Global.TCPTimeout, c.Global.UDPTimeout = 1000, 200
	add := func(vs config.VirtualServer) { c.Virtuals = append(c.Virtuals, vs) }
	www := config.NewVirtual("www")
	www.Active, www.Address, www.Scheduler = true, addr("192.0.2.10"), "wlc"
	www.Persistence, www.PersistenceNetmask = 300, config.MaskBits(24)
	www.Reals = []config.RealServer{
		{Name: "web1", Active: true, Address: addr("10.0.0.1"), Weight: 1},
		{Name: "web2", Active: true, Address: addr("10.0.0.2"), Port: 8080, Weight: 3, UpperThreshold: 100, LowerThreshold: 50},
		{Name: "web3", Active: true, Address: addr("10.0.0.3"), Weight: 2, Forward: config.Direct},
		{Name: "web4", Active: true, Address: addr("10.0.0.4"), Weight: 2147483647, Forward: config.Tunnel},
	}
	add(www)
	dns := config.NewVirtual("dns")
	dns.Active, dns.Address, dns.Protocol, dns.Port, dns.Scheduler = true, addr("192.0.2.53"), config.UDP, 53, "sh"
	dns.SchedFallback, dns.SchedPort, dns.OnePacket = true, true, true
	dns.Reals = []config.RealServer{{Name: "ns1", Active: true, Address: addr("10.0.1.1"), Weight: 1, Forward: config.Direct}}
	add(dns)
	sctp := config.NewVirtual("diameter")
	sctp.Active, sctp.Address, sctp.Protocol, sctp.Port, sctp.Scheduler = true, addr("192.0.2.5"), config.SCTP, 3868, "rr"
	sctp.Reals = []config.RealServer{{Name: "d1", Active: true, Address: addr("10.0.2.1"), Weight: 1}}
	add(sctp)
	v6 := config.NewVirtual("v6")
	v6.Active, v6.Address, v6.Port, v6.Scheduler = true, addr("2001:db8::80"), 443, "mh"
	v6.SchedPort, v6.Persistence, v6.PersistenceNetmask = true, 60, config.MaskBits(64)
	v6.Reals = []config.RealServer{
		{Name: "a", Active: true, Address: addr("2001:db8:1::1"), Weight: 1},
		{Name: "b", Active: true, Address: addr("2001:db8:1::2"), Port: 8443, Weight: 2},
	}
	add(v6)
	mark := config.NewVirtual("mark")
	mark.Active, mark.Address, mark.FWMark, mark.Port, mark.Scheduler = true, addr("192.0.2.7"), 7, 80, "lc"
	mark.Reals = []config.RealServer{
		{Name: "m1", Active: true, Address: addr("10.0.3.1"), Weight: 1, Forward: config.Direct},
		{Name: "m2", Active: true, Address: addr("10.0.3.2"), Port: 8080, Weight: 1},
	}
	add(mark)
	mark6 := config.NewVirtual("mark6")
	mark6.Active, mark6.Address, mark6.FWMark, mark6.Scheduler = true, addr("2001:db8::7"), 8, "sed"
	mark6.Persistence = 100
	mark6.Reals = []config.RealServer{{Name: "m", Active: true, Address: addr("2001:db8:1::7"), Port: 443, Weight: 1, Forward: config.Tunnel}}
	add(mark6)
	nomask := config.NewVirtual("nomask") // a mask without persistence: sent, but not in -Sn
	nomask.Active, nomask.Address, nomask.Port, nomask.Scheduler, nomask.PersistenceNetmask = true, addr("192.0.2.8"), 8000, "nq", config.MaskBits(16)
	nomask.Reals = []config.RealServer{{Name: "n", Active: true, Address: addr("10.0.4.1"), Weight: 1}}
	add(nomask)
	if err := c.Validate(); err != nil {
		panic(err)
	}
	return c
}

// TestGuestPlanIsIpvsadm is the Done-when of issue 14's item 4: for each
// change of configuration, the lines lvsconsole plan prints before the
// engine applies it name exactly the rules of ipvsadm -Sn that the apply
// changes, and run through the real ipvsadm they make the same table as
// the engine's own apply, every field of it; after each apply, export
// -format ipvsadm is ipvsadm -Sn, and ipvsadm -R of it restores that.
func TestGuestPlanIsIpvsadm(t *testing.T) {
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "lvs.db")
	st, err := store.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	engineNS, err := dialNS("a")
	if err != nil {
		t.Fatal(err)
	}
	defer engineNS.Close()
	var out, errb bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, stdinFd: -1,
		dial: func() (*ipvs.Client, error) { return dialNS("a") }}
	lvsconsole := func(args ...string) string {
		t.Helper()
		out.Reset()
		errb.Reset()
		if err := run(ctx, e, args); err != nil {
			t.Fatalf("lvsconsole %s: %v\n%s", strings.Join(args, " "), err, errb.String())
		}
		return out.String()
	}

	// Someone's own service, in both tables: never touched, never planned.
	const foreign = "-A -t 203.0.113.1:22 -s sh\n-a -t 203.0.113.1:22 -r 10.0.60.1:22 -g -w 4\n"
	for _, ns := range []string{"a", "b"} {
		ipvsadm(t, ns, []byte(foreign), "-R")
	}

	steps := []struct {
		name string
		edit func(c *config.Config)
	}{
		{"everything, into an empty table", func(*config.Config) {}},
		{"a weight, a scheduler, a removed real server, thresholds, persistence", func(c *config.Config) {
			c.Virtual("www").Real("web1").Weight = 5
			c.Virtual("www").Real("web2").Weight, c.Virtual("www").Real("web2").UpperThreshold = 4, 200
			c.Virtual("www").Scheduler = "wrr"
			c.Virtual("v6").Reals = c.Virtual("v6").Reals[:1]
			c.Virtual("dns").Persistence = 30
			c.Virtual("mark").Real("m1").Weight = 0
		}},
		{"a port changed, a virtual server and a real server deactivated, new timeouts", func(c *config.Config) {
			c.Virtual("diameter").Port = 3869
			c.Virtual("mark6").Active = false
			c.Virtual("www").Real("web3").Active = false
			c.Global.TCPTimeout, c.Global.TCPFinTimeout = 1100, 60
		}},
		{"a real server added, a firewall mark changed", func(c *config.Config) {
			c.Virtual("www").Reals = append(c.Virtual("www").Reals, config.RealServer{Name: "web5", Active: true, Address: addr("10.0.0.5"), Weight: 7})
			c.Virtual("mark").FWMark = 9
		}},
		{"everything deleted", func(c *config.Config) {
			c.Virtuals = nil
		}},
	}
	cfg := guestConfig()
	for _, step := range steps {
		step.edit(cfg)
		if _, err := st.Replace(ctx, store.Change{Role: store.ScopeAdmin, Author: "test", Note: step.name}, cfg); err != nil && !errors.Is(err, store.ErrNoChange) {
			t.Fatalf("%s: %v", step.name, err)
		}
		before, beforeTimeouts := saved(t, "a"), timeouts(t, "a")

		// The plan, before anything happens.
		plan := lvsconsole("plan", "-db", db)
		t.Logf("%s:\n%s", step.name, plan)
		var cmds [][]string
		var keys, deleted []string
		setsTimeouts := false
		for _, line := range strings.Split(strings.TrimSpace(plan), "\n") {
			if strings.HasPrefix(line, "# ipvsadm cannot") || strings.HasPrefix(line, "# refused") {
				t.Errorf("%s: the plan has %q", step.name, line)
			}
			args, ok := strings.CutPrefix(line, "ipvsadm ")
			if !ok {
				continue
			}
			f := strings.Fields(args)
			cmds = append(cmds, f)
			if f[0] == "--set" {
				setsTimeouts = true
				continue
			}
			keys = append(keys, ruleKey(f))
			if f[0] == "-D" {
				deleted = append(deleted, ruleKey(f))
			}
		}
		slices.Sort(keys)
		keys = slices.Compact(keys)
		if got := saved(t, "a"); !slices.Equal(got, before) {
			t.Fatalf("%s: plan changed the kernel", step.name)
		}

		// The engine applies it, as serve does (every real server up).
		stored, err := st.Config(ctx)
		if err != nil {
			t.Fatal(err)
		}
		res, err := engine.Reconcile(ctx, engineNS, st, engine.Desired(stored, engine.Configured{}), nil)
		if err != nil || len(res.Errors) != 0 {
			t.Fatalf("%s: reconcile: %v %v", step.name, err, res.Errors)
		}
		after := saved(t, "a")

		// The plan is the difference of ipvsadm -Sn before and after: the
		// rules it names are those that changed, and only those.
		// Deleting a service deletes its real servers with it.
		changed := slices.DeleteFunc(changedKeys(before, after), func(k string) bool {
			svc, _, dest := strings.Cut(k, " -r ")
			return dest && slices.Contains(deleted, svc)
		})
		if !slices.Equal(keys, changed) {
			t.Errorf("%s: the plan names\n\t%s\nipvsadm -Sn changed\n\t%s", step.name, strings.Join(keys, "\n\t"), strings.Join(changed, "\n\t"))
		}
		if changed := timeouts(t, "a") != beforeTimeouts; changed != setsTimeouts {
			t.Errorf("%s: timeouts changed %v (%s -> %s), the plan sets them: %v", step.name, changed, beforeTimeouts, timeouts(t, "a"), setsTimeouts)
		}

		// The plan's lines through the real ipvsadm make the engine's table.
		for _, c := range cmds {
			ipvsadm(t, "b", nil, c...)
		}
		if a, b := saved(t, "a"), saved(t, "b"); !slices.Equal(a, b) {
			t.Errorf("%s: ipvsadm -Sn after the engine's apply:\n\t%s\nafter the plan's lines:\n\t%s", step.name, strings.Join(a, "\n\t"), strings.Join(b, "\n\t"))
		}
		if a, b := fullTable(t, "a"), fullTable(t, "b"); !slices.Equal(a, b) {
			t.Errorf("%s: the engine's table:\n\t%s\nthe plan's lines':\n\t%s", step.name, strings.Join(a, "\n\t"), strings.Join(b, "\n\t"))
		}

		// export -format ipvsadm is ipvsadm -Sn (less the foreign service),
		// and ipvsadm -R restores it.
		export := lvsconsole("export", "-db", db, "-format", "ipvsadm")
		ours := slices.DeleteFunc(slices.Clone(after), func(l string) bool { return slices.Contains(lineSet(foreign), l) })
		if got := lineSet(export); !slices.Equal(got, ours) {
			t.Errorf("%s: export -format ipvsadm:\n\t%s\nipvsadm -Sn:\n\t%s", step.name, strings.Join(got, "\n\t"), strings.Join(ours, "\n\t"))
		}
		ipvsadm(t, "c", nil, "-C")
		ipvsadm(t, "c", []byte(export), "-R")
		if got := saved(t, "c"); !slices.Equal(got, ours) {
			t.Errorf("%s: ipvsadm -R of the export restored:\n\t%s\nwant:\n\t%s", step.name, strings.Join(got, "\n\t"), strings.Join(ours, "\n\t"))
		}
	}
	if got := saved(t, "a"); !slices.Equal(got, lineSet(foreign)) {
		t.Errorf("after deleting everything ipvsadm -Sn shows:\n\t%s", strings.Join(got, "\n\t"))
	}
}

// TestGuestOpsAreIpvsadm: each change the client can send, said as
// ipvsadm, makes the same table through the real ipvsadm as through the
// client, field by field; what ipvsadm takes and refuses at the limits
// ipvsadm.go names is what it does; and what it cannot say is a change it
// would make differently.
func TestGuestOpsAreIpvsadm(t *testing.T) {
	ctx := context.Background()
	for _, m := range []string{"ip_vs_sh", "ip_vs_mh", "ip_vs_wlc", "ip_vs_pe_sip"} {
		if out, err := exec.Command("modprobe", m).CombinedOutput(); err != nil {
			t.Fatalf("modprobe %s: %v %s", m, err, out)
		}
	}
	web := ipvs.ServiceKey{Family: ipvs.FamilyIPv4, Protocol: ipvs.TCP, Addr: addr("192.0.2.10"), Port: 80}
	sip := ipvs.ServiceKey{Family: ipvs.FamilyIPv4, Protocol: ipvs.UDP, Addr: addr("192.0.2.11"), Port: 5060}
	v6 := ipvs.ServiceKey{Family: ipvs.FamilyIPv6, Protocol: ipvs.SCTP, Addr: addr("2001:db8::1"), Port: 3868}
	mark := ipvs.ServiceKey{Family: ipvs.FamilyIPv4, FWMark: 2147483647}
	mark6 := ipvs.ServiceKey{Family: ipvs.FamilyIPv6, FWMark: 8}
	svc := func(k ipvs.ServiceKey) ipvs.Service { return ipvs.Service{ServiceKey: k} }
	dest := func(a string, port uint16, fwd ipvs.Forward, w int32) ipvs.Destination {
		return ipvs.Destination{Addr: addr(a), Port: port, Forward: fwd, Weight: w}
	}
	gue := dest("10.0.0.6", 80, ipvs.Tunnel, 2)
	gue.TunnelType, gue.TunnelPort, gue.TunnelFlags = ipvs.TunnelGUE, 6080, ipvs.TunnelRemoteChecksum
	gre := dest("10.0.0.7", 80, ipvs.Tunnel, 2)
	gre.TunnelType, gre.TunnelFlags = ipvs.TunnelGRE, ipvs.TunnelChecksum
	limits := dest("10.0.0.8", 80, ipvs.Masquerade, 2147483647)
	limits.UpperThreshold, limits.LowerThreshold = 2147483647, 2147483647
	ops := []ipvs.Op{
		{Kind: ipvs.AddService, Service: ipvs.Service{ServiceKey: web, Scheduler: "wlc", Flags: ipvs.FlagPersistent, Timeout: 2678400, Netmask: 0xffffff00}},
		{Kind: ipvs.AddService, Service: ipvs.Service{ServiceKey: sip, Scheduler: "sh", Flags: ipvs.FlagPersistent | ipvs.FlagOnePacket | ipvs.FlagSched1, Timeout: 30, PEName: "sip", Netmask: 0xffffffff}},
		{Kind: ipvs.AddService, Service: ipvs.Service{ServiceKey: v6, Scheduler: "mh", Flags: ipvs.FlagSched2 | ipvs.FlagSched3, Netmask: 48}},
		{Kind: ipvs.AddService, Service: ipvs.Service{ServiceKey: mark, Scheduler: "rr", Flags: ipvs.FlagSched3, Netmask: 0xffff0000}},
		{Kind: ipvs.AddService, Service: ipvs.Service{ServiceKey: mark6, Scheduler: "rr", Netmask: 128}},
		{Kind: ipvs.AddDest, Service: svc(web), Dest: dest("10.0.0.1", 8080, ipvs.Masquerade, 0)},
		{Kind: ipvs.AddDest, Service: svc(web), Dest: dest("10.0.0.2", 80, ipvs.DirectRoute, 3)},
		{Kind: ipvs.AddDest, Service: svc(web), Dest: dest("10.0.0.5", 80, ipvs.Tunnel, 1)},
		{Kind: ipvs.AddDest, Service: svc(web), Dest: gue},
		{Kind: ipvs.AddDest, Service: svc(web), Dest: gre},
		{Kind: ipvs.AddDest, Service: svc(web), Dest: limits},
		{Kind: ipvs.AddDest, Service: svc(web), Dest: dest("2001:db8:1::9", 80, ipvs.Tunnel, 1)},
		{Kind: ipvs.AddDest, Service: svc(sip), Dest: dest("10.0.1.1", 5060, ipvs.Masquerade, 1)},
		{Kind: ipvs.AddDest, Service: svc(v6), Dest: dest("2001:db8:1::1", 3869, ipvs.Masquerade, 1)},
		{Kind: ipvs.AddDest, Service: svc(mark), Dest: dest("10.0.2.1", 0, ipvs.DirectRoute, 1)},
		{Kind: ipvs.AddDest, Service: svc(mark), Dest: dest("10.0.2.2", 443, ipvs.Masquerade, 1)},
		{Kind: ipvs.AddDest, Service: svc(mark6), Dest: dest("2001:db8:1::8", 443, ipvs.Tunnel, 1)},
		{Kind: ipvs.EditService, Service: ipvs.Service{ServiceKey: web, Scheduler: "rr", Netmask: 0xffffffff}},
		{Kind: ipvs.EditDest, Service: svc(web), Dest: dest("10.0.0.1", 8080, ipvs.Masquerade, 9)},
		{Kind: ipvs.EditDest, Service: svc(web), Dest: func() ipvs.Destination { d := gue; d.TunnelPort, d.TunnelFlags = 6081, ipvs.TunnelNoChecksum; return d }()},
		{Kind: ipvs.DeleteDest, Service: svc(web), Dest: dest("10.0.0.2", 80, ipvs.DirectRoute, 3)},
		{Kind: ipvs.DeleteDest, Service: svc(mark), Dest: dest("10.0.2.1", 0, ipvs.DirectRoute, 1)},
		{Kind: ipvs.DeleteService, Service: svc(mark6)},
	}
	c, err := dialNS("d")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ipvsadm(t, "c", nil, "-C")
	for i, err := range c.Apply(ctx, ops) {
		if err != nil {
			t.Fatalf("the client refused %v: %v", ops[i].String(), err)
		}
	}
	for _, op := range ops {
		args, err := op.IpvsadmArgs()
		if err != nil {
			t.Fatalf("%v: %v", op.String(), err)
		}
		ipvsadm(t, "c", nil, args...)
	}
	to := ipvs.Timeouts{TCP: 2678400 * time.Second, UDP: 7 * time.Second}
	if err := c.SetTimeouts(ctx, to); err != nil {
		t.Fatal(err)
	}
	args, err := to.IpvsadmArgs()
	if err != nil {
		t.Fatal(err)
	}
	ipvsadm(t, "c", nil, args...)
	if a, b := fullTable(t, "d"), fullTable(t, "c"); !slices.Equal(a, b) {
		t.Errorf("through the client:\n\t%s\nthrough ipvsadm:\n\t%s", strings.Join(a, "\n\t"), strings.Join(b, "\n\t"))
	}

	// ipvs.SaveService and SaveDest write what ipvsadm -Sn writes.
	tab, err := engine.ReadTable(ctx, c, nil)
	if err != nil {
		t.Fatal(err)
	}
	var ours bytes.Buffer
	if err := tab.WriteSave(&ours); err != nil {
		t.Fatal(err)
	}
	// ipvsadm writes a mark above 2^31-1 as a negative number; this one
	// is the largest it writes right.
	if a, b := lineSet(ours.String()), saved(t, "c"); !slices.Equal(a, b) {
		t.Errorf("WriteSave:\n\t%s\nipvsadm -Sn:\n\t%s", strings.Join(a, "\n\t"), strings.Join(b, "\n\t"))
	}

	// The limits: one past each, ipvsadm refuses.
	for _, args := range [][]string{
		{"-A", "-t", "192.0.2.20:80", "-s", "rr", "-p", strconv.Itoa(86400*31 + 1)},
		{"-a", "-t", "192.0.2.10:80", "-r", "10.0.0.30:80", "-m", "-w", "1", "-x", "2147483648"},
		{"-a", "-t", "192.0.2.10:80", "-r", "10.0.0.31:80", "-m", "-w", "2147483648"},
		{"--set", "0", "0", strconv.Itoa(86400*31 + 1)},
		{"-a", "-t", "192.0.2.10:80", "-r", "10.0.0.32:80", "-i", "-w", "1", "--tun-type", "gre", "--tun-remcsum"},
		{"-a", "-t", "192.0.2.10:80", "-r", "10.0.0.33:80", "-i", "-w", "1", "--tun-type", "gue", "--tun-csum"},
		{"-a", "-f", "8", "-6", "-r", "[2001:db8:1::8]", "-g", "-w", "1"},
	} {
		cmd := exec.Command("ip", append([]string{"netns", "exec", "c", "ipvsadm"}, args...)...)
		if out, err := cmd.CombinedOutput(); err == nil {
			t.Errorf("ipvsadm %s succeeded: ipvsadm.go's limit is wrong (%s)", strings.Join(args, " "), out)
		}
	}

	// What ipvsadm cannot say: a direct-routed real server on another
	// port; the nearest command gives it the service's port instead.
	op := ipvs.Op{Kind: ipvs.AddDest, Service: svc(web), Dest: dest("10.0.0.40", 8080, ipvs.DirectRoute, 1)}
	args, err = op.IpvsadmArgs()
	if !errors.Is(err, ipvs.ErrNotIpvsadm) {
		t.Fatalf("%v: %v, want ErrNotIpvsadm", op.String(), err)
	}
	ipvsadm(t, "c", nil, args...)
	if got := saved(t, "c"); !slices.Contains(got, "-a -t 192.0.2.10:80 -r 10.0.0.40:80 -g -w 1") {
		t.Errorf("ipvsadm %s made:\n\t%s\nwant the service's port, as ipvsadm.go says", strings.Join(args, " "), strings.Join(got, "\n\t"))
	}
}
