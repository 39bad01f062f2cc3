package doctor

import (
	"context"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/lvsconsole/lvsconsole/internal/testenv"
	"github.com/lvsconsole/lvsconsole/lvs/config"
	"golang.org/x/sys/unix"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

// inNS runs f on a thread of its own in network namespace ns: /proc/sys/net
// and the interfaces are the namespace's there. The thread is never
// unlocked: it ends with the goroutine.
func inNS(t *testing.T, ns string, f func()) {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		h, err := os.Open("/run/netns/" + ns)
		if err != nil {
			done <- err
			return
		}
		defer h.Close()
		if err := unix.Setns(int(h.Fd()), unix.CLONE_NEWNET); err != nil {
			done <- err
			return
		}
		f()
		done <- nil
	}()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func ip(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// TestSystemInNamespace: System reads this machine's facts (in a network
// namespace of the test's: forwarding off, rp_filter strict on d0, no
// device d9) and the checks judge them: forwarding fails with its fix,
// rp_filter warns, the missing device fails, the present one passes; the
// database's mode and owner are read from the file.
func TestSystemInNamespace(t *testing.T) {
	testenv.NetNS(t)
	ns := "doctor" + strconv.Itoa(os.Getpid())
	ip(t, "netns", "add", ns)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	ip(t, "-n", ns, "link", "add", "d0", "type", "veth", "peer", "name", "d0p")
	ip(t, "-n", ns, "link", "set", "d0", "up")

	dir := t.TempDir()
	db := filepath.Join(dir, "lvs.db")
	if err := os.WriteFile(db, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Global.Network = config.NAT
	for i, dev := range []string{"d0:1", "d9"} {
		vs := config.NewVirtual("v" + strconv.Itoa(i))
		vs.Active, vs.Address, vs.Device = true, netip.AddrFrom4([4]byte{192, 0, 2, byte(10 + i)}), dev
		r := config.NewReal("r")
		r.Active, r.Address = true, netip.MustParseAddr("10.0.0.1")
		vs.Reals = []config.RealServer{r}
		cfg.Virtuals = append(cfg.Virtuals, vs)
	}
	sys := &System{DB: db, ServeUID: func() int { return 0 }}
	var rs []Result
	inNS(t, ns, func() {
		if err := os.WriteFile("/proc/sys/net/ipv4/conf/d0/rp_filter", []byte("1"), 0); err != nil {
			t.Error(err)
		}
		if err := os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("0"), 0); err != nil {
			t.Error(err)
		}
		rs = Check(context.Background(), cfg, sys)
	})
	got := map[string]Result{}
	for _, r := range rs {
		got[r.Name] = r
		t.Logf("%s %s: %s (%s)", r.Status, r.Name, r.Detail, r.Fix)
	}
	for _, w := range []struct {
		name   string
		status Status
		detail string
	}{
		{"net.ipv4.ip_forward", Fail, "0, but"},
		{"device d0", Pass, "virtual server v0"},
		{"device d9", Fail, "missing"},
		{"rp_filter d0", Warn, "d0=1"},
		{"CAP_NET_ADMIN", Pass, "present"},
		{"database " + db, Fail, "mode 0644"},
	} {
		r, ok := got[w.name]
		if !ok || r.Status != w.status || !strings.Contains(r.Detail, w.detail) {
			t.Errorf("%s: %+v, want %s with %q", w.name, r, w.status, w.detail)
		}
	}
	if _, ok := got["rp_filter d9"]; ok {
		t.Error("rp_filter checked on a device that is not there")
	}
	// This host's kernel has no IPVS (the guest's test checks one that has).
	if r := got["IPVS"]; r.Status == Pass {
		if _, err := os.Stat("/proc/net/ip_vs"); err != nil {
			t.Errorf("IPVS passes without /proc/net/ip_vs: %+v", r)
		}
	}
	if !Failed(rs) {
		t.Error("Failed is false")
	}
}
