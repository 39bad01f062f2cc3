package main

import (
	"bytes"
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lvsconsole/lvsconsole/lvs/engine"
	"github.com/lvsconsole/lvsconsole/lvs/ipvs"
	"github.com/lvsconsole/lvsconsole/lvs/ipvs/ipvstest"
	"github.com/lvsconsole/lvsconsole/store"
)

// TestIpvsadmRoundTrip: the ipvsadm rules a configuration exports, imported
// (told from their content) and exported again, are the same rules.
func TestIpvsadmRoundTrip(t *testing.T) {
	dir := t.TempDir()
	db1, db2 := filepath.Join(dir, "one.db"), filepath.Join(dir, "two.db")
	if _, _, err := runCmd(t, "", "import", "-db", db1, writeCf(t, dir, 2, 1)); err != nil {
		t.Fatal(err)
	}
	first, _, err := runCmd(t, "", "export", "-db", db1, "-format", "ipvsadm")
	if err != nil {
		t.Fatal(err)
	}
	rules := filepath.Join(dir, "rules")
	if err := os.WriteFile(rules, []byte(first), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, err := runCmd(t, "", "import", "-db", db2, rules)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, "imported as serial 2: 2 virtual servers") || !strings.Contains(out, "warning: "+engine.NoCheckNote) {
		t.Errorf("import said\n%s", out)
	}
	second, _, err := runCmd(t, "", "export", "-db", db2, "-format", "ipvsadm")
	if err != nil {
		t.Fatal(err)
	}
	if first != second || first == "" {
		t.Errorf("exported\n%s\nimported and exported again\n%s", first, second)
	}
}

// TestIpvsadmImportOfRules: rules of ipvsadm -Sn with IPv6, sh's flags,
// one-packet scheduling and a tunnel export as they were read (in
// ipvsadm -Sn's own form); a firewall mark is imported inactive, and said
// so.
func TestIpvsadmImportOfRules(t *testing.T) {
	const rules = `-A -t [2001:db8::1]:443 -s sh -p 600 -M 64 -b sh-fallback,sh-port
-a -t [2001:db8::1]:443 -r [2001:db8::20]:443 -m -w 3
-a -t [2001:db8::1]:443 -r [2001:db8::21]:8443 -m -w 0
-A -u 192.0.2.53:53 -s rr -o
-a -u 192.0.2.53:53 -r 10.0.1.1:53 -i -w 1 --tun-type ipip
-A -f 7 -s rr
-a -f 7 -r 10.0.0.1:80 -g -w 1
`
	dir := t.TempDir()
	db := filepath.Join(dir, "lvs.db")
	src := filepath.Join(dir, "rules")
	if err := os.WriteFile(src, []byte(rules), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, err := runCmd(t, "", "import", "-db", db, "-format", "ipvsadm", src)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, "line 6: FWM 7: ipvsadm's rules give a firewall-mark service no address: virtual server fwm_7 is imported inactive") {
		t.Errorf("import said\n%s", out)
	}
	got, _, err := runCmd(t, "", "export", "-db", db, "-format", "ipvsadm")
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Join(strings.Split(rules, "\n")[:5], "\n") + "\n"
	if got != want {
		t.Errorf("exported\n%s\nwant\n%s", got, want)
	}
}

// TestIpvsadmImportRefuses: what the configuration cannot hold, and what
// it refuses, is named with the rule's line; nothing is saved.
func TestIpvsadmImportRefuses(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "lvs.db")
	src := filepath.Join(dir, "rules")
	rules := "-A -t 192.0.2.10:80 -s rr -p --pe sip\n-A -t 192.0.2.11:80 -s rr -b flag-3\n-A -t 192.0.2.12:80 -s wlc\n-a -t 192.0.2.12:80 -r 0.0.0.0:80 -m\n-A -t 192.0.2.13:0 -p\n"
	if err := os.WriteFile(src, []byte(rules), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err := runCmd(t, "", "import", "-db", db, src)
	for _, want := range []string{
		"line 1: TCP 192.0.2.10:80: the configuration has no place for it: persistence engine sip",
		"line 2: TCP 192.0.2.11:80: the configuration has no place for it: scheduler flag flag-3",
		"line 5: TCP 192.0.2.13:0: the configuration has no place for it: port 0 (every port of a persistent service)",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("got %v\nwant it to say %s", err, want)
		}
	}
	rules = "-A -t 192.0.2.12:80 -s wlc\n-a -t 192.0.2.12:80 -r 0.0.0.0:80 -m\n"
	if err := os.WriteFile(src, []byte(rules), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err = runCmd(t, "", "import", "-db", db, src)
	if want := "line 2: virtual tcp_192.0.2.12_80, server 0.0.0.0_80: address: 0.0.0.0 is a placeholder"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("got %v\nwant it to say %s", err, want)
	}
	if _, _, err := runCmd(t, "", "import", "-db", db, "-format", "nginx", src); err == nil || !strings.Contains(err.Error(), `-format: "nginx" is not a format`) {
		t.Errorf("an unknown format: %v", err)
	}
}

// handMade makes a table in k as an admin with ipvsadm would: a NAT
// service with persistence and thresholds, an IPv6 UDP one with sh's
// flags, and a firewall mark.
func handMade(t *testing.T, k *ipvstest.Kernel) {
	t.Helper()
	c, err := ipvs.NewNetlink(k.NetlinkConn())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	web := ipvs.Service{ServiceKey: ipvs.ServiceKey{Family: ipvs.FamilyIPv4, Protocol: ipvs.TCP, Addr: netip.MustParseAddr("192.0.2.10"), Port: 80},
		Scheduler: "wlc", Flags: ipvs.FlagPersistent, Timeout: 300, Netmask: 0xffffff00}
	dns := ipvs.Service{ServiceKey: ipvs.ServiceKey{Family: ipvs.FamilyIPv6, Protocol: ipvs.UDP, Addr: netip.MustParseAddr("2001:db8::53"), Port: 53},
		Scheduler: "sh", Flags: ipvs.FlagSched1 | ipvs.FlagSched2 | ipvs.FlagOnePacket, Netmask: 128}
	mark := ipvs.Service{ServiceKey: ipvs.ServiceKey{Family: ipvs.FamilyIPv4, FWMark: 7}, Scheduler: "rr", Netmask: 0xffffffff}
	ops := []ipvs.Op{
		{Kind: ipvs.AddService, Service: web},
		{Kind: ipvs.AddDest, Service: web, Dest: ipvs.Destination{Addr: netip.MustParseAddr("10.0.0.1"), Port: 80, Forward: ipvs.Masquerade, Weight: 5, UpperThreshold: 100, LowerThreshold: 10}},
		{Kind: ipvs.AddDest, Service: web, Dest: ipvs.Destination{Addr: netip.MustParseAddr("10.0.0.2"), Port: 8080, Forward: ipvs.Masquerade, Weight: 0}},
		{Kind: ipvs.AddService, Service: dns},
		{Kind: ipvs.AddDest, Service: dns, Dest: ipvs.Destination{Addr: netip.MustParseAddr("2001:db8::1:1"), Port: 53, Forward: ipvs.DirectRoute, Weight: 2}},
		{Kind: ipvs.AddService, Service: mark},
		{Kind: ipvs.AddDest, Service: mark, Dest: ipvs.Destination{Addr: netip.MustParseAddr("10.0.0.3"), Port: 0, Forward: ipvs.DirectRoute, Weight: 1}},
	}
	for i, err := range c.Apply(context.Background(), ops) {
		if err != nil {
			t.Fatalf("%v: %v", &ops[i], err)
		}
	}
}

// TestAdopt: adopt shows the services of a table made by hand, asks, and
// takes them into the configuration and the ledger as one revision; the
// engine's next reconcile then changes nothing, and a second adopt takes
// nothing twice.
func TestAdopt(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "lvs.db")
	k := ipvstest.New()
	handMade(t, k)

	var out bytes.Buffer
	e := &env{stdin: strings.NewReader("n\n"), stdout: &out, stderr: &out, stdinFd: -1,
		dial: func() (*ipvs.Client, error) { return ipvs.NewNetlink(k.NetlinkConn()) }}
	if err := run(context.Background(), e, []string{"adopt", "-db", db}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"# left alone: FWM 7: a firewall-mark service has no address in IPVS",
		"ipvsadm -A -t 192.0.2.10:80 -s wlc -p 300 -M 255.255.255.0\n",
		"ipvsadm -a -t 192.0.2.10:80 -r 10.0.0.1:80 -m -w 5 -x 100 -y 10\n",
		"ipvsadm -a -t 192.0.2.10:80 -r 10.0.0.2:8080 -m -w 0\n",
		"ipvsadm -A -u [2001:db8::53]:53 -s sh -o -b sh-fallback,sh-port\n",
		"#   virtual server tcp_192.0.2.10_80 (TCP 192.0.2.10:80, scheduler wlc, persistence 300 s) with real servers 10.0.0.1_80 (nat, weight 5), 10.0.0.2_8080 (nat, weight 0)\n",
		"#   virtual server udp_2001-db8--53_53 (UDP [2001:db8::53]:53, scheduler sh) with real servers 2001-db8--1-1_53 (direct, weight 2)\n",
		"Take these 2 services into the configuration and let lvsconsole manage them? [y/N] nothing taken\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("adopt said\n%s\nwant it to say\n%s", out.String(), want)
		}
	}
	st := openTestStore(t, db)
	if cfg, err := st.Config(context.Background()); err != nil || len(cfg.Virtuals) != 0 {
		t.Fatalf("refused, adopt still took %v, %v", cfg, err)
	}
	st.Close()

	stdout, _, err := withKernel(t, k, "adopt", "-yes", "-db", db)
	if err != nil || !strings.Contains(stdout, "adopted 2 services as serial 2\n") {
		t.Fatalf("%v\n%s", err, stdout)
	}
	st = openTestStore(t, db)
	defer st.Close()
	ctx := context.Background()
	revs, err := st.Revisions(ctx, 0, 1)
	if err != nil || len(revs) == 0 || !strings.HasPrefix(revs[0].Summary, "adopt") {
		t.Errorf("the last revision is %+v, %v; want adopt's", revs, err)
	}
	cfg, err := st.Config(ctx)
	if err != nil {
		t.Fatal(err)
	}
	before := len(k.Requests())
	c, err := ipvs.NewNetlink(k.NetlinkConn())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	res, err := engine.Reconcile(ctx, c, st, engine.Desired(cfg, engine.Configured{}), nil)
	if err != nil || len(res.Errors) != 0 || len(res.Changes) != 0 {
		t.Fatalf("the reconcile after adopt: %v, errors %v, changes %v", err, res.Errors, res.Changes)
	}
	for _, r := range k.Requests()[before:] {
		if !reads(r) {
			t.Errorf("the reconcile after adopt sent %+v", r)
		}
	}
	owned, err := st.OwnedServices(ctx)
	if err != nil || len(owned) != 2 {
		t.Errorf("owned %v, %v", owned, err)
	}

	stdout, _, err = withKernel(t, k, "adopt", "-yes", "-db", db)
	for _, want := range []string{
		"# left alone: TCP 192.0.2.10:80: already in the configuration as virtual server tcp_192.0.2.10_80\n",
		"# nothing to take",
	} {
		if err != nil || !strings.Contains(stdout, want) {
			t.Errorf("adopt again: %v\n%s\nwant it to say %s", err, stdout, want)
		}
	}
	stdout, _, err = withKernel(t, k, "plan", "-db", db)
	if err != nil || !strings.Contains(stdout, "# nothing to do") {
		t.Errorf("plan after adopt: %v\n%s", err, stdout)
	}
}

func openTestStore(t *testing.T, db string) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	return st
}
