//go:build guest

package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// clusterCf is the cluster's configuration, the same on every director:
// BGP to the router, a DR service with Maglev hashing announced, its real
// servers checked by a TCP connect every second (a timeout of 5 s: an
// emulated guest on a loaded host answers late, and a check that fails on
// one director only changes its Maglev table alone), down after three
// failures in a row (a real server's blip during a director's leaving
// changed every table as the router moved flows: those landed elsewhere).
const clusterCf = `serial_no = 1
service = lvs
primary = 10.21.0.11
network = direct
cluster = 1
cluster_directors = "10.21.0.11 10.21.0.12 10.21.0.13"
bgp_as = 65010
bgp_peers = "10.21.0.1 65000"
bgp_hold_time = 9
bgp_drain = 6
virtual www {
  active = 1
  address = 10.22.0.10 eth0:1
  port = 80
  protocol = tcp
  scheduler = mh
  sched_flags = port
  bgp_announce = 1
  check = tcp
  timeout = 5
  check_interval = 1
  check_failures = 3
  reentry = 1
  server xs1 {
    address = 10.21.0.21
    active = 1
    weight = 1
  }
  server xs2 {
    address = 10.21.0.22
    active = 1
    weight = 1
  }
  server xs3 {
    address = 10.21.0.23
    active = 1
    weight = 1
  }
}
`

// lvsconsole runs this test binary as lvsconsole (in this namespace), stdin
// from in, and returns its stdout.
func lvsconsole(t *testing.T, in string, args ...string) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = []string{asMainVar + "=1", "PATH=/sbin:/bin:/usr/sbin:/usr/bin"}
	cmd.Stdin = strings.NewReader(in)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("lvsconsole %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.String())
	}
	return string(out)
}

// startServe runs lvsconsole serve on director n, its own database.
func (l *clusterLab) startServe(n int) *clusterProc {
	cmd := exec.Command(os.Args[0], "serve", "-db", clusterDB(l.dbDir, n), "-listen", ":3636")
	cmd.Env = []string{asMainVar + "=1", "PATH=/sbin:/bin:/usr/sbin:/usr/bin"}
	cmd.Dir = "/"
	return l.startProc(n, cmd)
}

// clusterDB is director n's database, in a directory of its own under
// dir (not under /var/lib: the guest has none, and one made here would be
// root's only, which another test's unprivileged serve must traverse).
func clusterDB(dir string, n int) string {
	return filepath.Join(dir, fmt.Sprintf("xd%d", n), "lvsconsole.db")
}

// TestGuestClusterServe: three lvsconsole serve in cluster mode, each with
// its own database, behind BIRD's ECMP: each puts the VIP on its loopback,
// turns sloppy_tcp on, programs IPVS and announces the VIP; long-lived
// connections live through a director's kill -9, return and clean stop
// (the route gone before the process exits), and a director whose real
// servers all fail their checks (from it only) withdraws, the traffic going
// to the others.
func TestGuestClusterServe(t *testing.T) {
	l := newClusterLab(t)
	l.dbDir = t.TempDir()
	cf := filepath.Join(t.TempDir(), "cluster.cf")
	if err := os.WriteFile(cf, []byte(clusterCf), 0o644); err != nil {
		t.Fatal(err)
	}
	var secret string
	for n := 1; n <= 3; n++ {
		if err := os.MkdirAll(filepath.Dir(clusterDB(l.dbDir, n)), 0o700); err != nil {
			t.Fatal(err)
		}
		lvsconsole(t, "", "import", "-db", clusterDB(l.dbDir, n), cf)
		if n == 1 {
			secret = lvsconsole(t, "", "secret", "-db", clusterDB(l.dbDir, n), "-generate")
		} else {
			lvsconsole(t, secret, "secret", "-db", clusterDB(l.dbDir, n), "-set")
		}
	}
	for n := 1; n <= 3; n++ {
		l.startServe(n)
	}
	took := l.waitNextHops(120*time.Second, 1, 2, 3)
	t.Logf("three lvsconsole serve: three next hops after %v", took)
	for n := 1; n <= 3; n++ {
		ns := fmt.Sprintf("xd%d", n)
		if out := sh(t, "/sbin/ip -n "+ns+" addr show dev lo"); !strings.Contains(out, clusterVIP+"/32") {
			t.Errorf("director %d: the VIP is not on its loopback:\n%s", n, out)
		}
		if out := strings.TrimSpace(sh(t, "/sbin/ip netns exec "+ns+" cat /proc/sys/net/ipv4/vs/sloppy_tcp")); out != "1" {
			t.Errorf("director %d: sloppy_tcp is %s, want 1", n, out)
		}
		// A director announces once one real server is up; the others
		// follow as their checks pass.
		var out string
		l.waitFor(fmt.Sprintf("director %d's IPVS service with mh and three real servers by direct routing", n), 60*time.Second, func() bool {
			out = ipvsadm(t, ns, nil, "-Ln", "-t", clusterService)
			return strings.Contains(out, "mh") && strings.Count(out, "Route") == 3
		})
	}
	tr := clusterFlows(t, l, l.startServe)

	// One real server fails its check from director 3 only, and passes
	// again: director 3 goes on announcing (two are up), and its IPVS must
	// end as the others' (Maglev: the same servers, order and weights), or
	// flows it schedules now go elsewhere on another director. New
	// connections, opened then, move when director 3 withdraws below.
	sh(t, "/sbin/ip -n xd3 route add blackhole "+clusterReal(1)+"/32")
	l.waitFor("director 3's IPVS without xs1 in service", 30*time.Second, func() bool {
		for _, rs := range l.realServers(3) {
			if strings.HasPrefix(rs, clusterReal(1)+":") && !strings.HasSuffix(rs, " 0") {
				return false
			}
		}
		return true
	})
	t.Logf("xs1 down from director 3: its IPVS %v", l.realServers(3))
	sh(t, "/sbin/ip -n xd3 route del blackhole "+clusterReal(1)+"/32")
	l.sameTables("xs1 down and up again from director 3")
	t.Logf("xs1 up again from director 3: IPVS of directors 1-3: %v / %v / %v", l.realServers(1), l.realServers(2), l.realServers(3))
	tr.open(90)

	// Director 3's real servers all fail its checks (routes to them
	// blackholed there only): it withdraws, the others carry its traffic.
	var block, unblock strings.Builder
	for r := 1; r <= 3; r++ {
		fmt.Fprintf(&block, "/sbin/ip -n xd3 route add blackhole %s/32\n", clusterReal(r))
		fmt.Fprintf(&unblock, "/sbin/ip -n xd3 route del blackhole %s/32\n", clusterReal(r))
	}
	downAt := time.Now()
	sh(t, block.String())
	l.waitNextHops(30*time.Second, 1, 2)
	t.Logf("director 3's real servers down from it: out of the router's route after %v", time.Since(downAt))
	tr.waitEchoes(l, 3*time.Second)
	rates := l.linkRates()
	t.Logf("director 3's real servers down from it: packets/s received by directors 1-3: %v", rates)
	if rates[2] > rates[0]/4 { // its own BGP, checks and polls: a few dozen a second
		t.Errorf("director 3 withdrawn still receives %d packets/s", rates[2])
	}
	upAt := time.Now()
	sh(t, unblock.String())
	l.waitNextHops(60*time.Second, 1, 2, 3)
	t.Logf("director 3's real servers up again: back in the router's route after %v", time.Since(upAt))
	l.sameTables("director 3's real servers up again")
	tr.waitEchoes(l, 2*time.Second)
	b := tr.brokenList()
	t.Logf("lvsconsole serve: broken %d of %d connections (%.1f per 1,000) through kill -9, return, clean stop, return, real servers down and up on one of three directors",
		len(b), tr.opened.Load(), 1000*float64(len(b))/float64(tr.opened.Load()))
	if len(b) > 0 {
		t.Errorf("%d connections broken:\n%s", len(b), strings.Join(b, "\n"))
	}
	tr.stop()
}
