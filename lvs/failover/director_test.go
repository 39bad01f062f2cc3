package failover_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/lvs/failover"
	"github.com/lvsconsole/lvsconsole/lvs/lvscf"
	"github.com/lvsconsole/lvsconsole/lvs/pulse"
	"github.com/lvsconsole/lvsconsole/store"
)

// These tests run a Director over a real database in a temporary
// directory, with fakes of the host (fakes_test.go) in place of its
// addresses, the IPVS sync daemon and the heartbeat, and real commands
// (/usr/bin/touch). They need no root; pair_test.go runs the same logic in
// real `lvsconsole serve` processes in network namespaces.

const (
	rigPrimary = "10.60.0.1"
	rigBackup  = "10.60.0.2"
	rigVIP     = "10.60.0.10/24 on eth0 label eth0:1"
	rigVIP2    = "10.60.0.11/24 on eth0 label eth0:2"
	rigRouter  = "10.60.1.254/24 on eth1 label eth1:1"
)

// cfOpts are what the tests change in the configuration.
type cfOpts struct {
	solo         bool   // no backup director
	network      string // "" is direct
	monitorLinks bool
	syncd        bool  // the connection sync daemon on eth0, id 7
	second       bool  // a second virtual server, on 10.60.0.11
	serial       int64 // serial_no; 0 is 1
	weight       int   // web1's; 0 is 1
	noSecret     bool  // not lvs.cf: newRig sets no peer secret
}

// rig is a Director with fakes of the host and a real store.
type rig struct {
	t     *testing.T
	dir   string
	st    *store.Store
	j     *journal
	host  *fakeHost
	ipvs  *fakeIPVS
	pulse *fakePulse
	logs  *syncBuffer
	d     *failover.Director
	// serial is the configuration's when the rig was made (the store
	// starts at 1, so it is 2).
	serial int64

	// tweak, if set, changes the options before start.
	tweak func(o *failover.Options)

	cancel context.CancelFunc
	done   chan error
}

// newRig saves the configuration o and a peer secret in a new store; the
// host holds own (the primary's address, or the backup's).
func newRig(t *testing.T, o cfOpts, own string) *rig {
	t.Helper()
	ctx := context.Background()
	r := &rig{t: t, dir: t.TempDir(), j: &journal{}, logs: &syncBuffer{}}
	st, err := store.Open(ctx, filepath.Join(r.dir, "lvs.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	r.st = st
	r.serial = r.save(o)
	if !o.noSecret {
		if err := st.SetPeerSecret(ctx, bytes.Repeat([]byte("k"), 32)); err != nil {
			t.Fatal(err)
		}
	}
	r.host = newFakeHost(r.j, netip.MustParseAddr(own))
	r.ipvs = newFakeIPVS(r.j)
	r.pulse = &fakePulse{j: r.j}
	return r
}

// cf is o as lvs.cf; the commands touch "active" and "standby" in r.dir.
func (r *rig) cf(o cfOpts) string {
	var b strings.Builder
	if o.serial == 0 {
		o.serial = 1
	}
	if o.weight == 0 {
		o.weight = 1
	}
	if o.network == "" {
		o.network = "direct"
	}
	bit := func(v bool) int {
		if v {
			return 1
		}
		return 0
	}
	fmt.Fprintf(&b, "serial_no = %d\nprimary = %s\nservice = lvs\nnetwork = %s\n", o.serial, rigPrimary, o.network)
	if o.network == "nat" {
		b.WriteString("nat_router = 10.60.1.254 eth1:1\nnat_nmask = 255.255.255.0\n")
	}
	if !o.solo {
		fmt.Fprintf(&b, "backup_active = 1\nbackup = %s\nheartbeat = 1\nheartbeat_port = 539\nkeepalive = 1\ndeadtime = 3\n", rigBackup)
	}
	fmt.Fprintf(&b, "monitor_links = %d\n", bit(o.monitorLinks))
	if o.syncd {
		b.WriteString("syncdaemon = 1\nsyncd_iface = eth0\nsyncd_id = 7\n")
	}
	fmt.Fprintf(&b, "active_cmd = \"/usr/bin/touch %s\"\ninactive_cmd = \"/usr/bin/touch %s\"\n",
		filepath.Join(r.dir, "active"), filepath.Join(r.dir, "standby"))
	virtual := func(name, addr, dev string) {
		fmt.Fprintf(&b, "virtual %s {\n active = 1\n address = %s %s\n vip_nmask = 255.255.255.0\n port = 80\n scheduler = wlc\n"+
			" server web1 {\n  address = 10.60.1.200\n  active = 1\n  weight = %d\n }\n}\n", name, addr, dev, o.weight)
	}
	virtual("web", "10.60.0.10", "eth0:1")
	if o.second {
		virtual("www", "10.60.0.11", "eth0:2")
	}
	return b.String()
}

// save replaces the configuration with o's.
func (r *rig) save(o cfOpts) int64 {
	r.t.Helper()
	cfg, err := lvscf.Parse(strings.NewReader(r.cf(o)))
	if err != nil {
		r.t.Fatalf("the test's lvs.cf: %v\n%s", err, r.cf(o))
	}
	saved, err := r.st.Replace(context.Background(), store.Change{Role: store.ScopeAdmin, Author: "test", Elevated: true}, cfg)
	if err != nil {
		r.t.Fatal(err)
	}
	return saved.Serial
}

func (r *rig) options() failover.Options {
	return failover.Options{
		Source:         r.st,
		Addresses:      r.host.Open,
		Announce:       r.host.Announce,
		WatchLinks:     r.host.WatchLinks,
		Forwarding:     r.host.Forwarding,
		SyncDaemon:     r.ipvs.Dial,
		Heartbeat:      r.pulse.New,
		Log:            slog.New(slog.NewTextHandler(r.logs, nil)),
		ConsolePort:    3636,
		Announcements:  2,
		AnnounceEvery:  time.Millisecond,
		CommandTimeout: 10 * time.Second,
	}
}

// start runs the Director; it is stopped at the end of the test.
func (r *rig) start() {
	r.t.Helper()
	o := r.options()
	if r.tweak != nil {
		r.tweak(&o)
	}
	r.d = failover.New(o)
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel, r.done = cancel, make(chan error, 1)
	go func() { r.done <- r.d.Run(ctx) }()
	r.t.Cleanup(func() {
		if r.cancel != nil {
			r.stop()
		}
	})
}

// stop stops the Director and returns what Run returned.
func (r *rig) stop() error {
	r.t.Helper()
	r.cancel()
	r.cancel = nil
	select {
	case err := <-r.done:
		return err
	case <-time.After(30 * time.Second):
		r.t.Fatalf("Run did not return 30 s after it was stopped; the journal:\n%s", r.j)
		return nil
	}
}

// node waits for the heartbeat to run and returns it.
func (r *rig) node() *fakeHeartbeat {
	r.t.Helper()
	waitFor(r.t, 10*time.Second, "the heartbeat running", func() bool {
		n := r.pulse.node()
		if n == nil {
			return false
		}
		_, _, running := n.state()
		return running
	})
	return r.pulse.node()
}

// await waits for the journal to hold entry after mark.
func (r *rig) await(mark int, entry string) {
	r.t.Helper()
	waitFor(r.t, 10*time.Second, fmt.Sprintf("%q in the journal:\n%s\n", entry, r.j), func() bool { return r.j.index(mark, entry) >= 0 })
}

// awaitFile waits for a command to touch name in r.dir.
func (r *rig) awaitFile(name string) {
	r.t.Helper()
	waitFor(r.t, 10*time.Second, name+" touched by its command", func() bool {
		_, err := os.Stat(filepath.Join(r.dir, name))
		return err == nil
	})
}

func (r *rig) exists(name string) bool {
	_, err := os.Stat(filepath.Join(r.dir, name))
	return err == nil
}

func (r *rig) role() failover.Role { return r.d.Status().Role }

// active makes the primary active through its heartbeat, with the backup
// heard standing by, and waits until it has taken over.
func (r *rig) active() *fakeHeartbeat {
	r.t.Helper()
	n := r.node()
	n.decide(pulse.Active, pulse.Standby, r.serial)
	r.await(0, "add "+rigVIP)
	r.awaitFile("active")
	return n
}

// TestDirectorNeedsItsOptions: a Director missing a way to reach the host
// says which, and touches nothing.
func TestDirectorNeedsItsOptions(t *testing.T) {
	r := newRig(t, cfOpts{}, rigPrimary)
	o := r.options()
	o.Announce, o.Heartbeat = nil, nil
	err := failover.New(o).Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "Announce, Heartbeat") {
		t.Errorf("Run without Announce and Heartbeat: %v, want an error naming both", err)
	}
	if got := r.j.all(); len(got) != 0 {
		t.Errorf("it did %q", got)
	}
}

// TestDirectorTakesOver: when pulse says active, the VIPs go up on their
// devices with their labels, are announced Announcements times, the sync
// daemon runs as master (only), and active_cmd runs; the heartbeat is set
// up from the configuration.
func TestDirectorTakesOver(t *testing.T) {
	r := newRig(t, cfOpts{syncd: true}, rigPrimary)
	r.start()
	n := r.node()
	if got := n.current(); got.Self != netip.MustParseAddr(rigPrimary) || got.Peer != netip.MustParseAddr(rigBackup) ||
		!got.Primary || got.Console != 3636 || got.Port != 539 || got.Deadtime != 3*time.Second {
		t.Errorf("heartbeat settings %+v", got)
	}
	if r.role() != failover.Starting || r.j.since(0, "add") != nil || r.exists("active") {
		t.Fatalf("before pulse decides: role %s, journal:\n%s", r.role(), r.j)
	}

	n.decide(pulse.Active, pulse.Standby, r.serial)
	r.awaitFile("active")
	waitFor(t, 10*time.Second, "two announcements", func() bool { return len(r.j.since(0, "announce")) == 2 })
	if got := r.j.since(0, "add"); !slices.Equal(got, []string{"add " + rigVIP}) {
		t.Errorf("addresses added: %q", got)
	}
	if !r.host.isUp("10.60.0.10/24") {
		t.Error("the VIP is not up")
	}
	if got := r.j.since(0, "announce"); !slices.Equal(got, []string{"announce 10.60.0.10 on eth0", "announce 10.60.0.10 on eth0"}) {
		t.Errorf("announcements: %q", got)
	}
	if got := r.ipvs.running(); !slices.Equal(got, []string{"master on eth0"}) {
		t.Errorf("sync daemons %q, want the master on eth0", got)
	}
	if r.ipvs.conns() != 0 {
		t.Errorf("%d connections to IPVS left open", r.ipvs.conns())
	}
	st := r.d.Status()
	if st.Role != failover.Active || !st.Pair || !st.Primary || !slices.Equal(st.VIPs, []string{rigVIP}) || len(st.Warnings) != 0 {
		t.Errorf("status %+v", st)
	}
	if ev := r.d.Events(1); len(ev) != 1 || ev[0].From != failover.Starting || ev[0].To != failover.Active {
		t.Errorf("events %+v", ev)
	}
	if r.exists("standby") {
		t.Error("inactive_cmd ran")
	}
}

// TestDirectorStandsDown: an active director that pulse makes standby
// takes its VIPs down, stops announcing them, moves the sync daemon to
// backup and runs inactive_cmd.
func TestDirectorStandsDown(t *testing.T) {
	r := newRig(t, cfOpts{syncd: true}, rigPrimary)
	r.start()
	n := r.active()
	mark := r.j.len()
	n.decide(pulse.Standby, pulse.Active, r.serial)
	r.awaitFile("standby")
	r.await(mark, "del "+rigVIP)
	if r.host.isUp("10.60.0.10/24") {
		t.Error("the VIP is still up")
	}
	if got := r.j.since(mark, "syncd"); !slices.Equal(got, []string{"syncd stop master", "syncd start backup on eth0 id 7"}) {
		t.Errorf("sync daemon moves: %q", got)
	}
	st := r.d.Status()
	if st.Role != failover.Standby || len(st.VIPs) != 0 {
		t.Errorf("status %+v", st)
	}
}

// TestDirectorRestart: a director that starts where a predecessor left
// the VIP up (killed while active) leaves it while pulse has not decided
// (a restart of the active director keeps its addresses), and takes it
// down when pulse makes it standby, though it never brought it up.
func TestDirectorRestart(t *testing.T) {
	r := newRig(t, cfOpts{second: true}, rigPrimary)
	r.host.bringUp("10.60.0.10/24")
	r.start()
	n := r.node()
	// Let the director take a configuration change while undecided: it
	// still touches no address.
	serial := r.save(cfOpts{second: true, weight: 2})
	waitFor(t, 10*time.Second, "the change taken", func() bool { s, _, _ := n.state(); return s == serial })
	if got := r.j.since(0, "del"); got != nil {
		t.Fatalf("undecided, the director took addresses down: %q", got)
	}
	if !r.host.isUp("10.60.0.10/24") {
		t.Fatal("the VIP the predecessor left went down")
	}

	n.decide(pulse.Standby, pulse.Active, serial)
	r.awaitFile("standby")
	r.await(0, "del "+rigVIP)
	r.await(0, "del "+rigVIP2)
	if r.host.isUp("10.60.0.10/24") {
		t.Error("the predecessor's VIP is still up")
	}
}

// TestDirectorVIPsFollowConfiguration: while active, a virtual server
// added comes up and is announced, one removed goes down; a standby
// brings none up.
func TestDirectorVIPsFollowConfiguration(t *testing.T) {
	r := newRig(t, cfOpts{}, rigPrimary)
	r.start()
	r.active()
	mark := r.j.len()
	r.save(cfOpts{second: true})
	r.await(mark, "add "+rigVIP2)
	r.await(mark, "announce 10.60.0.11 on eth0")
	mark = r.j.len()
	r.save(cfOpts{})
	r.await(mark, "del "+rigVIP2)
	if r.host.isUp("10.60.0.11/24") || !r.host.isUp("10.60.0.10/24") {
		t.Errorf("after removing www: %q", r.j.since(mark, ""))
	}
	if st := r.d.Status(); !slices.Equal(st.VIPs, []string{rigVIP}) {
		t.Errorf("status VIPs %q", st.VIPs)
	}
}

// TestDirectorAnnouncesOnlyWhatIsUp: an address is never announced once
// it went down (a gratuitous ARP for it would draw its traffic back from
// the peer that now holds it): not one removed from the configuration
// while the addresses brought up with it are still being announced
// (their announcements go on), nor any after standing down.
func TestDirectorAnnouncesOnlyWhatIsUp(t *testing.T) {
	r := newRig(t, cfOpts{second: true}, rigPrimary)
	r.tweak = func(o *failover.Options) { o.Announcements, o.AnnounceEvery = 100000, time.Millisecond }
	r.start()
	n := r.active()
	r.await(0, "announce 10.60.0.11 on eth0")

	r.save(cfOpts{})
	r.await(0, "del "+rigVIP2)
	gone := r.j.index(0, "del "+rigVIP2)
	waitFor(t, 10*time.Second, "10.60.0.10 announced twice more", func() bool {
		return len(r.j.since(gone, "announce 10.60.0.10 on eth0")) >= 2
	})
	if got := r.j.since(gone, "announce 10.60.0.11"); got != nil {
		t.Errorf("after 10.60.0.11 was removed: %q", got[:1])
	}

	n.decide(pulse.Standby, pulse.Active, r.serial)
	r.await(gone, "del "+rigVIP)
	r.awaitFile("standby")
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	if got := r.j.since(r.j.index(gone, "del "+rigVIP), "announce"); got != nil {
		t.Errorf("after standing down: %q", got[:1])
	}
}

// TestDirectorSolo: without a backup the director is active at once and
// runs no heartbeat.
func TestDirectorSolo(t *testing.T) {
	r := newRig(t, cfOpts{solo: true}, rigPrimary)
	r.start()
	r.await(0, "add "+rigVIP)
	r.awaitFile("active")
	if st := r.d.Status(); st.Role != failover.Active || st.Pair {
		t.Errorf("status %+v", st)
	}
	if r.pulse.node() != nil {
		t.Error("a heartbeat was made")
	}
}

// TestDirectorPairChanges: a standby whose configuration loses the backup
// stops the heartbeat (its goodbye) and is active at once; given a backup
// again, it runs a heartbeat and keeps its addresses until pulse decides.
func TestDirectorPairChanges(t *testing.T) {
	r := newRig(t, cfOpts{}, rigPrimary)
	r.start()
	n := r.node()
	n.decide(pulse.Standby, pulse.Active, r.serial)
	r.awaitFile("standby")

	mark := r.j.len()
	r.save(cfOpts{solo: true})
	r.await(mark, "add "+rigVIP)
	if bye, add := r.j.index(mark, "heartbeat goodbye"), r.j.index(mark, "add "+rigVIP); bye < 0 || bye > add {
		t.Errorf("alone, it did:\n%s\nwant the heartbeat stopped before the VIP came up", strings.Join(r.j.since(mark, ""), "\n"))
	}
	r.awaitFile("active")
	if st := r.d.Status(); st.Role != failover.Active || st.Pair {
		t.Errorf("status %+v", st)
	}

	mark = r.j.len()
	r.save(cfOpts{})
	r.await(mark, "heartbeat run")
	if r.pulse.node() == n {
		t.Fatal("the stopped heartbeat was run again")
	}
	if got := r.j.since(mark, "del"); got != nil || r.role() != failover.Active {
		t.Errorf("a pair again, undecided: role %s, %q", r.role(), got)
	}
}

// TestDirectorWithoutSecret: a pair member without a peer secret stays as
// it is, runs no heartbeat, and says why.
func TestDirectorWithoutSecret(t *testing.T) {
	r := newRig(t, cfOpts{noSecret: true}, rigPrimary)
	r.start()
	waitFor(t, 10*time.Second, "a warning", func() bool { return warning(r.d, "no peer secret") != "" })
	st := r.d.Status()
	if st.Role != failover.Starting || st.Reason != "no peer secret" || r.pulse.node() != nil || len(r.j.all()) != 0 {
		t.Errorf("role %s (%s), journal:\n%s", st.Role, st.Reason, r.j)
	}
	if ev := r.d.Events(10); len(ev) != 0 {
		t.Errorf("events %+v: the role did not change", ev)
	}
	if err := r.stop(); err != nil {
		t.Error(err)
	}
	if got := r.j.all(); len(got) != 0 {
		t.Errorf("stopping it did %q", got)
	}
}

// TestDirectorMonitorLinks: with monitor_links, a link down on a VIP's
// device tells pulse (which makes the director stand by) and warns; its
// return tells pulse too; a link no VIP uses is not watched.
func TestDirectorMonitorLinks(t *testing.T) {
	r := newRig(t, cfOpts{monitorLinks: true}, rigPrimary)
	r.start()
	n := r.active()
	waitFor(t, 10*time.Second, "links watched", r.host.watching)

	mark := r.j.len()
	r.host.setLink("eth1", false) // no VIP on it
	r.host.setLink("eth0", false)
	r.await(mark, "heartbeat link false")
	if w := warning(r.d, "link down on eth0", "standby"); w == "" || strings.Contains(w, "eth1") {
		t.Errorf("warnings %q", r.d.Status().Warnings)
	}
	// What pulse does with a link down.
	n.decide(pulse.Standby, pulse.Active, r.serial)
	r.await(mark, "del "+rigVIP)

	mark = r.j.len()
	r.host.setLink("eth0", true)
	r.await(mark, "heartbeat link true")
	waitFor(t, 10*time.Second, "the warning gone", func() bool { return warning(r.d, "link down") == "" })
}

// TestDirectorLinkDownAtStart: a link already down when the director
// starts keeps pulse from making it active.
func TestDirectorLinkDownAtStart(t *testing.T) {
	r := newRig(t, cfOpts{monitorLinks: true}, rigPrimary)
	r.host.setLink("eth0", false)
	r.start()
	n := r.node()
	waitFor(t, 10*time.Second, "pulse told", func() bool { _, link, _ := n.state(); return !link })
	waitFor(t, 10*time.Second, "the warning", func() bool { return warning(r.d, "link down on eth0") != "" })
}

// TestDirectorForwardingWarning: NAT without IP forwarding is said (and
// nothing else is held up: the NAT router address comes up with the VIP);
// turning it on and saving clears it; direct routing does not need it.
func TestDirectorForwardingWarning(t *testing.T) {
	r := newRig(t, cfOpts{network: "nat"}, rigPrimary)
	r.host.setForwarding(true, false)
	r.start()
	waitFor(t, 10*time.Second, "the warning", func() bool { return warning(r.d, "net.ipv4.ip_forward", "NAT") != "" })
	if w := warning(r.d, "NAT"); strings.Contains(w, "ipv6") {
		t.Errorf("the warning names IPv6, which no virtual server uses: %q", w)
	}
	r.node().decide(pulse.Active, pulse.Standby, r.serial)
	r.await(0, "add "+rigRouter)
	r.await(0, "add "+rigVIP)

	r.host.setForwarding(true, true)
	r.save(cfOpts{network: "nat", weight: 2})
	waitFor(t, 10*time.Second, "the warning gone", func() bool { return warning(r.d, "NAT") == "" })

	r.host.setForwarding(true, false)
	r.save(cfOpts{network: "direct"})
	waitFor(t, 10*time.Second, "the NAT router down", func() bool { return r.j.index(0, "del "+rigRouter) >= 0 })
	if w := warning(r.d, "NAT"); w != "" {
		t.Errorf("direct routing warns %q", w)
	}
}

// TestDirectorSyncDaemonUnavailable: a kernel without IPVS is a warning
// that names the role the daemon could not take; the VIPs go up anyway.
func TestDirectorSyncDaemonUnavailable(t *testing.T) {
	r := newRig(t, cfOpts{syncd: true}, rigPrimary)
	r.ipvs.err = errors.New("generic netlink family IPVS not found")
	r.start()
	r.active()
	waitFor(t, 10*time.Second, "the warning", func() bool {
		return warning(r.d, "sync daemon as master", "IPVS not found") != ""
	})
}

// peerConsole is the active director's console as the standby sees it:
// it answers the configuration request as handlers does.
func peerConsole(t *testing.T, secret []byte, cf string, active *store.Store) (addr netip.AddrPort, requests func() int) {
	t.Helper()
	v := failover.NewVerifier()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path == failover.ConfigPath {
			n.Add(1) // the configuration's requests, refused or not
		}
		q, err := v.Verify(req, secret, time.Now())
		switch {
		case err != nil:
			http.Error(w, "unauthorized", http.StatusUnauthorized)
		case req.URL.Path == failover.ConfigPath:
			w.Write(failover.SealAnswer(secret, q, []byte(cf)))
		case req.URL.Path == failover.AccountsPath && active != nil:
			a, err := active.Accounts(req.Context())
			if err != nil {
				t.Error(err)
			}
			b, _ := json.Marshal(a)
			w.Write(failover.SealAnswer(secret, q, b))
		default:
			http.NotFound(w, req)
		}
	}))
	t.Cleanup(srv.Close)
	return netip.MustParseAddrPort(srv.Listener.Addr().String()), func() int { return int(n.Load()) }
}

// TestDirectorStandbyFetches: a standby that hears the active at a higher
// serial takes its configuration, at its serial, and tells pulse; one at
// the same serial is not asked. The standby takes the active's users and
// tokens as well, at once and then on its own: a user added on the active
// logs in on the standby.
func TestDirectorStandbyFetches(t *testing.T) {
	r := newRig(t, cfOpts{}, rigBackup)
	ctx := context.Background()
	active, err := store.Open(ctx, filepath.Join(r.dir, "active.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { active.Close() })
	if err := active.SetPassword(ctx, "root", "the active's root"); err != nil {
		t.Fatal(err)
	}
	if err := r.st.SetPassword(ctx, "root", "the standby's root"); err != nil {
		t.Fatal(err)
	}
	peer, requests := peerConsole(t, bytes.Repeat([]byte("k"), 32), r.cf(cfOpts{serial: 9, weight: 5}), active)
	r.tweak = func(o *failover.Options) { o.AccountsEvery = 20 * time.Millisecond }
	r.start()
	n := r.node()
	if s := n.current(); s.Primary || s.Self != netip.MustParseAddr(rigBackup) {
		t.Errorf("the backup's heartbeat settings %+v", s)
	}
	standby := func(peerSerial int64) {
		n.set(func(st *pulse.Status) {
			st.Decided, st.Role = true, pulse.Standby
			st.Peer = pulse.PeerStatus{Addr: peer.Addr(), Console: peer.Port(), Heard: true, Role: pulse.Active, Primary: true, Serial: peerSerial}
		})
	}
	standby(r.serial)
	r.awaitFile("standby")
	if requests() != 0 {
		t.Errorf("the standby asked the active at the same serial %d times", requests())
	}
	standby(9)
	// The serial reaches pulse from the run loop, the sync's time from
	// the fetch: two goroutines, so wait for both.
	waitFor(t, 10*time.Second, "the serial taken to pulse and the sync's time", func() bool {
		s, _, _ := n.state()
		return s == 9 && !r.d.Status().LastSync.IsZero()
	})
	cfg, err := r.st.Config(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Serial != 9 || cfg.Virtuals[0].Reals[0].Weight != 5 {
		t.Errorf("the standby has serial %d, weight %d; want the active's 9, 5", cfg.Serial, cfg.Virtuals[0].Reals[0].Weight)
	}
	st := r.d.Status()
	if st.LastSync.IsZero() || st.Serial != 9 || len(st.Warnings) != 0 {
		t.Errorf("status %+v", st)
	}
	if got := r.j.since(0, "add"); got != nil {
		t.Errorf("the standby brought up %q", got)
	}
	// The accounts: the active's root password opens the standby's
	// console, and a user added on the active reaches the standby without
	// any configuration change.
	waitFor(t, 10*time.Second, "the active's root password on the standby", func() bool {
		return r.st.CheckPassword(ctx, "root", "the active's root") == nil
	})
	if err := active.AddUser(ctx, "bob", store.ScopeOperator, "bob's password"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "bob, added on the active, logs in on the standby", func() bool {
		return r.st.CheckPassword(ctx, "bob", "bob's password") == nil
	})
	if role, err := r.st.UserRole(ctx, "bob"); err != nil || role != store.ScopeOperator {
		t.Errorf("bob on the standby: %v, %v", role, err)
	}
	es, err := r.st.AuditQuery(ctx, store.AuditFilter{Kind: store.AuditAccounts})
	if err != nil || len(es) != 2 || es[0].Actor != "peer 127.0.0.1" || es[0].Detail != "from the active director: added bob as operator" {
		t.Errorf("the standby's audit entries of the sync: %+v, %v", es, err)
	}
	if st := r.d.Status(); st.LastAccounts.IsZero() || len(st.Warnings) != 0 {
		t.Errorf("status %+v", st)
	}
}

// TestDirectorStandbyAccountsRefused: a standby whose active serves no
// accounts (an older version) or accounts that do not open with its
// secret says so and keeps its own users.
func TestDirectorStandbyAccountsRefused(t *testing.T) {
	for name, secret := range map[string][]byte{"older active": bytes.Repeat([]byte("k"), 32), "another secret": bytes.Repeat([]byte("x"), 32)} {
		t.Run(name, func(t *testing.T) {
			r := newRig(t, cfOpts{}, rigBackup)
			ctx := context.Background()
			if err := r.st.SetPassword(ctx, "root", "the standby's root"); err != nil {
				t.Fatal(err)
			}
			var active *store.Store
			if name == "another secret" {
				var err error
				if active, err = store.Open(ctx, filepath.Join(r.dir, "active.db")); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { active.Close() })
				active.SetPassword(ctx, "mallory", "mallory's password")
			}
			peer, _ := peerConsole(t, secret, r.cf(cfOpts{}), active)
			r.start()
			r.node().set(func(st *pulse.Status) {
				st.Decided, st.Role = true, pulse.Standby
				st.Peer = pulse.PeerStatus{Addr: peer.Addr(), Console: peer.Port(), Heard: true, Role: pulse.Active, Serial: r.serial}
			})
			want := map[string]string{"older active": "404 Not Found to /peer/v2/accounts", "another secret": "refused"}[name]
			waitFor(t, 10*time.Second, "the warning", func() bool { return warning(r.d, "taking the users and API tokens", want) != "" })
			if us, _ := r.st.ListUsers(ctx); len(us) != 1 || us[0].Name != "root" {
				t.Errorf("the standby's users: %+v", us)
			}
			if err := r.st.CheckPassword(ctx, "root", "the standby's root"); err != nil {
				t.Errorf("the standby's root: %v", err)
			}
		})
	}
}

// TestDirectorStandbyFetchRefused: a configuration that does not open
// with this director's secret is refused, said, and not saved.
func TestDirectorStandbyFetchRefused(t *testing.T) {
	r := newRig(t, cfOpts{}, rigBackup)
	peer, requests := peerConsole(t, bytes.Repeat([]byte("x"), 32), r.cf(cfOpts{serial: 9, weight: 5}), nil)
	r.start()
	n := r.node()
	n.set(func(st *pulse.Status) {
		st.Decided, st.Role = true, pulse.Standby
		st.Peer = pulse.PeerStatus{Addr: peer.Addr(), Console: peer.Port(), Heard: true, Role: pulse.Active, Serial: 9}
	})
	waitFor(t, 10*time.Second, "the warning", func() bool { return warning(r.d, "taking the configuration", "refused") != "" })
	if requests() == 0 {
		t.Error("no request reached the peer")
	}
	if cfg, _ := r.st.Config(context.Background()); cfg.Serial != r.serial {
		t.Errorf("serial %d saved, want %d kept", cfg.Serial, r.serial)
	}
}

// TestDirectorActiveMovesPastStandby: an active director whose standby is
// at a higher serial (edits it took while active) moves its own serial
// past it, with a revision that says why, so that the standby takes the
// active's configuration.
func TestDirectorActiveMovesPastStandby(t *testing.T) {
	r := newRig(t, cfOpts{}, rigPrimary)
	r.start()
	n := r.active()
	n.decide(pulse.Active, pulse.Standby, 5)
	waitFor(t, 10*time.Second, "the serial 6 taken to pulse", func() bool { s, _, _ := n.state(); return s == 6 })
	revs, err := r.st.Revisions(context.Background(), 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(revs) != 1 || revs[0].Serial != 6 || !strings.Contains(revs[0].Summary, "the standby was at serial 5") {
		t.Errorf("the last revision %+v", revs)
	}
	if cfg, _ := r.st.Config(context.Background()); cfg.Virtuals[0].Reals[0].Weight != 1 {
		t.Error("the active's configuration changed")
	}
}

// TestDirectorStops: a clean stop of an active director says goodbye
// (the peer takes over at once), then takes the VIPs down, moves the sync
// daemon to backup and runs inactive_cmd; Run returns once all that is
// done and nothing it started still runs.
func TestDirectorStops(t *testing.T) {
	r := newRig(t, cfOpts{syncd: true, monitorLinks: true}, rigPrimary)
	r.start()
	r.active()
	waitFor(t, 10*time.Second, "links watched", r.host.watching)
	mark := r.j.len()
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	bye, del := r.j.index(mark, "heartbeat goodbye"), r.j.index(mark, "del "+rigVIP)
	if bye < 0 || del < 0 || bye > del {
		t.Errorf("stopping did, in order:\n%s\nwant the goodbye, then the VIP down", strings.Join(r.j.since(mark, ""), "\n"))
	}
	if !r.exists("standby") {
		t.Error("inactive_cmd did not run")
	}
	if got := r.ipvs.running(); !slices.Equal(got, []string{"backup on eth0"}) {
		t.Errorf("sync daemons %q", got)
	}
	if running, open := r.host.busy(); running != 0 || open != 0 {
		t.Errorf("after Run: %d announcements or link watches still running, %d address handles open", running, open)
	}
	if r.ipvs.conns() != 0 {
		t.Errorf("%d connections to IPVS left open", r.ipvs.conns())
	}
}

// TestDirectorStopsStandby: a clean stop of a standby says goodbye and
// touches nothing else.
func TestDirectorStopsStandby(t *testing.T) {
	r := newRig(t, cfOpts{syncd: true}, rigBackup)
	r.start()
	n := r.node()
	n.decide(pulse.Standby, pulse.Active, r.serial)
	r.awaitFile("standby")
	os.Remove(filepath.Join(r.dir, "standby"))
	mark := r.j.len()
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	if got := r.j.since(mark, ""); !slices.Equal(got, []string{"heartbeat goodbye"}) {
		t.Errorf("stopping the standby did %q", got)
	}
	if r.exists("standby") || r.exists("active") {
		t.Error("stopping the standby ran a command")
	}
}

// TestDirectorSendsTheConsolePin: the heartbeat carries the pin of the
// console's certificate, and a new one (a certificate reloaded) as soon as
// ConsolePinChanges says so; the peer's console is https:// when its
// heartbeat tells a pin, http:// when not.
func TestDirectorSendsTheConsolePin(t *testing.T) {
	r := newRig(t, cfOpts{}, rigPrimary)
	var mu sync.Mutex
	pin := [32]byte{0: 1}
	changed := make(chan struct{}, 1)
	r.tweak = func(o *failover.Options) {
		o.ConsolePin = func() [32]byte { mu.Lock(); defer mu.Unlock(); return pin }
		o.ConsolePinChanges = changed
	}
	r.start()
	n := r.node()
	if got := n.current().ConsolePin; got != [32]byte{0: 1} {
		t.Fatalf("heartbeat pin %x, want the console's", got)
	}
	mu.Lock()
	pin = [32]byte{0: 2}
	mu.Unlock()
	changed <- struct{}{}
	waitFor(t, 10*time.Second, "the new pin in the heartbeat", func() bool { return n.current().ConsolePin == [32]byte{0: 2} })

	n.set(func(st *pulse.Status) {
		st.Decided, st.Role = true, pulse.Active
		st.Peer.Heard, st.Peer.Role, st.Peer.Addr, st.Peer.Console = true, pulse.Standby, netip.MustParseAddr(rigBackup), 3636
	})
	waitFor(t, 10*time.Second, "the peer's console over plain HTTP", func() bool { return r.d.Status().PeerConsole == "http://"+rigBackup+":3636" })
	n.set(func(st *pulse.Status) { st.Peer.ConsolePin = [32]byte{9} })
	if got := r.d.Status().PeerConsole; got != "https://"+rigBackup+":3636" {
		t.Errorf("the peer's console with a pin: %s", got)
	}
}

// clusterSource is the store with the configuration's cluster mode
// switched by the test.
type clusterSource struct {
	*store.Store
	on *atomic.Bool
}

func (s clusterSource) Config(ctx context.Context) (*config.Config, error) {
	c, err := s.Store.Config(ctx)
	if err == nil {
		c.Redundancy.Cluster = s.on.Load()
	}
	return c, err
}

// TestDirectorStandsAsideInCluster: in cluster mode the Director stops
// its heartbeat, takes down the VIPs it had up as a pair's active (no
// more gratuitous ARP) and reports the role "cluster"; lvs/cluster runs
// the director then.
func TestDirectorStandsAsideInCluster(t *testing.T) {
	r := newRig(t, cfOpts{}, rigPrimary)
	var on atomic.Bool
	r.tweak = func(o *failover.Options) { o.Source = clusterSource{r.st, &on} }
	r.start()
	n := r.active()
	mark := r.j.len()
	on.Store(true)
	r.save(cfOpts{weight: 2}) // a change: the Director reloads
	r.await(mark, "del "+rigVIP)
	waitFor(t, 10*time.Second, "the cluster role", func() bool { return r.role() == failover.Cluster })
	if _, _, running := n.state(); running {
		t.Error("the heartbeat still runs")
	}
	if r.host.isUp("10.60.0.10/24") {
		t.Error("the VIP is still up on eth0")
	}
	if r.exists("standby") {
		t.Error("inactive_cmd ran")
	}
	mark = r.j.len()
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	if got := r.j.since(mark, "add"); len(got) != 0 {
		t.Errorf("addresses added on stop: %q", got)
	}
}

// TestDirectorClusterSyncDaemons: with syncdaemon on in cluster mode, the
// connection sync daemon runs as master and as backup at once.
func TestDirectorClusterSyncDaemons(t *testing.T) {
	r := newRig(t, cfOpts{syncd: true}, rigPrimary)
	var on atomic.Bool
	on.Store(true)
	r.tweak = func(o *failover.Options) { o.Source = clusterSource{r.st, &on} }
	r.start()
	waitFor(t, 10*time.Second, "the cluster role", func() bool { return r.role() == failover.Cluster })
	waitFor(t, 10*time.Second, "master and backup", func() bool {
		got := r.ipvs.running()
		slices.Sort(got)
		return slices.Equal(got, []string{"backup on eth0", "master on eth0"})
	})
	if r.pulse.node() != nil {
		t.Error("a heartbeat was started in cluster mode")
	}
}
