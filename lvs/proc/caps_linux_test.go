package proc

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/internal/testenv"
	"golang.org/x/sys/unix"
)

// statusScript prints the status lines of the shell Run starts, then
// "---", then the environment it was given (from /proc, so that nothing
// the shell adds is counted).
var statusScript = shell(`/usr/bin/grep -E '^(Uid|Cap|NoNewPrivs)' /proc/$$/status; echo ---; /usr/bin/tr '\0' '\n' < /proc/$$/environ`)

// programStatus runs statusScript through Run and parses what it printed.
func programStatus(t *testing.T) (status map[string]string, environ []string) {
	t.Helper()
	r, err := Run(context.Background(), statusScript, Options{Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Success() {
		t.Fatalf("the script %s: %s", r.Status(), r.Stderr)
	}
	return parseStatus(t, r.Stdout.String())
}

func parseStatus(t *testing.T, out string) (map[string]string, []string) {
	t.Helper()
	head, env, ok := strings.Cut(out, "---\n")
	if !ok {
		t.Fatalf("the script printed %q", out)
	}
	status := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(head), "\n") {
		k, v, _ := strings.Cut(l, ":")
		status[k] = strings.TrimSpace(v)
	}
	return status, strings.Fields(env)
}

// wantNoCapabilities checks what programStatus found: no capabilities in
// any set (the bounding set too when bounding is set), no_new_privs, and
// the minimal environment, nothing else.
func wantNoCapabilities(t *testing.T, status map[string]string, environ []string, bounding bool) {
	t.Helper()
	const none = "0000000000000000"
	sets := []string{"CapInh", "CapPrm", "CapEff", "CapAmb"}
	if bounding {
		sets = append(sets, "CapBnd")
	}
	for _, k := range sets {
		if status[k] != none {
			t.Errorf("the program's %s is %q, want %s", k, status[k], none)
		}
	}
	if status["NoNewPrivs"] != "1" {
		t.Errorf("the program's NoNewPrivs is %q, want 1", status["NoNewPrivs"])
	}
	if got, want := strings.Join(environ, " "), strings.Join(env(), " "); got != want {
		t.Errorf("the program's environment is %q, want %q", got, want)
	}
}

// threadCaps is CapEff of every thread of this process.
func threadCaps(t *testing.T) map[string]string {
	t.Helper()
	tasks, err := filepath.Glob("/proc/self/task/*/status")
	if err != nil {
		t.Fatal(err)
	}
	caps := map[string]string{}
	for _, f := range tasks {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // the thread ended meanwhile
		}
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "CapEff:"); ok {
				caps[f] = strings.TrimSpace(v)
			}
		}
	}
	return caps
}

// TestRunNoCapabilitiesAsRoot: run by root (all capabilities), a program
// starts with none, not even in its bounding set, and with
// no_new_privs; the test process keeps its own in every thread once the
// thread that started the program is gone.
func TestRunNoCapabilitiesAsRoot(t *testing.T) {
	testenv.Root(t)
	own, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	mine, _ := parseStatusFile(string(own))
	if mine["CapEff"] == "0000000000000000" {
		t.Fatalf("root without capabilities (CapEff %s): the test proves nothing", mine["CapEff"])
	}
	status, environ := programStatus(t)
	if status["Uid"] == "" || !strings.HasPrefix(status["Uid"], "0") {
		t.Errorf("the program ran as uid %q, want root's", status["Uid"])
	}
	wantNoCapabilities(t, status, environ, true)

	var odd map[string]string
	waitFor(t, 10*time.Second, "every thread of the test with its capabilities", func() bool {
		odd = map[string]string{}
		for task, c := range threadCaps(t) {
			if c != mine["CapEff"] {
				odd[task] = c
			}
		}
		if len(odd) > 0 {
			t.Logf("threads without the test's CapEff %s: %v", mine["CapEff"], odd)
		}
		return len(odd) == 0
	})
	// A second run works as the first: nothing of the first stayed behind.
	status, environ = programStatus(t)
	wantNoCapabilities(t, status, environ, true)
}

func parseStatusFile(s string) (map[string]string, bool) {
	m := map[string]string{}
	for _, l := range strings.Split(s, "\n") {
		k, v, ok := strings.Cut(l, ":")
		if ok {
			m[k] = strings.TrimSpace(v)
		}
	}
	return m, len(m) > 0
}

// helperVar makes the test binary TestRunHelper's helper process.
const helperVar = "LVSCONSOLE_PROC_HELPER"

// TestRunNoCapabilitiesAmbient: a process that is not root but has
// ambient capabilities, as serve under its systemd unit, runs programs
// with none (the bounding set stays: only CAP_SETPCAP can drop it, and
// no_new_privs keeps exec from using it).
func TestRunNoCapabilitiesAmbient(t *testing.T) {
	testenv.Root(t)
	// The test binary, where the helper's user can run it.
	dir, err := os.MkdirTemp("", "proc-caps-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(dir, "proc.test")
	copyFile(t, exe)

	const uid, gid = 65534, 65534
	ambient := []uintptr{unix.CAP_NET_ADMIN, unix.CAP_NET_RAW, unix.CAP_NET_BIND_SERVICE}
	cmd := exec.Command(exe, "-test.run=^TestRunHelper$", "-test.count=1")
	cmd.Env = []string{helperVar + "=1", "HOME=/nonexistent", "EXTRA=should-not-reach"}
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: gid}, AmbientCaps: ambient}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helper: %v\n%s", err, out)
	}
	helper, program, ok := strings.Cut(string(out), "=== program\n")
	if !ok {
		t.Fatalf("the helper printed %q", out)
	}
	// The helper had its ambient capabilities: the test means something.
	hs, _ := parseStatusFile(helper)
	const netCaps = "0000000000003400" // NET_BIND_SERVICE (10), NET_ADMIN (12), NET_RAW (13)
	if hs["CapAmb"] != netCaps || hs["CapEff"] != netCaps || !strings.HasPrefix(hs["Uid"], "65534") {
		t.Fatalf("the helper ran as uid %q with ambient %q effective %q, want 65534 with %s", hs["Uid"], hs["CapAmb"], hs["CapEff"], netCaps)
	}
	program, _, _ = strings.Cut(program, "=== end\n")
	status, environ := parseStatus(t, program)
	if !strings.HasPrefix(status["Uid"], "65534") {
		t.Errorf("the program ran as uid %q, want 65534", status["Uid"])
	}
	wantNoCapabilities(t, status, environ, false)
}

// TestRunHelper is TestRunNoCapabilitiesAmbient's helper process: it
// prints its own status, then what Run's program printed.
func TestRunHelper(t *testing.T) {
	if os.Getenv(helperVar) == "" {
		return // only as a helper
	}
	own, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	r, err := Run(context.Background(), statusScript, Options{Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Success() {
		t.Fatalf("the script %s: %s", r.Status(), r.Stderr)
	}
	os.Stdout.Write(own)
	os.Stdout.WriteString("=== program\n" + r.Stdout.String() + "=== end\n")
}

// copyFile copies the running test binary to name, mode 0755.
func copyFile(t *testing.T, name string) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	in, err := os.Open(self)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(name, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}
