//go:build guest

package main

import (
	"bytes"
	"context"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/ipvs"
	"golang.org/x/sys/unix"
)

// syncBuffer is a bytes.Buffer a process writes while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startInNS starts cmd in network namespace ns: from a thread of its own
// that entered it (a namespace is a thread's, and the child takes its
// maker's), never unlocked so that it ends with the goroutine.
func startInNS(ns string, cmd *exec.Cmd) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		f, err := os.Open("/run/netns/" + ns)
		if err != nil {
			errc <- err
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- err
			return
		}
		errc <- cmd.Start()
	}()
	return <-errc
}

// lvsconsoleIn runs this test binary as lvsconsole, as root, in ns.
func lvsconsoleIn(t *testing.T, ns string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = []string{asMainVar + "=1", "PATH=/sbin:/bin:/usr/sbin:/usr/bin"}
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := startInNS(ns, cmd); err != nil {
		t.Fatalf("lvsconsole %s: %v", strings.Join(args, " "), err)
	}
	err := cmd.Wait()
	return out.String(), err
}

func sh(t *testing.T, script string) string {
	t.Helper()
	out, err := exec.Command("/bin/sh", "-ec", script).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", script, err, out)
	}
	return string(out)
}

// unprivilegedCf is a NAT virtual server checked by a program, with a
// backup director that never answers (so this one takes over and brings
// the VIP up) and the heartbeat on its privileged port.
const unprivilegedCf = `serial_no = 1
primary = 10.0.0.254
service = lvs
backup_active = 1
backup = 10.0.0.253
heartbeat = 1
heartbeat_port = 539
keepalive = 1
deadtime = 3
network = nat
nat_router = 10.0.1.254 d1:1
virtual www {
  active = 1
  address = 10.0.0.100 d0:1
  vip_nmask = 255.255.255.0
  port = 80
  scheduler = wlc
  protocol = tcp
  timeout = 2
  send_program = "/srv/check.sh %h"
  expect = "OK"
  server web1 {
    address = 10.0.1.1
    active = 1
    weight = 1
  }
}
`

// GuestServeUnprivileged runs lvsconsole serve as the Debian package's
// unit does: a user of its own, with only CAP_NET_ADMIN, CAP_NET_RAW and
// CAP_NET_BIND_SERVICE (ambient), an RLIMIT_RTPRIO for the heartbeat, its
// database in a 0700 directory it owns, which root's commands set up.
// It programs IPVS, brings the VIP up, binds the heartbeat's port 539 and
// runs the check program, which has no capabilities; nothing is refused
// for want of a permission. Then lvsconsole status and doctor, as root,
// see it.
func TestGuestServeUnprivileged(t *testing.T) {
	const uid, gid = 990, 990
	ns := "u"
	sh(t, `ip() { /sbin/ip "$@"; } # not busybox's
ip netns add u
ip -n u link set lo up
ip -n u link add d0 type dummy
ip -n u addr add 10.0.0.254/24 dev d0
ip -n u link set d0 up
ip -n u link add d1 type dummy
ip -n u addr add 10.0.1.250/24 dev d1
ip -n u link set d1 up
ip netns exec u /bin/sh -c 'echo 1 > /proc/sys/net/ipv4/ip_forward'
echo 'lvsconsole:x:990:990::/nonexistent:/bin/false' >> /etc/passwd
echo 'lvsconsole:x:990:' >> /etc/group
mkdir -p /var/lib/lvsconsole /srv/bin
chown 990:990 /var/lib/lvsconsole
chmod 0700 /var/lib/lvsconsole
mkdir -m 1777 /tmp/check-out
`)
	// The check program: root's, writing its own status where its user can.
	if err := os.WriteFile("/srv/check.sh", []byte("#!/bin/sh\ncat /proc/$$/status > /tmp/check-out/status.$$\necho OK\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod("/srv", 0o755)
	cf := "/srv/unprivileged.cf"
	if err := os.WriteFile(cf, []byte(unprivilegedCf), 0o644); err != nil {
		t.Fatal(err)
	}
	db := "/var/lib/lvsconsole/lvsconsole.db"
	// Root's commands set the database up; they become its directory's
	// owner to do it.
	for _, args := range [][]string{{"import", "-db", db, cf}, {"secret", "-db", db, "-generate"}} {
		if out, err := lvsconsoleIn(t, ns, args...); err != nil {
			t.Fatalf("lvsconsole %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	if out := sh(t, "ls -ln /var/lib/lvsconsole"); regexp.MustCompile(`(?m)^\S+\s+\d+\s+0\s`).MatchString(out) {
		t.Errorf("root's commands left root's files in the service's directory:\n%s", out)
	}

	// serve, as the unit runs it; LimitRTPRIO=10 as the unit sets it.
	if err := unix.Setrlimit(unix.RLIMIT_RTPRIO, &unix.Rlimit{Cur: 10, Max: 10}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var log syncBuffer
	serve := exec.CommandContext(ctx, os.Args[0], "serve", "-db", db, "-listen", "127.0.0.1:3636")
	serve.Env = []string{asMainVar + "=1", "PATH=/sbin:/bin:/usr/sbin:/usr/bin"}
	serve.Dir = "/"
	serve.Stdout, serve.Stderr = &log, &log
	serve.SysProcAttr = &syscall.SysProcAttr{
		Credential:  &syscall.Credential{Uid: uid, Gid: gid},
		AmbientCaps: []uintptr{unix.CAP_NET_ADMIN, unix.CAP_NET_RAW, unix.CAP_NET_BIND_SERVICE},
	}
	serve.Cancel = func() error { return serve.Process.Signal(syscall.SIGTERM) }
	serve.WaitDelay = 10 * time.Second
	if err := startInNS(ns, serve); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cancel()
		serve.Wait()
		t.Logf("serve's log:\n%s", log.String())
	}()
	wait := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(120 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 120 s; serve's log:\n%s", what, log.String())
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	// Start returns once the exec began, before the kernel gives serve
	// its new credentials: wait for them.
	var status []byte
	wait("serve as uid 990 with the three capabilities", func() bool {
		status, _ = os.ReadFile("/proc/" + strconv.Itoa(serve.Process.Pid) + "/status")
		return strings.Contains(string(status), "CapEff:\t0000000000003400") && strings.Contains(string(status), "Uid:\t990\t990\t990\t990")
	})
	for _, want := range []string{"CapPrm:\t0000000000003400", "CapAmb:\t0000000000003400"} {
		if !strings.Contains(string(status), want) {
			t.Errorf("serve's status lacks %q:\n%s", want, status)
		}
	}
	wait("the IPVS service with its real server", func() bool {
		c, err := dialNS(ns)
		if err != nil {
			return false
		}
		defer c.Close()
		key := ipvs.ServiceKey{Family: ipvs.FamilyIPv4, Protocol: ipvs.TCP, Addr: netip.MustParseAddr("10.0.0.100"), Port: 80}
		ds, err := c.Destinations(context.Background(), key)
		return err == nil && len(ds) == 1 && ds[0].Addr == netip.MustParseAddr("10.0.1.1")
	})
	wait("the VIP on d0", func() bool {
		out, _ := exec.Command("/sbin/ip", "-n", ns, "-4", "addr", "show", "dev", "d0").CombinedOutput()
		return strings.Contains(string(out), "10.0.0.100/24")
	})
	wait("the heartbeat bound to UDP port 539", func() bool {
		// IPv4 or dual-stack, whichever the heartbeat's socket is.
		b4, _ := os.ReadFile("/proc/" + strconv.Itoa(serve.Process.Pid) + "/net/udp")
		b6, _ := os.ReadFile("/proc/" + strconv.Itoa(serve.Process.Pid) + "/net/udp6")
		return regexp.MustCompile(`(?m)^\s*\d+: [0-9A-F]+:021B `).Match(append(b4, b6...))
	})
	var checked string
	wait("the check program's status", func() bool {
		fs, _ := filepath.Glob("/tmp/check-out/status.*")
		if len(fs) == 0 {
			return false
		}
		b, err := os.ReadFile(fs[0])
		checked = string(b)
		return err == nil && strings.Contains(checked, "NoNewPrivs")
	})
	for _, want := range []string{"Uid:\t990\t990\t990\t990", "CapInh:\t0000000000000000", "CapPrm:\t0000000000000000",
		"CapEff:\t0000000000000000", "CapAmb:\t0000000000000000", "NoNewPrivs:\t1"} {
		if !strings.Contains(checked, want) {
			t.Errorf("the check program's status lacks %q:\n%s", want, checked)
		}
	}
	wait("the heartbeat at real-time priority", func() bool {
		return strings.Contains(log.String(), "heartbeat thread at real-time priority")
	})

	// root reaches serve's local socket (serve's, 0600).
	out, err := lvsconsoleIn(t, ns, "status", "-db", db)
	if err != nil || !strings.Contains(out, "10.0.0.100:80") {
		t.Errorf("lvsconsole status as root: %v\n%s", err, out)
	}
	// doctor, as root, against the real kernel: IPVS, the schedulers, forwarding, the devices, the
	// database as serve's user's. (The peer is never heard: that check fails.)
	out, _ = lvsconsoleIn(t, ns, "doctor", "-db", db)
	t.Logf("lvsconsole doctor:\n%s", out)
	for _, want := range []string{`(?m)^pass\s+IPVS\s+IP Virtual Server version 1\.2\.1`, `(?m)^pass\s+schedulers\s+this kernel has rr wrr lc wlc .*the configuration uses wlc`,
		`(?m)^pass\s+net\.ipv4\.ip_forward`, `(?m)^pass\s+device d0`, `(?m)^pass\s+device d1`, `(?m)^pass\s+database /var/lib/lvsconsole/lvsconsole\.db\s+mode 0600, owner uid 990`,
		`(?m)^pass\s+database directory\s+mode 0700, owner uid 990`, `(?m)^pass\s+database migrations`, `(?m)^fail\s+peer\s+10\.0\.0\.253 is not heard on UDP port 539`} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("doctor's output lacks %s", want)
		}
	}
	// forwarding off: doctor fails it, and says how to fix it.
	sh(t, `/sbin/ip netns exec u /bin/sh -c 'echo 0 > /proc/sys/net/ipv4/ip_forward'`)
	out, err = lvsconsoleIn(t, ns, "doctor", "-db", db)
	if err == nil || !regexp.MustCompile(`(?m)^fail\s+net\.ipv4\.ip_forward.*\n\s+fix: sysctl -w net\.ipv4\.ip_forward=1`).MatchString(out) {
		t.Errorf("doctor with forwarding off: %v\n%s", err, out)
	}

	if bad := regexp.MustCompile(`(?i).*(permission denied|not permitted|EPERM|EACCES|without real-time).*`).FindAllString(log.String(), -1); len(bad) > 0 {
		t.Errorf("serve was refused something:\n%s", strings.Join(bad, "\n"))
	}
}
