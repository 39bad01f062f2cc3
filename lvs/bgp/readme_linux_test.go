package bgp

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/internal/testenv"
	"github.com/lvsconsole/lvsconsole/internal/testnet"
)

// frrDir is where Debian's frr package puts its daemons.
const frrDir = "/usr/lib/frr"

// readmeRouter is the router configuration the README gives under
// heading ("Scaling out": "### The router: FRR", "### The router: BIRD
// 2"), which the tests run as it is.
func readmeRouter(t *testing.T, heading, must string) string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(b), heading+"\n")
	if !ok {
		t.Fatalf("README.md has no %q", heading)
	}
	_, block, ok := strings.Cut(after, "```\n")
	if !ok {
		t.Fatalf("README.md's %q has no configuration block", heading)
	}
	conf, _, ok := strings.Cut(block, "```\n")
	if !ok || !strings.Contains(conf, must) {
		t.Fatalf("README.md's %q block is not a router configuration:\n%s", heading, block)
	}
	return conf
}

// startFRR runs FRR's zebra and bgpd in the router's namespace with the
// README's configuration, each with a path space of its own (its sockets
// under /var/run/frr/NS/), so that an FRR the host may run is not touched.
func (l *lab) startFRR() {
	t := l.t
	space := l.router
	// The daemons run as the package's user frr: their sockets, their
	// configuration and pid files in a directory of that user.
	dir := filepath.Join("/var/run/frr", space)
	run(t, "install", "-d", "-o", "frr", "-g", "frr", dir)
	t.Cleanup(func() { os.RemoveAll(dir) })
	for _, d := range []string{"zebra", "bgpd"} {
		conf := filepath.Join(dir, d+".conf")
		text := "hostname router\n"
		if d == "bgpd" {
			text = readmeRouter(t, "### The router: FRR", "router bgp")
		}
		if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		run(t, "chown", "frr:frr", conf)
		cmd := exec.Command("ip", "netns", "exec", l.router, filepath.Join(frrDir, d), "-N", space,
			"-f", conf, "-i", filepath.Join(dir, d+".pid"), "--log", "stdout")
		var out testnet.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			cmd.Process.Kill()
			cmd.Wait()
			if t.Failed() {
				t.Logf("%s's log:\n%s", d, out.String())
			}
		})
		l.waitFor(d+" answers vtysh", 15*time.Second, func() bool {
			return exec.Command("vtysh", "-N", space, "-d", d, "-c", "show version").Run() == nil
		})
	}
}

// frrPath is one path of FRR's BGP table, as `show bgp ... json` has it.
type frrPath struct {
	LocPrf    *int `json:"locPrf"`
	Multipath bool `json:"multipath"`
	Community *struct {
		String string `json:"string"`
	} `json:"community"`
	Peer struct {
		PeerID string `json:"peerId"`
	} `json:"peer"`
}

// frrPaths returns FRR's paths to the VIP, by the director they came from.
func (l *lab) frrPaths() map[string]frrPath {
	out, err := exec.Command("vtysh", "-N", l.router, "-c", "show bgp ipv4 unicast "+vip.String()+" json").Output()
	if err != nil {
		l.t.Fatalf("vtysh: %v\n%s", err, out)
	}
	var r struct {
		Paths []frrPath `json:"paths"`
	}
	if err := json.Unmarshal(out, &r); err != nil {
		l.t.Fatalf("vtysh's json: %v\n%s", err, out)
	}
	paths := map[string]frrPath{}
	for _, p := range r.Paths {
		paths[p.Peer.PeerID] = p
	}
	return paths
}

// TestRouterECMPFRR: the README's FRR configuration, run by Debian's FRR
// in the router's namespace, routes the VIP over the three directors
// (ECMP, one kernel route with three next hops); a director killed leaves
// it; a director's clean stop takes its path out of the route while it
// drains (GRACEFUL_SHUTDOWN made local preference 0 by the README's route
// map), and withdraws it after the drain.
func TestRouterECMPFRR(t *testing.T) {
	testenv.Commands(t, "vtysh")
	for _, d := range []string{"zebra", "bgpd"} {
		if _, err := os.Stat(filepath.Join(frrDir, d)); err != nil {
			testenv.Missing(t, filepath.Join(frrDir, d), "apt-get install frr")
		}
	}
	l := newNet(t)
	l.startFRR()
	d1, d2, d3 := l.dirs[0], l.dirs[1], l.dirs[2]
	for _, d := range l.dirs {
		d.password = "secret" // the README's, one for all directors as lvs.cf's bgp_password
		l.start(d)
	}
	took := l.waitNextHops(30*time.Second, d1, d2, d3)
	t.Logf("FRR: three next hops %v after %v", l.nextHops(), took)

	// kill -9: the kernel closes the session (a hung director would be
	// dropped at the hold time, as TestRouterECMP shows with BIRD).
	d3.process().Kill()
	<-d3.exited
	took = l.waitNextHops(holdTime+5*time.Second, d1, d2)
	t.Logf("FRR: kill -9 of director 3, two next hops after %v", took)
	l.start(d3)
	l.waitNextHops(30*time.Second, d1, d2, d3)

	const drain = 4 * time.Second
	stopped := time.Now()
	l.send(d2, fmt.Sprintf("shutdown %v", drain))
	l.waitNextHops(drain, d1, d3)
	left := time.Since(stopped)
	p, ok := l.frrPaths()[d2.gw()]
	if !d2.alive() {
		t.Fatal("director 2 exited before the router's route left it")
	}
	if !ok || p.LocPrf == nil || *p.LocPrf != 0 || p.Community == nil || !strings.Contains(p.Community.String, "graceful-shutdown") || p.Multipath {
		t.Errorf("FRR's path from director 2 while it drains: %+v (community %+v), want local preference 0, graceful-shutdown, not in the multipath", p, p.Community)
	}
	t.Logf("FRR: clean stop, director 2 out of the route %v after Shutdown, while draining", left)
	l.waitFor("FRR has no path from director 2", drain+5*time.Second, func() bool {
		_, ok := l.frrPaths()[d2.gw()]
		return !ok
	})
	if withdrawn := time.Since(stopped); withdrawn < drain {
		t.Errorf("withdrawn %v after Shutdown, before the drain of %v ended", withdrawn, drain)
	}
	l.start(d2)
	l.waitNextHops(30*time.Second, d1, d2, d3)
}

// TestRouterECMPReadme: the README's BIRD configuration, run by Debian's
// BIRD as it is, routes the VIP over the three directors; a director
// killed leaves the route and is taken back when it returns; a clean stop
// takes a director out of it while it drains (GRACEFUL_SHUTDOWN at local
// preference 0). TestRouterECMP tests the rest with the test's own
// configuration.
func TestRouterECMPReadme(t *testing.T) {
	testenv.Commands(t, "bird", "birdc")
	l := newNet(t)
	l.startBirdWith("log stderr all;\n" + readmeRouter(t, "### The router: BIRD 2", "protocol bgp"))
	d1, d2, d3 := l.dirs[0], l.dirs[1], l.dirs[2]
	for _, d := range l.dirs {
		d.password = "secret"
		l.start(d)
	}
	took := l.waitNextHops(30*time.Second, d1, d2, d3)
	t.Logf("BIRD: three next hops after %v", took)
	d3.process().Kill()
	<-d3.exited
	took = l.waitNextHops(holdTime+5*time.Second, d1, d2)
	t.Logf("BIRD: kill -9 of director 3, two next hops after %v", took)
	l.start(d3)
	took = l.waitNextHops(30*time.Second, d1, d2, d3)
	t.Logf("BIRD: director 3 back in the route %v after its start", took)

	const drain = 4 * time.Second
	l.send(d2, fmt.Sprintf("shutdown %v", drain))
	l.waitNextHops(drain, d1, d3)
	out := l.birdc("show", "route", "all", vip.String(), "protocol", "d2")
	if !d2.alive() {
		t.Fatal("director 2 exited before the router's route left it")
	}
	if !strings.Contains(out, "(65535,0)") || !strings.Contains(out, "BGP.local_pref: 0") {
		t.Errorf("BIRD's route from director 2 while it drains lacks GRACEFUL_SHUTDOWN (65535,0) or local_pref 0:\n%s", out)
	}
}
