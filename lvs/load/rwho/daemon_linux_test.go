package rwho

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/internal/testenv"
	"github.com/lvsconsole/lvsconsole/lvs/internal/netns"
)

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// killNS kills every process of network namespace ns, then deletes it.
func killNS(ns string) {
	pids, _ := exec.Command("ip", "netns", "pids", ns).Output()
	for _, f := range strings.Fields(string(pids)) {
		if pid, err := strconv.Atoi(f); err == nil {
			if p, err := os.FindProcess(pid); err == nil {
				p.Kill()
			}
		}
	}
	exec.Command("ip", "netns", "del", ns).Run()
}

func procLoad(t *testing.T) [3]float64 {
	t.Helper()
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b))
	var l [3]float64
	for i := range l {
		if l[i], err = strconv.ParseFloat(f[i], 64); err != nil {
			t.Fatal(err)
		}
	}
	return l
}

// TestListenerHearsRwhod: Debian's rwhod, in a namespace of its own behind
// a veth pair, broadcasts its status at start-up; the listener, in the
// other namespace on port 513, hears it: the host's name, and the load of
// this machine's kernel (global) within a hundredth and the change during
// the test.
func TestListenerHearsRwhod(t *testing.T) {
	testenv.NetNS(t)
	testenv.Commands(t, "rwhod", "unshare")
	id := os.Getpid() % 100000
	server, director := fmt.Sprintf("lvsrwho%ds", id), fmt.Sprintf("lvsrwho%dd", id)
	for _, ns := range []string{server, director} {
		run(t, "ip", "netns", "add", ns)
		t.Cleanup(func() { killNS(ns) })
		run(t, "ip", "-n", ns, "link", "set", "lo", "up")
	}
	vs, vd := fmt.Sprintf("lrw%ds", id), fmt.Sprintf("lrw%dd", id)
	run(t, "ip", "link", "add", vs, "netns", server, "type", "veth", "peer", "name", vd, "netns", director)
	run(t, "ip", "-n", server, "addr", "add", "10.216.0.1/24", "broadcast", "10.216.0.255", "dev", vs)
	run(t, "ip", "-n", director, "addr", "add", "10.216.0.2/24", "broadcast", "10.216.0.255", "dev", vd)
	run(t, "ip", "-n", server, "link", "set", vs, "up")
	run(t, "ip", "-n", director, "link", "set", vd, "up")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var l *Listener
	if err := netns.Do(director, func() (err error) { l, err = Listen(ctx, ":513", Options{}); return err }); err != nil {
		t.Fatal(err)
	}
	defer l.Close()

	// rwhod writes what it hears in /var/spool/rwho: a directory of the
	// test, bind-mounted there in a mount namespace of rwhod's own.
	spool := t.TempDir()
	if u, err := user.Lookup("rwhod"); err == nil {
		uid, _ := strconv.Atoi(u.Uid)
		os.Chown(spool, uid, -1)
	}
	logf, err := os.Create(t.TempDir() + "/rwhod.log")
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	before := procLoad(t)
	// -b: broadcast interfaces only (Debian's default). rwhod forks; its
	// output goes to a file, not a pipe Run would wait on.
	rwhod := exec.Command("ip", "netns", "exec", server, "unshare", "--mount", "--propagation", "private",
		"sh", "-c", `mount --bind "$0" /var/spool/rwho && exec rwhod -b`, spool)
	rwhod.Stdout, rwhod.Stderr = logf, logf
	if err := rwhod.Run(); err != nil {
		t.Fatalf("rwhod: %v", err)
	}
	h := waitFor(t, l, netip.MustParseAddr("10.216.0.1"), 10*time.Second)
	after := procLoad(t)
	name, _ := os.Hostname()
	name, _, _ = strings.Cut(name, ".")
	t.Logf("heard %+v; /proc/loadavg before %v, after %v", h, before, after)
	if h.Hostname != name {
		t.Errorf("hostname %q, want %q", h.Hostname, name)
	}
	const tol = 0.02
	for i := range h.Load {
		lo, hi := min(before[i], after[i])-tol, max(before[i], after[i])+tol
		if h.Load[i] < lo || h.Load[i] > hi {
			t.Errorf("load[%d] = %.2f, /proc/loadavg says %.2f then %.2f", i, h.Load[i], before[i], after[i])
		}
	}
	if d := time.Since(h.SendTime); d < -2*time.Second || d > 10*time.Second {
		t.Errorf("sent at %v, now %v", h.SendTime, time.Now())
	}
}
