//go:build guest

// These tests run inside the qemu guest (see kernel_test.go), against the
// real IPVS of Debian's kernel, in network namespaces the boot script made:
//
//	prog            a director with routes to 10.0.0.0/16 and 2001:db8:1::/64
//	cli - dir - r1, r2   a client, a NAT director and two real servers
//	bench           a director for the benchmarks
package engine

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/lvs/internal/netns"
	"github.com/lvsconsole/lvsconsole/lvs/ipvs"
)

// dialIPVS opens IPVS in namespace ns.
func dialIPVS(t testing.TB, ns string) *ipvs.Client {
	t.Helper()
	f, err := os.Open("/run/netns/" + ns)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c, err := ipvs.Dial(&ipvs.Options{NetNS: int(f.Fd())})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func sh(t testing.TB, args ...string) string {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// availableSchedulers are the kernel's scheduler modules; 6.1 predates twos.
func availableSchedulers(t *testing.T) []string {
	var have []string
	for _, s := range config.Schedulers {
		if exec.Command("modprobe", "ip_vs_"+s).Run() == nil {
			have = append(have, s)
		}
	}
	missing := []string{}
	for _, s := range config.Schedulers {
		if !slices.Contains(have, s) {
			missing = append(missing, s)
		}
	}
	if len(missing) > 0 {
		t.Logf("schedulers this kernel lacks: %v", missing)
	}
	for _, s := range missing {
		if s != "twos" {
			t.Fatalf("the guest kernel lacks scheduler %s", s)
		}
	}
	return have
}

// everything is a configuration with every scheduler the kernel has, every
// forwarding method, each protocol, firewall marks and IPv6.
func everything(t *testing.T) *config.Config {
	c := config.Default()
	c.Global.Network = config.NAT
	c.Global.TCPTimeout, c.Global.UDPTimeout = 1000, 200
	fwds := []config.Forward{config.NAT, config.Direct, config.Tunnel}
	for i, s := range availableSchedulers(t) {
		vs := config.NewVirtual("sched-" + s)
		vs.Active, vs.Address, vs.Port, vs.Scheduler = true, a("192.0.2.1"), 8000+i, s
		for j := range 3 {
			vs.Reals = append(vs.Reals, config.RealServer{Name: fmt.Sprint("r", j), Active: true, Weight: int64(j + 1),
				Address: netip.AddrFrom4([4]byte{10, 0, byte(i), byte(10 + j)}), Forward: fwds[j]})
		}
		if s == "sh" || s == "mh" {
			vs.SchedFallback, vs.SchedPort = true, true
		}
		c.Virtuals = append(c.Virtuals, vs)
	}
	add := func(vs config.VirtualServer) { c.Virtuals = append(c.Virtuals, vs) }
	persist := config.NewVirtual("persist")
	persist.Active, persist.Address, persist.Port, persist.Persistence, persist.PersistenceNetmask = true, a("192.0.2.2"), 443, 600, config.MaskBits(24)
	persist.Reals = []config.RealServer{{Name: "p1", Active: true, Address: a("10.0.50.1"), Weight: 1, UpperThreshold: 500, LowerThreshold: 400}}
	add(persist)
	udp := config.NewVirtual("udp")
	udp.Active, udp.Address, udp.Protocol, udp.Port, udp.OnePacket = true, a("192.0.2.3"), config.UDP, 53, true
	udp.Reals = []config.RealServer{{Name: "u1", Active: true, Address: a("10.0.51.1"), Weight: 2, Forward: config.Direct}}
	add(udp)
	sctp := config.NewVirtual("sctp")
	sctp.Active, sctp.Address, sctp.Protocol, sctp.Port = true, a("192.0.2.4"), config.SCTP, 3868
	sctp.Reals = []config.RealServer{{Name: "s1", Active: true, Address: a("10.0.52.1"), Weight: 1}}
	add(sctp)
	v6 := config.NewVirtual("v6")
	v6.Active, v6.Address, v6.Port, v6.Persistence, v6.PersistenceNetmask = true, a("2001:db8::80"), 80, 60, config.MaskBits(64)
	v6.Reals = []config.RealServer{
		{Name: "a", Active: true, Address: a("2001:db8:1::1"), Weight: 1},
		{Name: "b", Active: true, Address: a("2001:db8:1::2"), Port: 8080, Weight: 2, Forward: config.Direct},
	}
	add(v6)
	mark := config.NewVirtual("mark")
	mark.Active, mark.Address, mark.FWMark, mark.Port = true, a("192.0.2.5"), 7, 0
	mark.Reals = []config.RealServer{{Name: "m", Active: true, Address: a("10.0.53.1"), Port: 80, Weight: 1, Forward: config.Direct}}
	add(mark)
	mark6 := config.NewVirtual("mark6")
	mark6.Active, mark6.Address, mark6.FWMark = true, a("2001:db8::7"), 8
	mark6.Reals = []config.RealServer{{Name: "m", Active: true, Address: a("2001:db8:1::7"), Port: 443, Weight: 1, Forward: config.Tunnel}}
	add(mark6)
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	return c
}

// savedRule is one service or destination of ipvsadm -Sn, by its options.
type savedRule map[string]string

// parseSave reads ipvsadm -Sn: an independent reader of the kernel's table.
func parseSave(t *testing.T, out string) (svcs map[string]savedRule, dests map[string]savedRule) {
	svcs, dests = map[string]savedRule{}, map[string]savedRule{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		r := savedRule{}
		var key string
		for i := 1; i < len(f); i++ {
			opt := f[i]
			val := ""
			if i+1 < len(f) && !strings.HasPrefix(f[i+1], "-") {
				val = f[i+1]
				i++
			}
			switch opt {
			case "-t", "-u", "--sctp-service", "-f":
				key = opt + " " + val
			}
			r[opt] = val
		}
		switch f[0] {
		case "-A":
			svcs[key] = r
		case "-a":
			dests[key+" -r "+r["-r"]] = r
		default:
			t.Fatalf("unexpected ipvsadm -Sn line %q", sc.Text())
		}
	}
	return svcs, dests
}

// thresholds finds destination addr in ipvsadm -Ln --thresholds output and
// returns its upper and lower thresholds.
func thresholds(out, addr string) (upper, lower string) {
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= 4 && f[0] == "->" && f[1] == addr {
			return f[2], f[3]
		}
	}
	return "", ""
}

func sortedLines(s string) []string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i := range lines {
		lines[i] = strings.TrimRight(lines[i], " ")
	}
	slices.Sort(lines)
	return lines
}

// saveKey is how ipvsadm -Sn names a service.
func saveKey(k ipvs.ServiceKey) string {
	if k.FWMark != 0 {
		return "-f " + strconv.Itoa(int(k.FWMark))
	}
	opt := map[ipvs.Protocol]string{ipvs.TCP: "-t", ipvs.UDP: "-u", ipvs.SCTP: "--sctp-service"}[k.Protocol]
	return opt + " " + AddrPort(k.Addr, k.Port)
}

// TestGuestProgramEverything programs every kind of service into the real
// kernel, and reads it back through the client and through ipvsadm.
func TestGuestProgramEverything(t *testing.T) {
	c := dialIPVS(t, "prog")
	l := newLedger()
	cfg := everything(t)
	want := Desired(cfg, Configured{})
	res, err := Reconcile(ctx, c, l, want, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range res.Errors {
		t.Errorf("reconcile: %v", err)
	}
	t.Logf("%d changes for %d services", len(res.Changes), len(want.Services))

	// Read back through the client.
	got, err := ReadTable(ctx, c, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Services) != len(want.Services) {
		t.Fatalf("kernel has %d services, want %d", len(got.Services), len(want.Services))
	}
	for _, ws := range want.Services {
		gs := got.Lookup(ws.ServiceKey)
		if gs == nil {
			t.Errorf("kernel lacks %s", ws.ServiceKey)
			continue
		}
		if !sameService(&gs.Service, &ws.Service) {
			t.Errorf("%s: kernel %+v, want %+v", ws.ServiceKey, gs.Service, ws.Service)
		}
		wd := append([]ipvs.Destination(nil), ws.Dests...)
		sortDests(wd)
		if len(gs.Dests) != len(wd) {
			t.Errorf("%s: %d destinations, want %d", ws.ServiceKey, len(gs.Dests), len(wd))
			continue
		}
		for i := range wd {
			if gs.Dests[i].Key() != wd[i].Key() || !sameDest(&gs.Dests[i], &wd[i]) {
				t.Errorf("%s: destination %+v, want %+v", ws.ServiceKey, gs.Dests[i], wd[i])
			}
		}
	}
	if got.Timeouts.TCP != 1000*time.Second || got.Timeouts.UDP != 200*time.Second {
		t.Errorf("timeouts = %+v", got.Timeouts)
	}

	// Read back through ipvsadm, which shares no code with us.
	out := sh(t, "ip", "netns", "exec", "prog", "ipvsadm", "-Sn")
	svcs, dests := parseSave(t, out)
	if len(svcs) != len(want.Services) {
		t.Errorf("ipvsadm -Sn lists %d services, want %d:\n%s", len(svcs), len(want.Services), out)
	}
	thr := sh(t, "ip", "netns", "exec", "prog", "ipvsadm", "-Ln", "--thresholds")
	method := map[ipvs.Forward]string{ipvs.Masquerade: "-m", ipvs.DirectRoute: "-g", ipvs.Tunnel: "-i"}
	ndest := 0
	for _, ws := range want.Services {
		key := saveKey(ws.ServiceKey)
		r, ok := svcs[key]
		if !ok {
			t.Errorf("ipvsadm -Sn lacks %s:\n%s", key, out)
			continue
		}
		if r["-s"] != ws.Scheduler {
			t.Errorf("%s: ipvsadm says scheduler %q, want %q", key, r["-s"], ws.Scheduler)
		}
		if p := ws.Flags&ipvs.FlagPersistent != 0; p != (r["-p"] != "") || p && r["-p"] != strconv.Itoa(int(ws.Timeout)) {
			t.Errorf("%s: ipvsadm says persistence %q, want %d", key, r["-p"], ws.Timeout)
		}
		if ws.Flags&ipvs.FlagOnePacket != 0 {
			if _, ok := r["-o"]; !ok {
				t.Errorf("%s: ipvsadm does not show one-packet scheduling", key)
			}
		}
		if ws.Flags&(ipvs.FlagSched1|ipvs.FlagSched2) != 0 && !strings.Contains(r["-b"], "fallback") {
			t.Errorf("%s: ipvsadm shows sched flags %q", key, r["-b"])
		}
		for _, d := range ws.Dests {
			ndest++
			dk := key + " -r " + AddrPort(d.Addr, d.Port)
			dr, ok := dests[dk]
			if !ok {
				t.Errorf("ipvsadm -Sn lacks %s", dk)
				continue
			}
			if _, ok := dr[method[d.Forward]]; !ok {
				t.Errorf("%s: ipvsadm shows %v, want %s", dk, dr, method[d.Forward])
			}
			if dr["-w"] != strconv.Itoa(int(d.Weight)) {
				t.Errorf("%s: ipvsadm says weight %q, want %d", dk, dr["-w"], d.Weight)
			}
			if d.UpperThreshold != 0 {
				// -Sn leaves thresholds out; -Ln --thresholds shows them.
				if u, l := thresholds(thr, AddrPort(d.Addr, d.Port)); u != strconv.Itoa(int(d.UpperThreshold)) || l != strconv.Itoa(int(d.LowerThreshold)) {
					t.Errorf("%s: ipvsadm says thresholds %q/%q, want %d/%d", dk, u, l, d.UpperThreshold, d.LowerThreshold)
				}
			}
		}
	}
	if len(dests) != ndest {
		t.Errorf("ipvsadm -Sn lists %d destinations, want %d", len(dests), ndest)
	}

	// lvsconsole status prints what ipvsadm -Ln prints (line order within a
	// service aside: ipvsadm lists destinations newest first).
	info, err := c.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []struct {
		mode TextMode
		args []string
	}{{TextTable, []string{"-Ln"}}, {TextStats, []string{"-Ln", "--stats", "--exact"}}, {TextRate, []string{"-Ln", "--rate", "--exact"}}} {
		var ours bytes.Buffer
		if err := got.WriteText(&ours, info, m.mode); err != nil {
			t.Fatal(err)
		}
		theirs := sh(t, append([]string{"ip", "netns", "exec", "prog", "ipvsadm"}, m.args...)...)
		if a, b := sortedLines(ours.String()), sortedLines(theirs); !slices.Equal(a, b) {
			t.Errorf("ipvsadm %v differs from ours:\n--- ipvsadm\n%s--- ours\n%s", m.args, theirs, ours.String())
		}
	}

	// A second reconcile, reading the kernel afresh, finds nothing to do.
	res, err = Reconcile(ctx, c, l, want, nil)
	if err != nil || len(res.Changes) != 0 || len(res.Errors) != 0 {
		t.Errorf("second reconcile: %v %v %v", err, res.Changes, res.Errors)
	}
	// Emptying the configuration leaves the kernel empty.
	if res, err = Reconcile(ctx, c, l, Desired(config.Default(), Configured{}), nil); err != nil || len(res.Errors) != 0 {
		t.Fatal(err, res.Errors)
	}
	if out := sh(t, "ip", "netns", "exec", "prog", "ipvsadm", "-Sn"); strings.TrimSpace(out) != "" {
		t.Errorf("after emptying the configuration ipvsadm -Sn shows:\n%s", out)
	}
}

// serveNames runs, in namespace ns, a TCP server on :80 that greets each
// connection with name and then echoes lines.
func serveNames(t *testing.T, ns, name string) { serveOn(t, ns, ":80", name) }

// serveOn runs, in namespace ns, a TCP server on addr that greets each
// connection with name and then echoes lines; closing the listener it
// returns leaves the connections it accepted open.
func serveOn(t *testing.T, ns, addr, name string) net.Listener {
	var ln net.Listener
	if err := netns.Do(ns, func() (err error) { ln, err = net.Listen("tcp", addr); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				fmt.Fprintf(conn, "%s\n", name)
				sc := bufio.NewScanner(conn)
				for sc.Scan() {
					fmt.Fprintf(conn, "%s\n", sc.Text())
				}
			}()
		}
	}()
	return ln
}

// connect opens a connection from the client namespace to the VIP and
// reads the greeting.
func connect(t *testing.T) (net.Conn, *bufio.Reader, string) { return connectTo(t, "10.1.0.1:80") }

// connectTo opens a connection from the client namespace to addr and reads
// the greeting.
func connectTo(t *testing.T, addr string) (net.Conn, *bufio.Reader, string) {
	t.Helper()
	var conn net.Conn
	err := netns.Do("cli", func() (err error) {
		conn, err = net.DialTimeout("tcp", addr, 5*time.Second)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(conn)
	name, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("reading the greeting: %v", err)
	}
	return conn, r, strings.TrimSpace(name)
}

// TestGuestTrafficAndEdits sends real traffic through a NAT service, checks
// it is balanced, and that an open connection survives a change of weight
// and scheduler (edited in place, not re-added).
func TestGuestTrafficAndEdits(t *testing.T) {
	serveNames(t, "r1", "r1")
	serveNames(t, "r2", "r2")
	c := dialIPVS(t, "dir")
	l := newLedger()
	cfg := config.Default()
	cfg.Global.Network = config.NAT
	vs := config.NewVirtual("web")
	vs.Active, vs.Address, vs.Scheduler = true, a("10.1.0.1"), "rr"
	vs.Reals = []config.RealServer{
		{Name: "r1", Active: true, Address: a("192.168.10.11"), Weight: 1},
		{Name: "r2", Active: true, Address: a("192.168.10.12"), Weight: 1},
	}
	cfg.Virtuals = []config.VirtualServer{vs}
	res, err := Reconcile(ctx, c, l, Desired(cfg, Configured{}), nil)
	if err != nil || len(res.Errors) != 0 {
		t.Fatal(err, res.Errors)
	}

	// Round robin over two servers: four connections, two each, alternating.
	var names []string
	for range 4 {
		conn, _, name := connect(t)
		conn.Close()
		names = append(names, name)
	}
	t.Logf("four connections answered by %v", names)
	if names[0] == names[1] || names[0] != names[2] || names[1] != names[3] {
		t.Errorf("round robin answered %v, want alternating r1 and r2", names)
	}

	// An open connection, then edits.
	conn, r, name := connect(t)
	defer conn.Close()
	cfg.Virtual("web").Scheduler = "wlc"
	cfg.Virtual("web").Real("r1").Weight = 5
	cfg.Virtual("web").Real("r2").Weight = 3
	before, beforeMsgs := c.Requests(), c.Messages()
	res, err = Reconcile(ctx, c, l, Desired(cfg, Configured{}), res.After)
	if err != nil || len(res.Errors) != 0 {
		t.Fatal(err, res.Errors)
	}
	for _, ch := range res.Changes {
		if !strings.HasPrefix(ch.Op, "edit") {
			t.Errorf("the edit did %s, want only edits in place", ch)
		}
	}
	if n, m := c.Requests()-before, c.Messages()-beforeMsgs; n != 1 || m != 3 {
		t.Errorf("scheduler + 2 weights took %d netlink messages in %d writes, want 3 in 1", m, n)
	}
	out := sh(t, "ip", "netns", "exec", "dir", "ipvsadm", "-Ln")
	if !strings.Contains(out, "wlc") {
		t.Errorf("ipvsadm -Ln after the edit:\n%s", out)
	}
	fmt.Fprintf(conn, "still there?\n")
	line, err := r.ReadString('\n')
	if err != nil || line != "still there?\n" {
		t.Fatalf("the connection to %s did not survive the edit: %q %v", name, line, err)
	}
}

// TestGuestQuiescedServersBringTheSorryServer kills every real server of a
// quiesced NAT service on the real kernel, checked by the real health
// checks: they stay in the table at weight 0 and the connection open to one
// of them keeps working, while the sorry server comes in and takes the new
// connections (piranha's lvsd.c checkClientMonitor brings it up when nanny
// reports no real server active, quiesced or not); when a real server
// returns, the sorry server leaves.
func TestGuestQuiescedServersBringTheSorryServer(t *testing.T) {
	// Port 81 and 8081: servers and a service of their own, not the ones
	// other tests use. The sorry server runs on r2's host, on the service's
	// port as piranha's sorry server is.
	r1 := serveOn(t, "r1", ":81", "r1")
	r2 := serveOn(t, "r2", ":81", "r2")
	serveOn(t, "r2", ":8081", "sorry")

	cfg := config.Default()
	cfg.Serial = 1
	cfg.Global.Network = config.NAT
	vs := config.NewVirtual("quiesced")
	vs.Active, vs.Address, vs.Port, vs.Scheduler, vs.Quiesce = true, a("10.1.0.1"), 8081, "rr", true
	vs.CheckKind, vs.CheckTimeout, vs.Reentry = "tcp", 200*time.Millisecond, 200*time.Millisecond
	vs.SorryServer = a("192.168.10.12")
	vs.Reals = []config.RealServer{
		{Name: "r1", Active: true, Address: a("192.168.10.11"), Port: 81, Weight: 1},
		{Name: "r2", Active: true, Address: a("192.168.10.12"), Port: 81, Weight: 1},
	}
	cfg.Virtuals = []config.VirtualServer{vs}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}

	// The checks run in this namespace, on the real servers' LAN (h-eth of
	// kernel_test.go), as a director's do; IPVS is the one of "dir".
	checks := NewChecks()
	checks.Configure(cfg)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { checks.Run(runCtx); close(done) }()
	defer func() { cancel(); <-done }()
	c := dialIPVS(t, "dir")
	l := newLedger()
	var known *Table
	defer func() { Reconcile(ctx, c, l, Desired(config.Default(), Configured{}), nil) }()

	const svc = "-t 10.1.0.1:8081"
	r1Key, r2Key, sorryKey := svc+" -r 192.168.10.11:81", svc+" -r 192.168.10.12:81", svc+" -r 192.168.10.12:8081"
	// until reconciles on every change of the checks until the kernel's
	// destinations of the service, read with ipvsadm, satisfy cond.
	until := func(what string, cond func(weights map[string]string) bool) {
		t.Helper()
		deadline := time.After(30 * time.Second)
		for {
			res, err := Reconcile(ctx, c, l, Desired(cfg, checks), known)
			if err != nil || len(res.Errors) != 0 {
				t.Fatal(err, res.Errors)
			}
			known = res.After
			_, dests := parseSave(t, sh(t, "ip", "netns", "exec", "dir", "ipvsadm", "-Sn"))
			weights := map[string]string{}
			for k, r := range dests {
				if strings.HasPrefix(k, svc+" ") {
					weights[k] = r["-w"]
				}
			}
			if cond(weights) {
				t.Logf("%s: %v", what, weights)
				return
			}
			select {
			case <-checks.Changes():
			case <-deadline:
				t.Fatalf("gave up waiting for %s: the kernel has %v", what, weights)
			}
		}
	}

	until("both real servers in", func(w map[string]string) bool {
		return w[r1Key] == "1" && w[r2Key] == "1" && len(w) == 2
	})
	conn, rd, first := connectTo(t, "10.1.0.1:8081")
	defer conn.Close()
	if first != "r1" && first != "r2" {
		t.Fatalf("the service answered %q", first)
	}

	// Every real server dies.
	r1.Close()
	r2.Close()
	until("both quiesced and the sorry server in", func(w map[string]string) bool {
		return w[r1Key] == "0" && w[r2Key] == "0" && w[sorryKey] == "1" && len(w) == 3
	})
	c2, _, name := connectTo(t, "10.1.0.1:8081")
	c2.Close()
	if name != "sorry" {
		t.Errorf("a new connection reached %q, want the sorry server", name)
	}
	fmt.Fprintf(conn, "still there?\n")
	if line, err := rd.ReadString('\n'); err != nil || line != "still there?\n" {
		t.Errorf("the connection open to %s did not survive its quiescing: %q %v", first, line, err)
	}

	// r1 comes back: after re-entry it takes the new connections, and the
	// sorry server leaves.
	serveOn(t, "r1", ":81", "r1")
	until("r1 back and the sorry server out", func(w map[string]string) bool {
		_, sorry := w[sorryKey]
		return w[r1Key] != "0" && w[r1Key] != "" && !sorry
	})
	c3, _, name := connectTo(t, "10.1.0.1:8081")
	c3.Close()
	if name != "r1" {
		t.Errorf("a new connection reached %q, want r1, the only live server", name)
	}
}

// TestGuestForeignServiceSurvives: a service added with ipvsadm by hand is
// left alone by every reconcile.
func TestGuestForeignServiceSurvives(t *testing.T) {
	sh(t, "ip", "netns", "exec", "prog", "ipvsadm", "-A", "-t", "203.0.113.1:22", "-s", "sh")
	sh(t, "ip", "netns", "exec", "prog", "ipvsadm", "-a", "-t", "203.0.113.1:22", "-r", "10.0.60.1:22", "-g", "-w", "4")
	c := dialIPVS(t, "prog")
	l := newLedger()
	for _, cfg := range []*config.Config{everything(t), config.Default()} {
		res, err := Reconcile(ctx, c, l, Desired(cfg, Configured{}), nil)
		if err != nil || len(res.Errors) != 0 {
			t.Fatal(err, res.Errors)
		}
		out := sh(t, "ip", "netns", "exec", "prog", "ipvsadm", "-Sn")
		if !strings.Contains(out, "-A -t 203.0.113.1:22 -s sh") || !strings.Contains(out, "-a -t 203.0.113.1:22 -r 10.0.60.1:22 -g -w 4") {
			t.Errorf("the hand-made service was touched:\n%s", out)
		}
	}
	sh(t, "ip", "netns", "exec", "prog", "ipvsadm", "-D", "-t", "203.0.113.1:22")
}

// TestGuestBatchWhereEverythingFails: applying the 1,000 x 10 table twice,
// the second batch fails op by op (every entry exists) and every failure
// comes back; none is lost to the socket's receive buffer.
func TestGuestBatchWhereEverythingFails(t *testing.T) {
	c := dialIPVS(t, "bench")
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	var ops []ipvs.Op
	for _, s := range benchTable().Services {
		ops = append(ops, ipvs.Op{Kind: ipvs.AddService, Service: s.Service})
		for _, d := range s.Dests {
			ops = append(ops, ipvs.Op{Kind: ipvs.AddDest, Service: ipvs.Service{ServiceKey: s.ServiceKey}, Dest: d})
		}
	}
	tctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for i, err := range c.Apply(tctx, ops) {
		if err != nil {
			t.Fatalf("first apply, op %d: %v", i, err)
		}
	}
	before := c.Requests()
	errs := c.Apply(tctx, ops)
	exists := 0
	for i, err := range errs {
		switch {
		case errors.Is(err, ipvs.ErrExists):
			exists++
		default:
			t.Errorf("second apply, op %d: %v, want it to exist", i, err)
		}
	}
	t.Logf("second apply: %d of %d ops refused as existing, in %d datagrams", exists, len(ops), c.Requests()-before)
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

// ipvsadmRules writes t as ipvsadm -R input.
func ipvsadmRules(t *Table) []byte {
	var b bytes.Buffer
	for _, s := range t.Services {
		key := saveKey(s.ServiceKey)
		fmt.Fprintf(&b, "-A %s -s %s\n", key, s.Scheduler)
		for _, d := range s.Dests {
			fmt.Fprintf(&b, "-a %s -r %s -m -w %d\n", key, AddrPort(d.Addr, d.Port), d.Weight)
		}
	}
	return b.Bytes()
}

// benchTable is 1,000 virtual servers x 10 real servers (10.x destinations,
// routed in the bench namespace).
func benchTable() *Table {
	cfg := large()
	cfg.Global.Network = config.NAT
	return Desired(cfg, Configured{})
}

func flush(b *testing.B, c *ipvs.Client) {
	if err := c.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkGuestApply1000x10: lvsconsole programs 1,000 x 10 into an empty
// table (the counterpart of BenchmarkGuestIpvsadmRestore1000x10).
func BenchmarkGuestApply1000x10(b *testing.B) {
	c := dialIPVS(b, "bench")
	want := benchTable()
	for b.Loop() {
		b.StopTimer()
		flush(b, c)
		l := newLedger()
		b.StartTimer()
		res, err := Reconcile(ctx, c, l, want, nil)
		if err != nil || len(res.Errors) != 0 {
			b.Fatal(err, res.Errors)
		}
	}
}

// BenchmarkGuestIpvsadmRestore1000x10: ipvsadm -R restoring the same rules.
func BenchmarkGuestIpvsadmRestore1000x10(b *testing.B) {
	c := dialIPVS(b, "bench")
	rules := ipvsadmRules(benchTable())
	for b.Loop() {
		b.StopTimer()
		flush(b, c)
		cmd := exec.Command("ip", "netns", "exec", "bench", "ipvsadm", "-R")
		cmd.Stdin = bytes.NewReader(rules)
		b.StartTimer()
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("ipvsadm -R: %v %s", err, out)
		}
	}
}

// BenchmarkGuestWeightChange: one destination's weight in that table, as
// the engine does it after an edit.
func BenchmarkGuestWeightChange(b *testing.B) {
	c := dialIPVS(b, "bench")
	flush(b, c)
	l := newLedger()
	cfg := large()
	res, err := Reconcile(ctx, c, l, Desired(cfg, Configured{}), nil)
	if err != nil || len(res.Errors) != 0 {
		b.Fatal(err, res.Errors)
	}
	known := res.After
	var requests uint64
	for i := 0; b.Loop(); i++ {
		cfg.Virtuals[500].Reals[5].Weight = int64(2 + i%100)
		before := c.Requests()
		res, err := Reconcile(ctx, c, l, Desired(cfg, Configured{}), known)
		if err != nil || len(res.Changes) != 1 {
			b.Fatal(err, res.Changes)
		}
		known, requests = res.After, c.Requests()-before
	}
	b.ReportMetric(float64(requests), "requests/op")
}

// BenchmarkGuestReadTable: a full read of that table through the client
// (the counterpart of BenchmarkGuestIpvsadmSave).
func BenchmarkGuestReadTable(b *testing.B) {
	c := dialIPVS(b, "bench")
	for b.Loop() {
		t, err := ReadTable(ctx, c, nil)
		if err != nil || len(t.Services) != 1000 {
			b.Fatal(err)
		}
	}
}

// BenchmarkGuestIpvsadmSave: ipvsadm -Sn reading the same table.
func BenchmarkGuestIpvsadmSave(b *testing.B) {
	for b.Loop() {
		if out, err := exec.Command("ip", "netns", "exec", "bench", "ipvsadm", "-Sn").Output(); err != nil || bytes.Count(out, []byte("\n-A")) != 999 {
			b.Fatalf("ipvsadm -Sn: %v", err)
		}
	}
}
