package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/engine"
	"github.com/lvsconsole/lvsconsole/lvs/ipvs"
	"github.com/lvsconsole/lvsconsole/lvs/ipvs/ipvstest"
	"github.com/lvsconsole/lvsconsole/store"
)

// planCf is a director with a NAT service (persistence, a real server on
// another port, thresholds) and a direct-routing UDP one.
const planCf = `serial_no = 5
primary = 192.168.1.10
service = lvs
network = nat
virtual www {
	active = 1
	address = 192.0.2.10 eth0:1
	port = 80
	protocol = tcp
	scheduler = wlc
	persistent = 300
	pmask = 255.255.255.0
	server web1 {
		address = 10.0.0.1
		active = 1
		weight = %d
	}
	server web2 {
		address = 10.0.0.2
		active = 1
		port = 8080
		weight = 3
		uthreshold = 100
		lthreshold = 50
	}
}
virtual dns {
	active = %d
	address = 192.0.2.53 eth0:1
	port = 53
	protocol = udp
	scheduler = rr
	server ns1 {
		address = 10.0.1.1
		active = 1
		weight = 1
		fwd = direct
	}
}
`

// writeCf writes planCf with web1's weight and dns active or not.
func writeCf(t *testing.T, dir string, weight, dnsActive int) string {
	t.Helper()
	name := filepath.Join(dir, fmt.Sprintf("lvs-%d-%d.cf", weight, dnsActive))
	if err := os.WriteFile(name, fmt.Appendf(nil, planCf, weight, dnsActive), 0o644); err != nil {
		t.Fatal(err)
	}
	return name
}

// withKernel runs a command in-process against kernel k (nil: a kernel
// without IPVS).
func withKernel(t *testing.T, k *ipvstest.Kernel, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	return withDial(t, func() (*ipvs.Client, error) {
		if k == nil {
			return nil, fmt.Errorf("dial: %w", ipvs.ErrNoIPVS)
		}
		return ipvs.NewNetlink(k.NetlinkConn())
	}, args...)
}

// withDial runs a command in-process, IPVS opened by dial.
func withDial(t *testing.T, dial func() (*ipvs.Client, error), args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, stdinFd: -1, dial: dial}
	err = run(context.Background(), e, args)
	return out.String(), errb.String(), err
}

// TestPlanWithoutRights: reading IPVS needs root; plan says so and fails,
// import -check still validates and says why there is no plan.
func TestPlanWithoutRights(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "lvs.db")
	src := writeCf(t, dir, 1, 1)
	if _, _, err := runCmd(t, "", "import", "-db", db, src); err != nil {
		t.Fatal(err)
	}
	denied := func() (*ipvs.Client, error) { return nil, fmt.Errorf("dial: %w", ipvs.ErrPermission) }
	if _, _, err := withDial(t, denied, "plan", "-db", db); err == nil || !strings.Contains(err.Error(), "needs root (CAP_NET_ADMIN)") {
		t.Errorf("plan without the rights: %v", err)
	}
	out, _, err := withDial(t, denied, "import", "-check", "-db", db, src)
	want := src + ": valid: 2 virtual servers\n# no plan of " + src + ": reading this director's IPVS table needs root (CAP_NET_ADMIN): "
	if err != nil || !strings.HasPrefix(out, want) {
		t.Errorf("import -check without the rights: %v\n%s\nwant it to begin\n%s", err, out, want)
	}
}

// reconcile applies the stored configuration to k as serve's engine does,
// every real server up.
func reconcile(t *testing.T, db string, k *ipvstest.Kernel) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cfg, err := st.Config(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ipvs.NewNetlink(k.NetlinkConn())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	res, err := engine.Reconcile(ctx, c, st, engine.Desired(cfg, engine.Configured{}), nil)
	if err != nil || len(res.Errors) != 0 {
		t.Fatal(err, res.Errors)
	}
}

// reads tells the requests that only read the kernel's table.
func reads(r ipvstest.Request) bool {
	const getService, getDest, getConfig, getInfo = 4, 8, 13, 15
	return r.Dump || r.Cmd == getService || r.Cmd == getDest || r.Cmd == getConfig || r.Cmd == getInfo
}

const notServing = "# health: every active real server taken as up (lvsconsole serve is not running)\n"

// TestPlanCommand: plan prints what the stored configuration would do to
// the kernel's table, as ipvsadm commands, and nothing once it is done;
// after a change, only the change.
func TestPlanCommand(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "lvs.db")
	if _, _, err := runCmd(t, "", "import", "-db", db, writeCf(t, dir, 1, 1)); err != nil {
		t.Fatal(err)
	}
	k := ipvstest.New()
	out, stderr, err := withKernel(t, k, "plan", "-db", db)
	if err != nil {
		t.Fatalf("plan: %v (%s)", err, stderr)
	}
	want := "# plan of configuration serial 5 against this director's IPVS table\n" + notServing +
		"ipvsadm -A -t 192.0.2.10:80 -s wlc -p 300 -M 255.255.255.0\n" +
		"ipvsadm -a -t 192.0.2.10:80 -r 10.0.0.1:80 -m -w 1\n" +
		"ipvsadm -a -t 192.0.2.10:80 -r 10.0.0.2:8080 -m -w 3 -x 100 -y 50\n" +
		"ipvsadm -A -u 192.0.2.53:53 -s rr\n" +
		"ipvsadm -a -u 192.0.2.53:53 -r 10.0.1.1:53 -g -w 1\n"
	if out != want {
		t.Errorf("plan printed\n%s\nwant\n%s", out, want)
	}
	if len(k.Requests()) == 0 {
		t.Fatal("plan did not read the kernel")
	}
	for _, r := range k.Requests() {
		if !reads(r) {
			t.Errorf("plan sent command %d to the kernel: it must only read", r.Cmd)
		}
	}

	reconcile(t, db, k)
	out, _, err = withKernel(t, k, "plan", "-db", db)
	if err != nil || !strings.HasSuffix(out, notServing+"# nothing to do: the kernel's table is what the configuration asks for\n") {
		t.Errorf("plan after the apply: %v\n%s", err, out)
	}

	// A weight changed, a virtual server deactivated: only that.
	if _, _, err := runCmd(t, "", "import", "-db", db, writeCf(t, dir, 4, 0)); err != nil {
		t.Fatal(err)
	}
	out, _, err = withKernel(t, k, "plan", "-db", db)
	want = "# plan of configuration serial 6 against this director's IPVS table\n" + notServing +
		"ipvsadm -D -u 192.0.2.53:53\n" +
		"ipvsadm -e -t 192.0.2.10:80 -r 10.0.0.1:80 -m -w 4\n"
	if err != nil || out != want {
		t.Errorf("plan of a change: %v\n%s\nwant\n%s", err, out, want)
	}
}

// TestPlanRefusesForeign: a service someone else made where a virtual
// server wants one is named as refused; the rest is planned.
func TestPlanRefusesForeign(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "lvs.db")
	if _, _, err := runCmd(t, "", "import", "-db", db, writeCf(t, dir, 1, 1)); err != nil {
		t.Fatal(err)
	}
	k := ipvstest.New()
	c, err := ipvs.NewNetlink(k.NetlinkConn())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	dnsKey := ipvs.ServiceKey{Family: ipvs.FamilyIPv4, Protocol: ipvs.UDP, Addr: netip.MustParseAddr("192.0.2.53"), Port: 53}
	if err := c.NewService(context.Background(), ipvs.Service{ServiceKey: dnsKey, Scheduler: "rr"}); err != nil {
		t.Fatal(err)
	}
	out, _, err := withKernel(t, k, "plan", "-db", db)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "\n# refused: virtual server dns: UDP 192.0.2.53:53 exists in IPVS but was not created by lvsconsole") ||
		strings.Contains(out, "ipvsadm -a -u 192.0.2.53:53") || !strings.Contains(out, "\nipvsadm -A -t 192.0.2.10:80 ") {
		t.Errorf("plan with a foreign service in the way:\n%s", out)
	}
}

// TestPlanWithoutIPVS: on a kernel without IPVS, plan says so and plans
// against an empty table.
func TestPlanWithoutIPVS(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "lvs.db")
	if _, _, err := runCmd(t, "", "import", "-db", db, writeCf(t, dir, 1, 1)); err != nil {
		t.Fatal(err)
	}
	out, _, err := withKernel(t, nil, "plan", "-db", db)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, notServing+"# IPVS is not available in this kernel (load the ip_vs module): this is the plan against an empty table\n"+
		"ipvsadm -A -t 192.0.2.10:80 ") {
		t.Errorf("plan without IPVS:\n%s", out)
	}
	missing := filepath.Join(dir, "missing.db")
	if _, _, err := withKernel(t, nil, "plan", "-db", missing); err == nil || !strings.Contains(err.Error(), "no database") {
		t.Errorf("plan of a missing database: %v", err)
	}
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Error("plan created a database")
	}
}

// TestImportCheckPlans: import -check prints the plan of the file against
// the kernel and the ledger of the database, and changes nothing.
func TestImportCheckPlans(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "lvs.db")
	if _, _, err := runCmd(t, "", "import", "-db", db, writeCf(t, dir, 1, 1)); err != nil {
		t.Fatal(err)
	}
	k := ipvstest.New()
	reconcile(t, db, k)
	src := writeCf(t, dir, 2, 1)
	before := len(k.Requests())
	out, _, err := withKernel(t, k, "import", "-check", "-db", db, src)
	want := src + ": valid: 2 virtual servers\n" +
		"# plan of " + src + " against this director's IPVS table\n" + notServing +
		"ipvsadm -e -t 192.0.2.10:80 -r 10.0.0.1:80 -m -w 2\n"
	if err != nil || out != want {
		t.Errorf("import -check: %v\n%s\nwant\n%s", err, out, want)
	}
	// Nothing was sent, nothing saved.
	for _, r := range k.Requests()[before:] {
		if !reads(r) {
			t.Errorf("import -check sent command %d to the kernel", r.Cmd)
		}
	}
	if out, _, _ := withKernel(t, k, "plan", "-db", db); !strings.Contains(out, "nothing to do") {
		t.Errorf("import -check changed the configuration:\n%s", out)
	}

	// Without a database: nothing is owned, and none is made.
	none := filepath.Join(dir, "none.db")
	out, _, err = withKernel(t, ipvstest.New(), "import", "-check", "-db", none, src)
	if err != nil || !strings.Contains(out, "# health: every active real server taken as up (no database at "+none+")\n") ||
		!strings.Contains(out, "\nipvsadm -A -t 192.0.2.10:80 ") {
		t.Errorf("import -check without a database: %v\n%s", err, out)
	}
	if _, err := os.Stat(none); !errors.Is(err, os.ErrNotExist) {
		t.Error("import -check created a database")
	}
}

// TestExportIpvsadm: export -format ipvsadm writes the table as ipvsadm -Sn
// does (every active real server up), and says what that format leaves
// out; an unknown format is refused by name.
func TestExportIpvsadm(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "lvs.db")
	if _, _, err := runCmd(t, "", "import", "-db", db, writeCf(t, dir, 1, 1)); err != nil {
		t.Fatal(err)
	}
	want := "-A -t 192.0.2.10:80 -s wlc -p 300 -M 255.255.255.0\n" +
		"-a -t 192.0.2.10:80 -r 10.0.0.1:80 -m -w 1\n" +
		"-a -t 192.0.2.10:80 -r 10.0.0.2:8080 -m -w 3\n" +
		"-A -u 192.0.2.53:53 -s rr\n" +
		"-a -u 192.0.2.53:53 -r 10.0.1.1:53 -g -w 1\n"
	out, stderr, err := runCmd(t, "", "export", "-db", db, "-format", "ipvsadm")
	if err != nil || out != want {
		t.Errorf("export -format ipvsadm: %v\n%s\nwant\n%s", err, out, want)
	}
	if !strings.Contains(stderr, "warning: virtual server www, real server 10.0.0.2:8080: its thresholds (-x 100 -y 50) are not part of ipvsadm-save's format") {
		t.Errorf("export -format ipvsadm did not say what it leaves out: %q", stderr)
	}
	file := filepath.Join(dir, "rules")
	if _, _, err := runCmd(t, "", "export", "-db", db, "-format", "ipvsadm", "-o", file); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(file); string(b) != want {
		t.Errorf("export -format ipvsadm -o wrote\n%s", b)
	}
	if out, _, err := runCmd(t, "", "export", "-db", db, "-format", "lvscf"); err != nil || !strings.HasPrefix(out, "serial_no = 5\n") {
		t.Errorf("export -format lvscf: %v\n%s", err, out)
	}
	if _, _, err := runCmd(t, "", "export", "-db", db, "-format", "json"); err == nil ||
		!strings.Contains(err.Error(), `-format: "json" is not a format: use lvscf, ipvsadm or keepalived`) {
		t.Errorf("export -format json: %v", err)
	}
}

// TestPlanAsksServe: with serve running, plan takes its checks' verdicts:
// a real server that answers is planned in, one that does not is left out.
func TestPlanAsksServe(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "lvs.db")
	up, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	go func() {
		for {
			c, err := up.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	downPort := closed.Addr().(*net.TCPAddr).Port
	closed.Close() // nothing listens there any more
	upPort := up.Addr().(*net.TCPAddr).Port
	cf := fmt.Sprintf(`serial_no = 3
primary = 192.168.1.10
service = lvs
network = nat
virtual web {
	active = 1
	address = 192.0.2.80 eth0:1
	port = 80
	scheduler = rr
	check = tcp
	timeout = 0.2
	server up {
		address = 127.0.0.1
		port = %d
		active = 1
		weight = 1
	}
	server down {
		address = 127.0.0.2
		port = %d
		active = 1
		weight = 1
	}
}
`, upPort, downPort)
	src := filepath.Join(dir, "lvs.cf")
	if err := os.WriteFile(src, []byte(cf), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runCmd(t, "", "import", "-db", db, src); err != nil {
		t.Fatal(err)
	}
	startServe(t, db, "-failover=false")

	// Wait for serve's checks to decide both servers.
	deadline := time.Now().Add(20 * time.Second)
	for {
		st, err := fetchLocal(context.Background(), localSocket(db))
		if err == nil && st.Engine != nil && st.Engine.Desired != nil && len(st.Engine.Desired.Services) == 1 {
			s := st.Engine.Desired.Services[0]
			if len(s.Pending) == 0 && len(s.Dests) == 1 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve's checks did not decide: %v %+v", err, st)
		}
		time.Sleep(50 * time.Millisecond) // serve has no event to wait on from here
	}
	out, _, err := withKernel(t, ipvstest.New(), "plan", "-db", db)
	want := "# plan of configuration serial 3 against this director's IPVS table\n" +
		"# health: the checks of the running lvsconsole serve (configuration serial 3); real servers it does not check yet taken as up\n" +
		"ipvsadm -A -t 192.0.2.80:80 -s rr\n" +
		fmt.Sprintf("ipvsadm -a -t 192.0.2.80:80 -r 127.0.0.1:%d -m -w 1\n", upPort)
	if err != nil || out != want {
		t.Errorf("plan with serve running: %v\n%s\nwant\n%s", err, out, want)
	}
}
