package bgp

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/internal/testenv"
	"github.com/lvsconsole/lvsconsole/internal/testnet"
)

// The test's network: a router namespace running Debian's BIRD, which puts
// the directors' routes into its kernel table as one multipath (ECMP)
// route, and three directors, each in a namespace of its own with one
// Speaker, on a link of its own to the router (10.19.N.0/24: the router
// .1, director N .2).
const (
	routerAS   = 65000
	directorAS = 65010
	holdTime   = 3 * time.Second
)

var (
	vip  = netip.MustParsePrefix("10.0.0.10/32")
	vip6 = netip.MustParsePrefix("fd00::10/128")
)

var nsSeq atomic.Int32

type lab struct {
	t      *testing.T
	router string // namespace
	bird   *testnet.Bird
	dirs   []*director
}

// director is one director's namespace and its speaker process, if any.
type director struct {
	n        int // 1, 2, 3
	ns       string
	listen   int // the speaker's ListenPort
	password string

	mu     sync.Mutex
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	status Status    // the speaker's last
	exitAt time.Time // when its "exiting" line or its death was seen
	err    error     // its exit status, once exited
	exited chan struct{}
	log    *strings.Builder
}

func (d *director) addr() netip.Addr { return netip.AddrFrom4([4]byte{10, 19, byte(d.n), 2}) }
func (d *director) gw() string       { return fmt.Sprintf("10.19.%d.2", d.n) }
func (d *director) gw6() string      { return fmt.Sprintf("fd19:%d::2", d.n) }

func newLab(t *testing.T) *lab {
	testenv.Commands(t, "bird", "birdc")
	l := newNet(t)
	l.startBird()
	return l
}

// newNet makes the router's and the directors' namespaces and links, with
// no router daemon yet.
func newNet(t *testing.T) *lab {
	testenv.NetNS(t)
	id := fmt.Sprintf("%d-%d", os.Getpid(), nsSeq.Add(1))
	l := &lab{t: t, router: "lvsbgpr" + id}
	addNS(t, l.router)
	for n := 1; n <= 3; n++ {
		d := &director{n: n, ns: fmt.Sprintf("lvsbgpd%d-%s", n, id), password: fmt.Sprintf("secret-%d", n)}
		if n == 1 {
			d.listen = 179 // one director also accepts the router's connections
		}
		addNS(t, d.ns)
		dev := fmt.Sprintf("d%d", n)
		run(t, "ip", "-n", l.router, "link", "add", dev, "type", "veth", "peer", "name", "uplink", "netns", d.ns)
		run(t, "ip", "-n", l.router, "addr", "add", fmt.Sprintf("10.19.%d.1/24", n), "dev", dev)
		run(t, "ip", "-n", l.router, "addr", "add", fmt.Sprintf("fd19:%d::1/64", n), "dev", dev, "nodad")
		run(t, "ip", "-n", l.router, "link", "set", dev, "up")
		run(t, "ip", "-n", d.ns, "addr", "add", d.gw()+"/24", "dev", "uplink")
		run(t, "ip", "-n", d.ns, "addr", "add", d.gw6()+"/64", "dev", "uplink", "nodad")
		run(t, "ip", "-n", d.ns, "link", "set", "uplink", "up")
		// The VIP on the director's loopback, as in cluster mode.
		run(t, "ip", "-n", d.ns, "addr", "add", vip.String(), "dev", "lo")
		run(t, "ip", "-n", d.ns, "addr", "add", vip6.String(), "dev", "lo", "nodad")
		l.dirs = append(l.dirs, d)
	}
	return l
}

func addNS(t *testing.T, ns string) {
	run(t, "ip", "netns", "add", ns)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	run(t, "ip", "-n", ns, "link", "set", "lo", "up")
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// birdConf is the router's BIRD configuration: one BGP session per
// director, routes carrying GRACEFUL_SHUTDOWN made least preferred (RFC
// 8326: the receiver's part), and equal routes merged into one multipath
// route in the kernel's table.
func (l *lab) birdConf() string {
	var b strings.Builder
	fmt.Fprintf(&b, `router id 10.19.0.1;
log stderr all;
protocol device { scan time 10; }
protocol kernel {
	ipv4 { import none; export all; };
	merge paths on;
}
protocol kernel kernel6 {
	ipv6 { import none; export all; };
	merge paths on;
}
filter from_directors {
	if (65535, 0) ~ bgp_community then bgp_local_pref = 0;
	accept;
}
template bgp director {
	local as %d;
	hold time %d;
	connect retry time 1;
	error wait time 1, 2;
	ipv4 { import filter from_directors; export none; };
}
template bgp director6 from director {
	ipv6 { import filter from_directors; export none; };
}
`, routerAS, int(holdTime/time.Second))
	for _, d := range l.dirs {
		fmt.Fprintf(&b, "protocol bgp d%d from director { neighbor %s as %d; password %q; }\n",
			d.n, d.gw(), directorAS, d.password)
		fmt.Fprintf(&b, "protocol bgp d%dv6 from director6 { neighbor %s as %d; password %q; }\n",
			d.n, d.gw6(), directorAS, d.password)
	}
	return b.String()
}

func (l *lab) startBird() { l.startBirdWith(l.birdConf()) }

// startBirdWith runs BIRD in the router's namespace with configuration
// text.
func (l *lab) startBirdWith(text string) {
	l.bird = testnet.StartBird(l.t, text, testnet.InNetns(l.router), 15*time.Second)
}

// birdc runs a BIRD command and returns its output.
func (l *lab) birdc(args ...string) string { return l.bird.Birdc(args...) }

// nextHops are the gateways of the router's kernel route to the VIP,
// sorted; none when there is no route.
func (l *lab) nextHops() []string { return l.nextHopsTo(vip) }

func (l *lab) nextHopsTo(p netip.Prefix) []string {
	hops, err := testnet.NextHops(l.router, p)
	if err != nil {
		l.t.Fatalf("the router's route to %s: %v", p, err)
	}
	return hops
}

func gateways(ds ...*director) []string {
	var gws []string
	for _, d := range ds {
		gws = append(gws, d.gw())
	}
	slices.Sort(gws)
	return gws
}

// waitNextHops waits until the router's route to the VIP goes through
// exactly ds, and returns how long that took.
func (l *lab) waitNextHops(within time.Duration, ds ...*director) time.Duration {
	l.t.Helper()
	start := time.Now()
	want := gateways(ds...)
	l.waitFor(fmt.Sprintf("the router's route to %v through %v", vip, want), within, func() bool {
		return slices.Equal(l.nextHops(), want)
	})
	return time.Since(start)
}

// waitFor polls cond every 10 ms until it holds, or fails the test after
// within.
func (l *lab) waitFor(what string, within time.Duration, cond func() bool) {
	l.t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			l.t.Fatalf("%s: not within %v (router: %v; ip route: %s)", what, within, l.nextHops(),
				strings.TrimSpace(run(l.t, "ip", "-n", l.router, "route")))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// start runs d's speaker in its namespace, announcing the VIP.
func (l *lab) start(d *director) {
	t := l.t
	cfg := Config{
		AS:         directorAS,
		RouterID:   d.addr(),
		ListenPort: d.listen,
		Peers: []Peer{
			{Address: netip.AddrFrom4([4]byte{10, 19, byte(d.n), 1}), AS: routerAS, Password: d.password, HoldTime: holdTime},
			{Address: netip.MustParseAddr(fmt.Sprintf("fd19:%d::1", d.n)), AS: routerAS, Password: d.password, HoldTime: holdTime},
		},
		Communities: []Community{65010<<16 | 100},
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ip", "netns", "exec", d.ns, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), speakerVar+"="+string(b))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	log := &strings.Builder{}
	var errs testnet.Buffer
	cmd.Stderr = &errs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	d.mu.Lock()
	d.cmd, d.stdin, d.exited, d.status, d.exitAt, d.log = cmd, stdin, exited, Status{}, time.Time{}, log
	d.mu.Unlock()
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			line := sc.Text()
			d.mu.Lock()
			if js, ok := strings.CutPrefix(line, "status "); ok {
				var st Status
				if json.Unmarshal([]byte(js), &st) == nil {
					d.status = st
				}
			} else if line == "exiting" && d.exitAt.IsZero() {
				d.exitAt = time.Now()
			}
			d.mu.Unlock()
		}
		err := cmd.Wait()
		d.mu.Lock()
		d.err = err
		if d.exitAt.IsZero() {
			d.exitAt = time.Now()
		}
		d.mu.Unlock()
		close(exited)
	}()
	t.Cleanup(func() {
		stdin.Close()
		cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("director %d's speaker:\n%s", d.n, errs.String())
		}
	})
	l.send(d, "announce "+vip.String()+" "+vip6.String())
}

func (l *lab) send(d *director, line string) {
	l.t.Helper()
	d.mu.Lock()
	w := d.stdin
	d.mu.Unlock()
	if _, err := io.WriteString(w, line+"\n"); err != nil {
		l.t.Fatalf("director %d: %v", d.n, err)
	}
}

func (d *director) process() *os.Process {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cmd.Process
}

func (d *director) lastStatus() Status {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.status
}

func (d *director) alive() bool {
	select {
	case <-d.exited:
		return false
	default:
		return true
	}
}

// TestRouterECMP: three directors announce a VIP to Debian's BIRD, which
// routes it over all three (ECMP); a director killed (kill -9) leaves the
// router's route within the hold time, one shut down cleanly leaves it
// before its process exits (GRACEFUL_SHUTDOWN, seen by BIRD), each comes
// back when it starts again, one that announces the empty set withdraws
// its route while its session stays up, and one with the wrong TCP MD5
// password gets no session.
func TestRouterECMP(t *testing.T) {
	l := newLab(t)
	d1, d2, d3 := l.dirs[0], l.dirs[1], l.dirs[2]
	for _, d := range l.dirs {
		l.start(d)
	}
	took := l.waitNextHops(30*time.Second, d1, d2, d3)
	t.Logf("three next hops %v after %v", l.nextHops(), took)
	// IPv6: the VIP's /128 over the IPv6 sessions, three next hops too.
	want6 := []string{d1.gw6(), d2.gw6(), d3.gw6()}
	l.waitFor(fmt.Sprintf("the router's route to %v through %v", vip6, want6), 30*time.Second, func() bool {
		return slices.Equal(l.nextHopsTo(vip6), want6)
	})
	// Each session announces one prefix: an IPv4 peer the /32, an IPv6
	// peer the /128.
	for _, d := range l.dirs {
		l.waitFor(fmt.Sprintf("director %d's status: both sessions established, 1 prefix announced on each", d.n), 10*time.Second, func() bool {
			st := d.lastStatus()
			if !st.Running || !slices.Equal(st.Announced, []netip.Prefix{vip, vip6}) || len(st.Peers) != 2 {
				return false
			}
			for _, p := range st.Peers {
				if !p.Established() || p.Prefixes != 1 || p.HoldTime != holdTime || p.Up.IsZero() {
					return false
				}
			}
			return true
		})
	}
	if out := l.birdc("show", "route", "all", vip6.String(), "protocol", "d1v6"); !strings.Contains(out, "BGP.next_hop: "+d1.gw6()) {
		t.Errorf("BIRD's IPv6 route from director 1 has not its address as next hop:\n%s", out)
	}
	// The routes carry the configured community.
	if out := l.birdc("show", "route", "all", vip.String()); !strings.Contains(out, "(65010,100)") {
		t.Errorf("BIRD's routes lack the community 65010:100:\n%s", out)
	}

	// kill -9: the kernel closes the dead process's socket, and the router
	// drops the session at once; at the latest when the hold time runs
	// out. ip netns exec execs the speaker: the pid is the speaker's.
	killed := time.Now()
	if err := d3.process().Kill(); err != nil {
		t.Fatal(err)
	}
	l.waitNextHops(holdTime+5*time.Second, d1, d2)
	gone := time.Since(killed)
	t.Logf("kill -9: director 3 left the router's table after %v (hold time %v)", gone, holdTime)
	if gone > holdTime+time.Second {
		t.Errorf("kill -9: %v to leave the router's table, hold time %v", gone, holdTime)
	}
	<-d3.exited
	l.start(d3)
	back := l.waitNextHops(30*time.Second, d1, d2, d3)
	t.Logf("director 3 back in the router's table %v after starting", back)

	// A director that hangs (SIGSTOP: its socket open, silent, as a
	// director whose machine froze or whose link died): only the hold
	// time tells the router.
	hung := time.Now()
	if err := d3.process().Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	l.waitNextHops(holdTime+5*time.Second, d1, d2)
	gone = time.Since(hung)
	t.Logf("hung (SIGSTOP): director 3 left the router's table after %v (hold time %v)", gone, holdTime)
	if gone > holdTime+time.Second {
		t.Errorf("hung: %v to leave the router's table, hold time %v", gone, holdTime)
	}
	if gone < holdTime-time.Second-100*time.Millisecond {
		t.Errorf("hung: left the router's table after %v: sooner than the hold time %v less a keepalive allows", gone, holdTime)
	}
	d3.process().Kill() // a stopped process dies of SIGKILL
	<-d3.exited
	l.start(d3)
	l.waitNextHops(30*time.Second, d1, d2, d3)

	// Clean stop: GRACEFUL_SHUTDOWN first, the route leaves the router's
	// table while the process drains, then the withdrawal and the exit.
	const drain = 4 * time.Second
	stopped := time.Now()
	l.send(d3, fmt.Sprintf("shutdown %v", drain))
	l.waitNextHops(drain, d1, d2)
	left := time.Since(stopped)
	if !d3.alive() {
		t.Fatalf("director 3 exited before the router's route left it")
	}
	out := l.birdc("show", "route", "all", vip.String(), "protocol", "d3")
	if !strings.Contains(out, "(65535,0)") || !strings.Contains(out, "BGP.local_pref: 0") {
		t.Errorf("BIRD's route from director 3 during the drain lacks GRACEFUL_SHUTDOWN (65535,0) or local_pref 0:\n%s", out)
	}
	if !d3.alive() {
		t.Errorf("director 3 exited before BIRD's route was read")
	}
	t.Logf("clean stop: director 3 left the router's table %v after Shutdown, while draining; BIRD had:\n%s", left, out)
	if !d3.lastStatus().Draining {
		l.waitFor("director 3's status says draining", drain, func() bool { return d3.lastStatus().Draining })
	}
	l.waitFor("BIRD has no route from director 3", drain+5*time.Second, func() bool {
		return !strings.Contains(l.birdc("show", "route", vip.String(), "protocol", "d3"), vip.String())
	})
	withdrawn := time.Since(stopped)
	select {
	case <-d3.exited:
	case <-time.After(10 * time.Second):
		t.Fatal("director 3 did not exit after its Shutdown")
	}
	d3.mu.Lock()
	exited, exitErr := d3.exitAt.Sub(stopped), d3.err
	d3.mu.Unlock()
	if exitErr != nil {
		t.Errorf("director 3 after its Shutdown: %v, want exit status 0 (a data race under -race?)", exitErr)
	}
	t.Logf("clean stop: withdrawn %v after Shutdown (drain %v), process exiting %v after", withdrawn, drain, exited)
	if withdrawn < drain {
		t.Errorf("withdrawn %v after Shutdown, before the drain of %v ended", withdrawn, drain)
	}

	l.start(d3)
	l.waitNextHops(30*time.Second, d1, d2, d3)

	// The empty set withdraws the route; the session stays up.
	l.send(d2, "announce")
	took = l.waitNextHops(10*time.Second, d1, d3)
	t.Logf("director 2's empty set: out of the router's table after %v", took)
	want6 = []string{d1.gw6(), d3.gw6()}
	l.waitFor(fmt.Sprintf("the router's route to %v through %v", vip6, want6), 10*time.Second, func() bool {
		return slices.Equal(l.nextHopsTo(vip6), want6)
	})
	if out := l.birdc("show", "protocols", "d2"); !strings.Contains(out, "Established") {
		t.Errorf("director 2's session after its empty set:\n%s", out)
	}
	l.waitFor("director 2's status: established, nothing announced", 10*time.Second, func() bool {
		st := d2.lastStatus()
		if len(st.Announced) != 0 || len(st.Peers) != 2 {
			return false
		}
		for _, p := range st.Peers {
			if !p.Established() || p.Prefixes != 0 {
				return false
			}
		}
		return true
	})
	l.send(d2, "announce "+vip.String()+" "+vip6.String())
	l.waitNextHops(10*time.Second, d1, d2, d3)

	// The password is used: a director with the wrong one has its
	// segments dropped by the router's kernel (TCPMD5Failure counts them),
	// and never gets a session.
	failures := l.md5Failures()
	d2.process().Kill()
	<-d2.exited
	l.waitNextHops(holdTime+5*time.Second, d1, d3)
	right := d2.password
	d2.password = "wrong"
	l.start(d2)
	l.waitFor("the router's kernel drops director 2's badly signed segments", 20*time.Second, func() bool {
		return l.md5Failures() > failures
	})
	if out := l.birdc("show", "protocols", "d2"); strings.Contains(out, "Established") || !slices.Equal(l.nextHops(), gateways(d1, d3)) {
		t.Errorf("director 2 with the wrong password: router %v, BIRD:\n%s", l.nextHops(), out)
	}
	d2.process().Kill()
	<-d2.exited
	d2.password = right
	l.start(d2)
	l.waitNextHops(30*time.Second, d1, d2, d3)
}

// md5Failures is the router's count of TCP segments whose MD5 signature
// was wrong (TcpExt TCPMD5Failure in its /proc/net/netstat).
func (l *lab) md5Failures() int {
	l.t.Helper()
	lines := strings.Split(run(l.t, "ip", "netns", "exec", l.router, "cat", "/proc/net/netstat"), "\n")
	for i := 0; i+1 < len(lines); i++ {
		names, values := strings.Fields(lines[i]), strings.Fields(lines[i+1])
		if len(names) == 0 || names[0] != "TcpExt:" || len(values) != len(names) {
			continue
		}
		if j := slices.Index(names, "TCPMD5Failure"); j > 0 {
			n, err := strconv.Atoi(values[j])
			if err != nil {
				l.t.Fatal(err)
			}
			return n
		}
	}
	l.t.Fatal("no TcpExt TCPMD5Failure in the router's /proc/net/netstat")
	return 0
}
