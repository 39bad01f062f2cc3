package loadtest

import (
	"bufio"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/internal/testenv"
	"github.com/lvsconsole/lvsconsole/lvs/internal/netns"
)

var hostSeq atomic.Int32

// Host is a real server for a load monitor: a network namespace behind a
// veth pair to the caller's namespace, on a /30 of its own, and a mount
// namespace the host's daemons share, where a tmpfs covers /run (rpcbind's
// socket, sshd's privilege separation directory: nothing of the machine's
// /run is seen or changed), another covers /root (root's shell, which sshd
// runs the command with, reads no dotfiles of the machine's: a .bashrc
// that waits on a lock would stall every reading) and where SetLoad
// covers /proc/loadavg.
type Host struct {
	NS        string     // the network namespace's name
	Addr      netip.Addr // the host's address, in NS
	Peer      netip.Addr // the caller's end of the veth pair
	Broadcast netip.Addr // the /30's broadcast address

	tb     testing.TB
	dir    string
	keeper *exec.Cmd // holds the mount namespace; its pid names it
	loads  atomic.Int32
}

// NewHost makes a host. Its subnet, 10.219.0.0/16 cut in /30s, is chosen
// from the process id so that the tests of several packages running at once
// do not take the same one.
func NewHost(tb testing.TB) *Host {
	tb.Helper()
	testenv.NetNS(tb)
	testenv.Commands(tb, "unshare", "nsenter", "mount", "sleep")
	seq := hostSeq.Add(1)
	i := (os.Getpid()*8 + int(seq)) % (1 << 14)
	a, b := byte(i>>6), byte(i&63)<<2
	h := &Host{
		NS:        fmt.Sprintf("lvsload%d-%d", os.Getpid(), seq),
		Peer:      netip.AddrFrom4([4]byte{10, 219, a, b + 1}),
		Addr:      netip.AddrFrom4([4]byte{10, 219, a, b + 2}),
		Broadcast: netip.AddrFrom4([4]byte{10, 219, a, b + 3}),
		tb:        tb,
		dir:       tb.TempDir(),
	}
	outer, inner := fmt.Sprintf("lvl%d-%do", os.Getpid()%100000, seq), fmt.Sprintf("lvl%d-%di", os.Getpid()%100000, seq)
	run(tb, "ip", "netns", "add", h.NS)
	tb.Cleanup(func() { exec.Command("ip", "netns", "del", h.NS).Run() })
	run(tb, "ip", "link", "add", outer, "type", "veth", "peer", "name", inner, "netns", h.NS)
	tb.Cleanup(func() { exec.Command("ip", "link", "del", outer).Run() })
	run(tb, "ip", "addr", "add", h.Peer.String()+"/30", "brd", "+", "dev", outer)
	run(tb, "ip", "link", "set", outer, "up")
	run(tb, "ip", "-n", h.NS, "addr", "add", h.Addr.String()+"/30", "brd", "+", "dev", inner)
	run(tb, "ip", "-n", h.NS, "link", "set", inner, "up")
	run(tb, "ip", "-n", h.NS, "link", "set", "lo", "up")

	// The keeper: a process that only holds the mount namespace, which the
	// daemons join with nsenter.
	k := exec.Command("ip", "netns", "exec", h.NS, "unshare", "--mount", "--propagation", "private",
		"sh", "-c", "mount -t tmpfs lvsload /run && mkdir -m 0755 /run/sshd && mount -t tmpfs -o mode=0700 lvsload /root && echo ready && exec sleep infinity")
	out, err := k.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	var errs strings.Builder
	k.Stderr = &errs
	if err := k.Start(); err != nil {
		tb.Fatal(err)
	}
	h.keeper = k
	tb.Cleanup(h.killAll)
	if line, _ := bufio.NewReader(out).ReadString('\n'); line != "ready\n" {
		k.Wait()
		tb.Fatalf("the mount namespace of %s: %q %s", h.NS, line, errs.String())
	}
	return h
}

// killAll kills every process of the host's network namespace (daemons
// that forked away from the commands that started them) and the keeper.
func (h *Host) killAll() {
	pids, _ := exec.Command("ip", "netns", "pids", h.NS).Output()
	for _, f := range strings.Fields(string(pids)) {
		if pid, err := strconv.Atoi(f); err == nil {
			if p, err := os.FindProcess(pid); err == nil {
				p.Kill()
			}
		}
	}
	h.keeper.Process.Kill()
	h.keeper.Wait()
}

// processes are the host's processes (of its network namespace) whose
// command is name.
func (h *Host) processes(name string) []*os.Process {
	out, _ := exec.Command("ip", "netns", "pids", h.NS).Output()
	var ps []*os.Process
	for _, f := range strings.Fields(string(out)) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			continue
		}
		if comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); err == nil && strings.TrimSpace(string(comm)) == name {
			if p, err := os.FindProcess(pid); err == nil {
				ps = append(ps, p)
			}
		}
	}
	return ps
}

// Command is a command run in the host's network and mount namespaces.
func (h *Host) Command(name string, args ...string) *exec.Cmd {
	return exec.Command("nsenter", append([]string{"-t", strconv.Itoa(h.keeper.Process.Pid), "-m", "-n", "--", name}, args...)...)
}

// Run runs a command in the host's namespaces and fails the test if it
// fails.
func (h *Host) Run(name string, args ...string) {
	h.tb.Helper()
	if out, err := h.Command(name, args...).CombinedOutput(); err != nil {
		h.tb.Fatalf("in %s: %s %s: %v\n%s", h.NS, name, strings.Join(args, " "), err, out)
	}
}

// Do runs fn on a thread in the host's network namespace (netns.Do).
func (h *Host) Do(fn func() error) error { return netns.Do(h.NS, fn) }

// Listen listens on TCP port of the host's address, in its namespace: a
// server of the host that the caller reaches through the veth pair.
func (h *Host) Listen(port int) net.Listener {
	h.tb.Helper()
	var l net.Listener
	err := h.Do(func() (err error) {
		l, err = net.Listen("tcp", netip.AddrPortFrom(h.Addr, uint16(port)).String())
		return err
	})
	if err != nil {
		h.tb.Fatal(err)
	}
	h.tb.Cleanup(func() { l.Close() })
	return l
}

// AddrPort is the host's address with port, as a monitor dials it.
func (h *Host) AddrPort(port int) string {
	return netip.AddrPortFrom(h.Addr, uint16(port)).String()
}

// SetLoad makes the host's /proc/loadavg say these load averages, for
// every process of its mount namespace that reads the file (rpc.rstatd,
// the cat that sshd runs; not rwhod, which asks sysinfo(2)): a file of the
// test's is bind-mounted over it.
// Each call mounts a new file over the last, so that a reader sees the
// old line or the new one, never a line being written. The mounts go
// with the namespace.
func (h *Host) SetLoad(l1, l5, l15 float64) {
	h.tb.Helper()
	n := h.loads.Add(1)
	path := filepath.Join(h.dir, fmt.Sprintf("loadavg.%d", n))
	line := fmt.Sprintf("%.2f %.2f %.2f 1/100 %d\n", l1, l5, l15, 1000+n)
	if err := os.WriteFile(path, []byte(line), 0o444); err != nil {
		h.tb.Fatal(err)
	}
	h.Run("mount", "--bind", path, "/proc/loadavg")
	if b, err := h.Command("cat", "/proc/loadavg").Output(); err != nil || string(b) != line {
		h.tb.Fatalf("%s's /proc/loadavg after the mount: %q (%v), want %q", h.NS, b, err, line)
	}
}

func run(tb testing.TB, name string, args ...string) {
	tb.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		tb.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// syncBuffer collects a daemon's output for the test's messages.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.b.Len() > 1<<20 { // a chatty daemon
		return len(p), nil
	}
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// poll calls f until it returns nil or d has passed; it returns f's last
// error.
func poll(d time.Duration, f func() error) error {
	deadline := time.Now().Add(d)
	for {
		err := f()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond) // a retry's pace, not a synchronisation
	}
}

// MachineLoad is this machine's /proc/loadavg, its three load averages:
// the kernel's load is global, so it is also what a host's daemons read
// unless SetLoad covered it.
func MachineLoad(tb testing.TB) [3]float64 {
	tb.Helper()
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		tb.Fatal(err)
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		tb.Fatalf("/proc/loadavg: %q", b)
	}
	var l [3]float64
	for i := range l {
		if l[i], err = strconv.ParseFloat(f[i], 64); err != nil {
			tb.Fatal(err)
		}
	}
	return l
}
