package lvscf

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

	"github.com/lvsconsole/lvsconsole/lvs/config"
)

// The fixtures of testdata/piranha are files written for these tests, one
// per behaviour of piranha 0.8.6 that an import must keep; each cites the
// piranha source it follows in its leading comment.

// hostTable resolves the host names of the fixtures, as a DNS server would.
var hostTable = fakeResolver{
	"lb1.example.net":  "192.0.2.10",
	"lb2.example.net":  "192.0.2.11",
	"www.example.net":  "192.0.2.100",
	"web1.example.net": "10.0.0.11",
}

// fakeResolver answers IPv4 lookups from a table and refuses other names
// as a resolver does. Beside it, TestImportResolvesWithTheSystemResolver
// uses the real one.
type fakeResolver map[string]string

func (f fakeResolver) LookupNetIP(_ context.Context, network, host string) ([]netip.Addr, error) {
	if network != "ip4" {
		return nil, fmt.Errorf("asked for %s, piranha resolved IPv4 only", network)
	}
	a, ok := f[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return []netip.Addr{netip.MustParseAddr(a)}, nil
}

func readFixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "piranha", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// importText imports src as the command line and the console do.
func importText(t *testing.T, src string) (*config.Config, []*Warning) {
	t.Helper()
	c, ws, err := Import(context.Background(), strings.NewReader(src), Options{Resolver: hostTable})
	if err != nil {
		t.Fatalf("Import: %v\ninput:\n%s", err, src)
	}
	return c, ws
}

// lineOf is the number of the nth (from 1) line of src containing text.
func lineOf(t *testing.T, src, text string, nth int) int {
	t.Helper()
	for i, line := range strings.Split(src, "\n") {
		if strings.Contains(line, text) {
			if nth--; nth == 0 {
				return i + 1
			}
		}
	}
	t.Fatalf("no line %d containing %q", nth, text)
	return 0
}

// takeWarning removes from ws the warning at line about key whose message
// holds every msg, failing when there is none.
func takeWarning(t *testing.T, ws *[]*Warning, line int, key string, msg ...string) *Warning {
	t.Helper()
	for i, w := range *ws {
		ok := w.Line == line && w.Key == key
		for _, m := range msg {
			ok = ok && strings.Contains(w.Msg, m)
		}
		if ok {
			*ws = append((*ws)[:i], (*ws)[i+1:]...)
			return w
		}
	}
	t.Errorf("no warning at line %d on %q saying %q; warnings:\n%s", line, key, msg, warningText(*ws))
	return nil
}

func warningText(ws []*Warning) string {
	var b strings.Builder
	for _, w := range ws {
		b.WriteString("  " + w.String() + "\n")
	}
	return b.String()
}

func noMoreWarnings(t *testing.T, ws []*Warning) {
	t.Helper()
	if len(ws) != 0 {
		t.Errorf("unexpected warnings:\n%s", warningText(ws))
	}
}

func exported(t *testing.T, c *config.Config) string {
	t.Helper()
	var b bytes.Buffer
	if err := Format(&b, c); err != nil {
		t.Fatalf("Format: %v", err)
	}
	return b.String()
}

// Point 1.
func TestImportNetworkDefaultIsNAT(t *testing.T) {
	c, ws := importText(t, readFixture(t, "network-default.cf"))
	noMoreWarnings(t, ws)
	if c.Global.Network != config.NAT {
		t.Errorf("network = %q, want nat (piranha's default)", c.Global.Network)
	}
	if rs := &c.Virtuals[0].Reals[0]; rs.EffectiveForward(&c.Global) != config.NAT {
		t.Errorf("web1 forwards by %s, want nat", rs.EffectiveForward(&c.Global))
	}
}

// Point 2.
func TestImportZeroMasksAreNotGiven(t *testing.T) {
	src := readFixture(t, "zero-masks.cf")
	c, ws := importText(t, src)
	noMoreWarnings(t, ws)
	web, mail := c.Virtuals[0], c.Virtuals[1]
	for what, m := range map[string]config.Netmask{
		"vip_nmask": web.Netmask, "pmask": web.PersistenceNetmask, "nat_nmask": c.Global.NATNetmask,
	} {
		if m.IsSet() {
			t.Errorf("%s = 0.0.0.0 became %v, want not given", what, m)
		}
	}
	if web.SorryServer.IsValid() {
		t.Errorf("sorry_server = 0.0.0.0 became %v, want none", web.SorryServer)
	}
	if mail.PersistenceNetmask != config.MaskBits(32) {
		t.Errorf("pmask = 255.255.255.255 became %v, want /32 (the kernel's default, which piranha meant)", mail.PersistenceNetmask)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	out := exported(t, c)
	for _, key := range []string{"vip_nmask", "nat_nmask", "sorry_server", "pmask = 0"} {
		if strings.Contains(out, key) {
			t.Errorf("the export writes %s although it was not given:\n%s", key, out)
		}
	}
}

// Point 4.
func TestImportSyncDaemonOnEth0(t *testing.T) {
	c, ws := importText(t, readFixture(t, "syncdaemon.cf"))
	noMoreWarnings(t, ws)
	if r := c.Redundancy; !r.SyncDaemon || r.SyncIface != "eth0" || r.SyncID != 0 {
		t.Errorf("sync daemon %v on %q id %d, want on eth0 id 0", r.SyncDaemon, r.SyncIface, r.SyncID)
	}
}

// Point 5.
func TestImportDuplicateKeysLastWins(t *testing.T) {
	src := readFixture(t, "duplicate-keys.cf")
	c, ws := importText(t, src)
	if !c.Redundancy.BackupActive || c.Global.Service != "lvs" {
		t.Errorf("backup_active %v service %q, want the last values 1 and lvs", c.Redundancy.BackupActive, c.Global.Service)
	}
	vs := c.Virtuals[0]
	if vs.Port != 80 || vs.Reals[0].Weight != 3 {
		t.Errorf("port %d weight %d, want the last values 80 and 3", vs.Port, vs.Reals[0].Weight)
	}
	for _, d := range []struct {
		key, first, last string
		n1, n2           int
	}{
		{"backup_active", "backup_active = 0", "backup_active = 1", 1, 1},
		{"service", "service = lvs", "service = lvs", 1, 2},
		{"port", "port = 8080", "port = 80", 1, 2},
		{"weight", "weight = 1", "weight = 3", 1, 1},
	} {
		first, last := lineOf(t, src, d.first, d.n1), lineOf(t, src, d.last, d.n2)
		takeWarning(t, &ws, last, d.key, "given twice", fmt.Sprintf("line %d", first), fmt.Sprintf("line %d", last), "last")
	}
	noMoreWarnings(t, ws)
}

// Point 6.
func TestImportPiranhaOnlyKeys(t *testing.T) {
	src := readFixture(t, "piranha-keys.cf")
	c, ws := importText(t, src)
	if len(c.Virtuals) != 1 || c.Virtuals[0].Name != "web" {
		t.Fatalf("virtual servers %+v, want web alone (the failover service is dropped)", c.Virtuals)
	}
	for _, k := range []struct{ key, why string }{
		{"primary_shared", "SCSI"},
		{"backup_shared", "SCSI"},
		{"reservation_conflict_action", "SCSI"},
		{"ipvsadm", "netlink"},
		{"sync", "never read"},
		{"client_monitor", "nanny"},
		{"master", "never read"},
		{"dirs", "never read"},
	} {
		takeWarning(t, &ws, lineOf(t, src, k.key+" =", 1), k.key, "dropped", k.why, "no effect")
	}
	head, end := lineOf(t, src, "failover ftp {", 1), strings.Count(src, "\n")
	takeWarning(t, &ws, head, "failover", "failover ftp", fmt.Sprintf("lines %d-%d", head, end), "dropped", "service = fos")
	noMoreWarnings(t, ws)

	// Values piranha refused stay refused.
	for _, bad := range []struct{ line, key, want string }{
		{"reservation_conflict_action = reboot", "reservation_conflict_action", "nothing or preempt"},
		{"sync = 2", "sync", "not a boolean"},
	} {
		_, _, err := Import(context.Background(), strings.NewReader(bad.line+"\n"), Options{})
		var es Errors
		if !errors.As(err, &es) || len(es) != 1 || es[0].Key != bad.key || !strings.Contains(es[0].Msg, bad.want) {
			t.Errorf("%s: %v, want one error on %s saying %q", bad.line, err, bad.key, bad.want)
		}
	}
}

// Point 7.
func TestImportHeartbeatTimingWithoutBackup(t *testing.T) {
	src := readFixture(t, "heartbeat-off.cf")
	c, ws := importText(t, src)
	w := takeWarning(t, &ws, lineOf(t, src, "deadtime =", 1), "deadtime", "must be longer than keepalive")
	noMoreWarnings(t, ws)
	if c.Redundancy.Deadtime != 6*time.Second {
		t.Errorf("deadtime %v, want 6s kept", c.Redundancy.Deadtime)
	}
	// With a backup the same file is refused, with the same words.
	on := strings.Replace(src, "backup_active = 0\nbackup = 0.0.0.0", "backup_active = 1\nbackup = 192.0.2.11", 1)
	_, _, err := Import(context.Background(), strings.NewReader(on), Options{})
	var es Errors
	if !errors.As(err, &es) || len(es) != 1 || es[0].Key != "deadtime" || w == nil || es[0].Msg != w.Msg {
		t.Errorf("with backup_active = 1: %v, want the deadtime refused as warned (%v)", err, w)
	}
}

// Point 8.
func TestImportDrafts(t *testing.T) {
	src := readFixture(t, "drafts.cf")
	c, ws := importText(t, src)
	addr := takeWarning(t, &ws, lineOf(t, src, "virtual unfinished {", 1), "address", "is required")
	port := takeWarning(t, &ws, lineOf(t, src, "server m1 {", 1), "port", "no port to inherit")
	noMoreWarnings(t, ws)
	if addr == nil || port == nil {
		return
	}
	// ACTIVATE refuses each with the message the import warned with.
	for i, w := range map[int]*Warning{0: addr, 1: port} {
		a := c.Clone()
		a.Virtuals[i].Active = true
		var ve *config.ValidationError
		if err := a.Validate(); !errors.As(err, &ve) || len(ve.Fields) != 1 || ve.Fields[0].Msg != w.Msg {
			t.Errorf("activating %s: %v, want %q", a.Virtuals[i].Name, err, w.Msg)
		}
	}
}

// Point 9.
func TestImportHostNames(t *testing.T) {
	src := readFixture(t, "hostnames.cf")
	c, ws := importText(t, src)
	ip := netip.MustParseAddr
	if c.Global.Primary != ip("192.0.2.10") || c.Redundancy.Backup != ip("192.0.2.11") ||
		c.Virtuals[0].Address != ip("192.0.2.100") || c.Virtuals[0].Device != "eth0:1" ||
		c.Virtuals[0].Reals[0].Address != ip("10.0.0.11") {
		t.Errorf("addresses %v %v %v %q %v", c.Global.Primary, c.Redundancy.Backup, c.Virtuals[0].Address,
			c.Virtuals[0].Device, c.Virtuals[0].Reals[0].Address)
	}
	for _, h := range []struct{ key, name, addr string }{
		{"primary", "lb1.example.net", "192.0.2.10"},
		{"backup", "lb2.example.net", "192.0.2.11"},
		{"address", "www.example.net", "192.0.2.100"},
		{"address", "web1.example.net", "10.0.0.11"},
	} {
		takeWarning(t, &ws, lineOf(t, src, h.name, 1), h.key, h.name, "resolved to "+h.addr, "stored")
	}
	noMoreWarnings(t, ws)

	// A name that does not resolve is an error naming the key and the name.
	bad := strings.Replace(src, "web1.example.net", "web9.example.net", 1)
	_, _, err := Import(context.Background(), strings.NewReader(bad), Options{Resolver: hostTable})
	var es Errors
	if !errors.As(err, &es) || len(es) != 1 || es[0].Key != "address" || es[0].Line != lineOf(t, bad, "web9", 1) ||
		!strings.Contains(es[0].Msg, `"web9.example.net"`) || !strings.Contains(es[0].Msg, "does not resolve") {
		t.Errorf("unresolvable name: %v", err)
	}
	// Without a resolver (the peer's copy) a name is refused, not looked up.
	if _, err := Parse(strings.NewReader(src)); err == nil || !strings.Contains(err.Error(), "host name") {
		t.Errorf("Parse without a resolver: %v", err)
	}
}

// The system's resolver, for real: localhost is in every /etc/hosts.
func TestImportResolvesWithTheSystemResolver(t *testing.T) {
	src := "virtual v {\n     address = 192.0.2.1 eth0:1\n     server local {\n         address = localhost\n     }\n}\n"
	c, ws, err := Import(context.Background(), strings.NewReader(src), Options{Resolver: net.DefaultResolver})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Virtuals[0].Reals[0].Address; got != netip.MustParseAddr("127.0.0.1") {
		t.Errorf("localhost resolved to %v", got)
	}
	takeWarning(t, &ws, 4, "address", `"localhost" resolved to 127.0.0.1`)
	noMoreWarnings(t, ws)
}

// A real server's default port is its virtual server's port as it stood
// when the server's block began.
func TestImportRealServerPorts(t *testing.T) {
	src := readFixture(t, "port-order.cf")
	c, ws := importText(t, src)
	late, marked := c.Virtuals[0], c.Virtuals[1]
	if late.Port != 8080 || late.Reals[0].EffectivePort(&late) != 80 || late.Reals[1].EffectivePort(&late) != 8080 {
		t.Errorf("late: port %d, early %d, after %d; want 8080, 80, 8080",
			late.Port, late.Reals[0].EffectivePort(&late), late.Reals[1].EffectivePort(&late))
	}
	takeWarning(t, &ws, lineOf(t, src, "server early {", 1), "port", "80", fmt.Sprintf("line %d", lineOf(t, src, "port = 8080", 1)))
	noMoreWarnings(t, ws)
	if marked.Port != 80 || marked.Reals[0].Port != 80 {
		t.Errorf("firewall-mark service: port %d, its real server's %d; want piranha's 80 for both", marked.Port, marked.Reals[0].Port)
	}
}

// Every fixture survives a round trip: import(export(import(file))) gives
// the same model, and the export means to piranha what the file meant.
func TestImportRoundTripPiranhaFixtures(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "piranha", "*.cf"))
	if len(files) < 12 {
		t.Fatalf("testdata/piranha has only %v", files)
	}
	resolve := func(name string) (string, error) {
		a, err := hostTable.LookupNetIP(context.Background(), "ip4", name)
		if err != nil {
			return "", err
		}
		return a[0].String(), nil
	}
	for _, name := range files {
		t.Run(filepath.Base(name), func(t *testing.T) {
			src := readFixture(t, filepath.Base(name))
			c, _ := importText(t, src)
			out := exported(t, c)
			again, ws := importText(t, out)
			assertEqual(t, again, c)
			for _, w := range ws {
				if w.Key != "address" && w.Key != "port" && w.Key != "deadtime" {
					t.Errorf("the export draws a warning the file did not: %v", w)
				}
			}
			before, err := piranhaMeaning(src, resolve)
			if err != nil {
				t.Fatalf("the fixture itself: %v", err)
			}
			after, err := piranhaMeaning(out, resolve)
			if err != nil {
				t.Fatalf("the export: %v\n%s", err, out)
			}
			for k, v := range before {
				if after[k] != v {
					t.Errorf("to piranha, %s was %q and the export makes it %q", k, v, after[k])
				}
			}
			for k, v := range after {
				if _, ok := before[k]; !ok {
					t.Errorf("to piranha, the export adds %s = %q", k, v)
				}
			}
		})
	}
}

// backup_active = 1 without a backup address is a director alone, as
// piranha's pulse made it.
func TestImportBackupActiveWithoutBackup(t *testing.T) {
	src := readFixture(t, "backup-undefined.cf")
	c, ws := importText(t, src)
	if c.Redundancy.BackupActive {
		t.Error("backup_active stays on without a backup")
	}
	takeWarning(t, &ws, lineOf(t, src, "backup_active =", 2), "backup_active", "no backup address", "alone", "backup_active = 0")
	noMoreWarnings(t, ws)
}

// nanny ran a load_monitor of ssh or rsh as "ssh ADDRESS uptime"
// (nanny.c getRemoteLoad): such files mean the uptime monitor. Every
// other value of piranha's is its own monitor; an unknown one is refused.
func TestImportLoadMonitors(t *testing.T) {
	file := func(v string) string {
		return "serial_no = 1\nprimary = 192.0.2.1\nservice = lvs\nnetwork = direct\n" +
			"virtual web {\n active = 0\n address = 192.0.2.10 eth0:1\n port = 80\n load_monitor = " + v + "\n}\n"
	}
	for _, v := range []string{"none", "rup", "ruptime", "uptime", "ssh", "rsh"} {
		c, ws := importText(t, file(v))
		want := v
		if v == "ssh" || v == "rsh" {
			want = "uptime"
			takeWarning(t, &ws, 9, "load_monitor", "read as uptime", v+" ADDRESS uptime")
		}
		if got := c.Virtuals[0].LoadMonitor; got != want {
			t.Errorf("load_monitor = %s: read as %q, want %q", v, got, want)
		}
		noMoreWarnings(t, ws)
	}
	if _, err := Parse(strings.NewReader(file("telnet"))); err == nil || !strings.Contains(err.Error(), "none, rup, ruptime, uptime, agent or feedback") {
		t.Errorf("load_monitor = telnet: %v, want a refusal naming the monitors", err)
	}
}
