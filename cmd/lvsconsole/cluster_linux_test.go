package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/internal/testenv"
	"github.com/lvsconsole/lvsconsole/internal/testnet"
)

// TestServeClusterMode: `lvsconsole serve` whose configuration is in
// cluster mode, in a director namespace (the test binary run as
// lvsconsole with `ip netns exec`: GoBGP's sockets are opened by threads
// of its own), with Debian's BIRD as the router in another: failover
// stands aside (role cluster), the VIP goes on the director's loopback,
// the BGP session comes up; SIGTERM drains (GRACEFUL_SHUTDOWN for
// bgp_drain) before the process exits, and the VIP leaves the loopback.
// (Whether the VIP is announced depends on IPVS, which the host may lack:
// lvs/cluster's tests and the guest's cover it.)
func TestServeClusterMode(t *testing.T) {
	testenv.NetNS(t)
	testenv.Commands(t, "bird", "birdc")
	r, d := fmt.Sprintf("lvsclsr%d", os.Getpid()%100000), fmt.Sprintf("lvsclsd%d", os.Getpid()%100000)
	for _, ns := range []string{r, d} {
		clusterRun(t, "ip", "netns", "add", ns)
		t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
		clusterRun(t, "ip", "-n", ns, "link", "set", "lo", "up")
	}
	clusterRun(t, "ip", "-n", r, "link", "add", "d1", "type", "veth", "peer", "name", "uplink", "netns", d)
	clusterRun(t, "ip", "-n", r, "addr", "add", "10.19.1.1/24", "dev", "d1")
	clusterRun(t, "ip", "-n", r, "link", "set", "d1", "up")
	clusterRun(t, "ip", "-n", d, "addr", "add", "10.19.1.2/24", "dev", "uplink")
	clusterRun(t, "ip", "-n", d, "link", "set", "uplink", "up")

	dir := t.TempDir()
	bird := testnet.StartBird(t, `router id 10.19.0.1;
protocol device { scan time 10; }
protocol kernel { ipv4 { import none; export all; }; }
protocol bgp d1 { local as 65000; neighbor 10.19.1.2 as 65010; password "secret-1"; hold time 3;
	connect retry time 1; error wait time 1, 2; ipv4 { import all; export none; }; }
`, testnet.InNetns(r), 15*time.Second)
	birdc := bird.Birdc

	db := filepath.Join(dir, "lvs.db")
	cf := filepath.Join(dir, "lvs.cf")
	os.WriteFile(cf, []byte(`serial_no = 1
primary = 10.19.1.2
service = lvs
network = direct
cluster = 1
cluster_directors = "10.19.1.2 10.19.2.2"
bgp_as = 65010
bgp_peers = "10.19.1.1 65000"
bgp_password = "secret-1"
bgp_hold_time = 3
bgp_drain = 2
virtual web {
 active = 1
 address = 10.0.0.10 uplink:1
 port = 80
 scheduler = mh
 server web1 {
  address = 192.0.2.1
  active = 1
  weight = 1
 }
}
`), 0o644)
	if out, _, err := runCmd(t, "", "import", "-db", db, cf); err != nil {
		t.Fatalf("import: %v\n%s", err, out)
	}

	serve := exec.Command("ip", "netns", "exec", d, os.Args[0], "serve", "-db", db, "-listen", "127.0.0.1:0", "-rwho-listen", "")
	serve.Env = append(os.Environ(), asMainVar+"=1")
	var log clusterLog
	serve.Stdout, serve.Stderr = &log, &log
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- serve.Wait() }()
	t.Cleanup(func() {
		serve.Process.Kill()
		if t.Failed() {
			t.Logf("serve's log:\n%s", log.String())
		}
	})
	onLo := func() bool {
		return strings.Contains(clusterRun(t, "ip", "-n", d, "addr", "show", "dev", "lo"), "10.0.0.10/32")
	}
	clusterWait(t, "failover standing aside", func() bool { return strings.Contains(log.String(), "role=cluster") })
	clusterWait(t, "the VIP on the loopback", onLo)
	clusterWait(t, "the BGP session", func() bool { return strings.Contains(birdc("show", "protocols", "d1"), "Established") })
	if out := clusterRun(t, "ip", "-n", d, "addr", "show", "dev", "uplink"); strings.Contains(out, "10.0.0.10") {
		t.Errorf("the VIP is on its device (uplink:1), as a pair's active puts it:\n%s", out)
	}

	stopped := time.Now()
	// ip netns exec execs lvsconsole: the pid is serve's.
	if err := serve.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var err error
	select {
	case err = <-exited:
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not exit 30 s after SIGTERM")
	}
	took := time.Since(stopped)
	if err != nil {
		t.Errorf("serve after SIGTERM: %v", err)
	}
	if took < 2*time.Second {
		t.Errorf("serve exited %v after SIGTERM, before bgp_drain (2 s) ended", took)
	}
	out := log.String()
	iDrain, iDown := strings.Index(out, "graceful shutdown: draining"), strings.Index(out, "cluster: VIP down")
	if iDrain < 0 || iDown < iDrain {
		t.Errorf("serve's stop: the drain at %d, the VIP down at %d", iDrain, iDown)
	}
	if onLo() {
		t.Error("the VIP is still on the loopback after serve exited")
	}
	t.Logf("SIGTERM to exit: %v (bgp_drain 2 s)", took)
}

func clusterRun(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func clusterWait(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// clusterLog is serve's output, written by its process and read by the
// test.
type clusterLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *clusterLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *clusterLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
