//go:build guest

package packaging

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestGuestPackageServe runs in the guest (TestPackageInGuest): an import
// and serve of the package's binary as the user lvsconsole, started as
// the installed unit says; serve must program the virtual server into the
// kernel's IPVS table and bring its address up, with no capability but
// the unit's three.
func TestGuestPackageServe(t *testing.T) {
	data, err := os.ReadFile(unitPath)
	if err != nil {
		t.Fatal(err)
	}
	u, err := parseUnit(data)
	if err != nil {
		t.Fatalf("%s: %v", unitPath, err)
	}
	if capMask(u.ambient) != wantCaps {
		t.Fatalf("%s: AmbientCapabilities %v, want NET_ADMIN, NET_RAW, NET_BIND_SERVICE", unitPath, u.ambient)
	}
	a, err := lookup("/", u.user, u.group)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(u.environmentFile, []byte("LVSCONSOLE_OPTS=\"-listen 127.0.0.1:3636\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	env, err := parseEnvFile([]byte("LVSCONSOLE_OPTS=\"-listen 127.0.0.1:3636\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	argv := u.argv(env)
	i := slices.Index(argv, "-db")
	if i < 0 || i+1 >= len(argv) {
		t.Fatalf("ExecStart %v has no -db", argv)
	}
	db := argv[i+1]
	applyLimits(t, u, true)

	// The admin's import and peer secret, as the service's user (no
	// capabilities needed), as README's "Install on two directors" says.
	for _, args := range [][]string{{"import", "-db", db, "/srv/lvs.cf"}, {"secret", "-generate", "-db", db}} {
		cmd := command("/", u, a, nil, nil, append([]string{argv[0]}, args...))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("lvsconsole %s as %s: %v\n%s", strings.Join(args, " "), u.user, err, out)
		}
	}

	s := start(t, command("/", u, a, u.ambient, env, argv))
	waitLogin(t, "http://127.0.0.1:3636/login", s.exited, s.out.String)
	checkProcess(t, s.cmd.Process.Pid, a, wantCaps)

	// The engine's reconcile and failover's address, polled with a deadline.
	deadline := time.Now().Add(60 * time.Second)
	for {
		table, _ := exec.Command("ipvsadm", "-Ln").CombinedOutput()
		addrs, _ := exec.Command("/sbin/ip", "-4", "addr", "show", "dev", "eth0").CombinedOutput()
		if strings.Contains(string(table), "TCP  192.0.2.100:80 wlc") && strings.Contains(string(addrs), "192.0.2.100/") {
			t.Logf("ipvsadm -Ln:\n%s\nip addr show dev eth0:\n%s", table, addrs)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("within 60 s serve did not program TCP 192.0.2.100:80 and its address:\nipvsadm -Ln:\n%s\nip addr:\n%s\nserve's output:\n%s", table, addrs, s.out.String())
		}
		select {
		case <-s.exited:
			t.Fatalf("serve ended: %v\n%s", s.err, s.out.String())
		case <-time.After(200 * time.Millisecond): // polling the kernel, with a deadline
		}
	}
	// The heartbeat: its helper bound UDP 539 (0x021B in /proc/net/udp)
	// and its thread runs at real-time priority.
	udp, err := os.ReadFile("/proc/net/udp")
	if err != nil || !strings.Contains(string(udp), ":021B ") {
		t.Errorf("nothing bound UDP port 539 (%v):\n%s", err, udp)
	}
	if out := s.out.String(); !strings.Contains(out, "heartbeat thread at real-time priority") || strings.Contains(out, "without real-time priority") {
		t.Errorf("the heartbeat thread is not at real-time priority; serve's output:\n%s", out)
	}
	s.stop(t)
	t.Logf("serve's output:\n%s", s.out.String())
}
