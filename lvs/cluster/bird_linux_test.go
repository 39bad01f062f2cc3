package cluster_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/internal/testenv"
	"github.com/lvsconsole/lvsconsole/internal/testnet"
	"github.com/lvsconsole/lvsconsole/lvs/cluster"
	"github.com/lvsconsole/lvsconsole/lvs/config"
)

// TestClusterAnnouncesToBIRD: a director in cluster mode (cluster.Run with
// the real BGP speaker and the real netif, in a network namespace; its
// engine's state told by the test) and a router namespace running
// Debian's BIRD. The VIP goes on the director's loopback; its /32 reaches
// the router's kernel table through the director once the engine says the
// configuration is reconciled with a real server up; with every real
// server down it is withdrawn while the session stays up; it comes back
// with them; a clean stop first announces it with GRACEFUL_SHUTDOWN (BIRD
// shows (65535,0)) while the process drains, then withdraws it, and only
// then the VIP leaves the loopback.
func TestClusterAnnouncesToBIRD(t *testing.T) {
	testenv.NetNS(t)
	testenv.Commands(t, "bird", "birdc")
	id := fmt.Sprintf("%d", os.Getpid())
	router, dns := "lvsclr"+id, "lvscld"+id
	addNS(t, router)
	addNS(t, dns)
	run(t, "ip", "-n", router, "link", "add", "d1", "type", "veth", "peer", "name", "uplink", "netns", dns)
	run(t, "ip", "-n", router, "addr", "add", "10.19.1.1/24", "dev", "d1")
	run(t, "ip", "-n", router, "link", "set", "d1", "up")
	run(t, "ip", "-n", dns, "addr", "add", "10.19.1.2/24", "dev", "uplink")
	run(t, "ip", "-n", dns, "link", "set", "uplink", "up")
	bird := testnet.StartBird(t, `router id 10.19.0.1;
log stderr all;
protocol device { scan time 10; }
protocol kernel { ipv4 { import none; export all; }; merge paths on; }
filter from_directors {
	if (65535, 0) ~ bgp_community then bgp_local_pref = 0;
	accept;
}
protocol bgp d1 {
	local as 65000;
	neighbor 10.19.1.2 as 65010;
	password "secret-1";
	hold time 3;
	connect retry time 1;
	error wait time 1, 2;
	ipv4 { import filter from_directors; export none; };
}
`, testnet.InNetns(router), 15*time.Second)
	birdc := bird.Birdc
	vip := netip.MustParseAddr("10.0.0.10")
	const drain = 3 * time.Second
	d := startDirector(t, dns, directorConf{
		Redundancy: config.Redundancy{Cluster: true, ClusterDirectors: "10.19.1.2 10.19.2.2", BGPAS: 65010,
			BGPPeers: "10.19.1.1 65000", BGPPassword: "secret-1", BGPHoldTime: 3 * time.Second, BGPDrain: drain},
		VIP: vip, Real: netip.MustParseAddr("192.0.2.1"),
	})
	nextHops := func() []string {
		hops, err := testnet.NextHops(router, netip.MustParsePrefix("10.0.0.10/32"))
		if err != nil {
			t.Fatalf("the router's route: %v", err)
		}
		return hops
	}

	onLo := func() bool {
		return strings.Contains(run(t, "ip", "-n", dns, "addr", "show", "dev", "lo"), "10.0.0.10/32")
	}
	waitFor(t, "the VIP on the director's loopback", onLo)
	waitFor(t, "the BGP session", func() bool { return strings.Contains(birdc("show", "protocols", "d1"), "Established") })
	waitFor(t, "the status: withheld, the engine not reconciled", func() bool {
		s := d.status()
		return s.Self == netip.MustParseAddr("10.19.1.2") && len(s.Withheld) == 1 && s.Withheld[0].Why == cluster.WhyNotReconciled
	})
	if hops := nextHops(); len(hops) != 0 {
		t.Fatalf("announced before the engine reconciled: the router routes the VIP via %v", hops)
	}

	at := time.Now()
	d.send("up")
	waitFor(t, "the VIP routed through the director", func() bool { return slices.Equal(nextHops(), []string{"10.19.1.2"}) })
	t.Logf("real server up: in the router's kernel table after %v", time.Since(at))
	at = time.Now()
	d.send("down")
	waitFor(t, "the VIP withdrawn: no real server up", func() bool { return len(nextHops()) == 0 })
	t.Logf("every real server down: out of the router's kernel table after %v", time.Since(at))
	if out := birdc("show", "protocols", "d1"); !strings.Contains(out, "Established") {
		t.Errorf("the session after the withdrawal:\n%s", out)
	}
	if s := d.status(); len(s.Withheld) != 1 || s.Withheld[0].Why != cluster.WhyNoRealServer || len(s.Sessions) != 1 || s.Sessions[0].State != "established" {
		t.Errorf("status after the withdrawal: %+v", s)
	}
	d.send("up")
	waitFor(t, "the VIP routed again", func() bool { return slices.Equal(nextHops(), []string{"10.19.1.2"}) })

	// The clean stop.
	stopped := time.Now()
	d.stdin.Close()
	waitFor(t, "GRACEFUL_SHUTDOWN on the route", func() bool {
		return strings.Contains(birdc("show", "route", "all", "10.0.0.10/32"), "(65535,0)")
	})
	if !d.alive() {
		t.Fatal("the director exited before BIRD saw GRACEFUL_SHUTDOWN")
	}
	if !onLo() {
		t.Error("the VIP left the loopback during the drain")
	}
	waitFor(t, "the route withdrawn", func() bool { return len(nextHops()) == 0 })
	withdrawn := time.Since(stopped)
	if withdrawn < drain {
		t.Errorf("withdrawn %v after the stop, before the drain of %v", withdrawn, drain)
	}
	select {
	case <-d.exited:
	case <-time.After(20 * time.Second):
		t.Fatal("the director did not exit")
	}
	if d.err != nil {
		t.Errorf("the director's exit: %v", d.err)
	}
	if onLo() {
		t.Error("the VIP is still on the loopback after the stop")
	}
	t.Logf("clean stop: withdrawn %v after the stop (drain %v)", withdrawn, drain)
}

type directorProc struct {
	t      *testing.T
	stdin  io.WriteCloser
	exited chan struct{}
	err    error

	mu   sync.Mutex
	last cluster.Status
}

func (d *directorProc) send(line string) {
	d.t.Helper()
	if _, err := io.WriteString(d.stdin, line+"\n"); err != nil {
		d.t.Fatal(err)
	}
}

func (d *directorProc) status() cluster.Status {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.last
}

func (d *directorProc) alive() bool {
	select {
	case <-d.exited:
		return false
	default:
		return true
	}
}

func startDirector(t *testing.T, ns string, dc directorConf) *directorProc {
	b, err := json.Marshal(dc)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ip", "netns", "exec", ns, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), directorVar+"="+string(b))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var errs testnet.Buffer
	cmd.Stderr = &errs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d := &directorProc{t: t, stdin: stdin, exited: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			if js, ok := strings.CutPrefix(sc.Text(), "status "); ok {
				var st cluster.Status
				if json.Unmarshal([]byte(js), &st) == nil {
					d.mu.Lock()
					d.last = st
					d.mu.Unlock()
				}
			}
		}
		d.err = cmd.Wait()
		close(d.exited)
	}()
	t.Cleanup(func() {
		stdin.Close()
		cmd.Process.Kill()
		<-d.exited
		if t.Failed() {
			t.Logf("the director's log:\n%s", errs.String())
		}
	})
	return d
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
