package rstat

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/internal/testenv"
	"github.com/lvsconsole/lvsconsole/lvs/internal/netns"
)

var nsSeq atomic.Int32

// startRstatd starts Debian's rpcbind and rpc.rstatd in a network
// namespace of their own and returns its name, once rstatd answers on
// 127.0.0.1 there. rpcbind also gets a mount namespace with a tmpfs on
// /run: its socket (/run/rpcbind.sock, through which rpc.rstatd registers)
// and lock file stay out of the host's /run, and a host's own rpcbind, if
// any, is never seen. rpc.rstatd joins both namespaces (nsenter) and
// daemonizes there; cleanup kills every process of the namespace.
func startRstatd(tb testing.TB) string {
	tb.Helper()
	testenv.NetNS(tb)
	testenv.Commands(tb, "rpcbind", "rpc.rstatd", "unshare", "nsenter")
	ns := fmt.Sprintf("lvsrstat%d-%d", os.Getpid(), nsSeq.Add(1))
	run(tb, "ip", "netns", "add", ns)
	tb.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	run(tb, "ip", "-n", ns, "link", "set", "lo", "up")

	rpcbind := exec.Command("ip", "netns", "exec", ns, "unshare", "--mount", "--propagation", "private",
		"sh", "-c", "mount -t tmpfs lvsrstat /run && exec rpcbind -f")
	var out strings.Builder
	rpcbind.Stdout, rpcbind.Stderr = &out, &out
	if err := rpcbind.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		// Every process of the namespace: rpcbind and the daemonized rstatd.
		pids, _ := exec.Command("ip", "netns", "pids", ns).Output()
		for _, f := range strings.Fields(string(pids)) {
			if pid, err := strconv.Atoi(f); err == nil {
				if p, err := os.FindProcess(pid); err == nil {
					p.Kill()
				}
			}
		}
		rpcbind.Wait()
	})

	lo := netip.MustParseAddr("127.0.0.1")
	var err error
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	// rpcbind is up when it says that rstatd is not registered.
	for ctx.Err() == nil {
		err = loadIn(ctx, ns, lo, 200*time.Millisecond)
		if errors.Is(err, ErrNotRegistered) {
			break
		}
	}
	if !errors.Is(err, ErrNotRegistered) {
		tb.Fatalf("rpcbind in %s never answered: %v\n%s", ns, err, out.String())
	}
	// rpc.rstatd forks and its parent exits; the daemon keeps no pipe of
	// ours open (its output goes to a file), so that Run returns.
	logf, err := os.Create(tb.TempDir() + "/rstatd.log")
	if err != nil {
		tb.Fatal(err)
	}
	defer logf.Close()
	rstatd := exec.Command("nsenter", "-t", strconv.Itoa(rpcbind.Process.Pid), "-m", "-n", "rpc.rstatd")
	rstatd.Stdout, rstatd.Stderr = logf, logf
	if err := rstatd.Run(); err != nil {
		tb.Fatalf("rpc.rstatd: %v", err)
	}
	for ctx.Err() == nil {
		if err = loadIn(ctx, ns, lo, 200*time.Millisecond); err == nil {
			return ns
		}
	}
	tb.Fatalf("rpc.rstatd in %s never answered: %v\n%s", ns, err, out.String())
	return ""
}

// loadIn calls Load from inside ns with a timeout of d.
func loadIn(ctx context.Context, ns string, host netip.Addr, d time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return netns.Do(ns, func() error { _, err := Load(ctx, host); return err })
}

func run(tb testing.TB, name string, args ...string) {
	tb.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		tb.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// procLoad is /proc/loadavg's three load averages.
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

// TestLoadFromRstatd asks Debian's rpc.rstatd, registered with Debian's
// rpcbind, for its load: the kernel's load is global, so it is this
// machine's /proc/loadavg, read before and after.
func TestLoadFromRstatd(t *testing.T) {
	ns := startRstatd(t)
	before := procLoad(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var st Stats
	err := netns.Do(ns, func() (err error) { st, err = Load(ctx, netip.MustParseAddr("127.0.0.1")); return err })
	if err != nil {
		t.Fatal(err)
	}
	after := procLoad(t)
	t.Logf("rstatd: %+v; /proc/loadavg before %v, after %v", st, before, after)
	if st.Version != 3 {
		t.Errorf("version %d, want 3 (rstatd registers 1, 2, 3 and 5)", st.Version)
	}
	const tol = 0.05
	for i := range st.Load {
		lo, hi := min(before[i], after[i])-tol, max(before[i], after[i])+tol
		if st.Load[i] < lo || st.Load[i] > hi {
			t.Errorf("load[%d] = %.3f, /proc/loadavg says %.2f then %.2f", i, st.Load[i], before[i], after[i])
		}
	}
	if d := time.Since(st.Now); d < -2*time.Second || d > 2*time.Second {
		t.Errorf("rstatd's clock %v, ours %v", st.Now, time.Now())
	}
	if st.Boot.IsZero() || st.Boot.After(time.Now()) {
		t.Errorf("boot time %v", st.Boot)
	}
}

// TestLoadNoPortmapper: a host without a portmapper (its port closed) says
// which step failed.
func TestLoadNoPortmapper(t *testing.T) {
	testenv.NetNS(t)
	ns := fmt.Sprintf("lvsrstat%d-%d", os.Getpid(), nsSeq.Add(1))
	run(t, "ip", "netns", "add", ns)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	run(t, "ip", "-n", ns, "link", "set", "lo", "up")
	err := loadIn(context.Background(), ns, netip.MustParseAddr("127.0.0.1"), 2*time.Second)
	if err == nil || !strings.HasPrefix(err.Error(), "portmapper: ") || !strings.Contains(err.Error(), "refused") {
		t.Errorf("no portmapper: %v, want a portmapper error, connection refused", err)
	}
}

// BenchmarkLoad is one rstat call (GETPORT then STATS) over loopback to
// Debian's daemons.
func BenchmarkLoad(b *testing.B) {
	ns := startRstatd(b)
	host := netip.MustParseAddr("127.0.0.1")
	for b.Loop() {
		if err := loadIn(context.Background(), ns, host, 2*time.Second); err != nil {
			b.Fatal(err)
		}
	}
}
