package packaging

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// unitPath is where the package puts its unit.
const unitPath = "/lib/systemd/system/lvsconsole.service"

// wantCaps are the capabilities the unit gives serve: NET_ADMIN (IPVS,
// addresses), NET_RAW (ARP, ping), NET_BIND_SERVICE (port 539).
const wantCaps = 1<<unix.CAP_NET_ADMIN | 1<<unix.CAP_NET_RAW | 1<<unix.CAP_NET_BIND_SERVICE

// unit is what the tests take from the [Service] section of the unit, to
// start serve as systemd would.
type unit struct {
	user, group     string
	execStart       string
	environmentFile string // without its "-" (optional) prefix
	ambient         []uintptr
	bounding        []uintptr
	rtprio          uint64
	umask           int
}

// parseUnit reads a unit file's [Service] section: the keys the tests
// apply, each required.
func parseUnit(data []byte) (unit, error) {
	var u unit
	section := ""
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if line[0] == '[' {
			section = line
			continue
		}
		key, val, ok := strings.Cut(line, "=")
		if !ok {
			return u, fmt.Errorf("line %d: %q is not key=value", n, line)
		}
		if section != "[Service]" {
			continue
		}
		seen[key] = true
		var err error
		switch key {
		case "User":
			u.user = val
		case "Group":
			u.group = val
		case "ExecStart":
			u.execStart = val
		case "EnvironmentFile":
			u.environmentFile = strings.TrimPrefix(val, "-")
		case "AmbientCapabilities":
			u.ambient, err = parseCaps(val)
		case "CapabilityBoundingSet":
			u.bounding, err = parseCaps(val)
		case "LimitRTPRIO":
			u.rtprio, err = strconv.ParseUint(val, 10, 8)
		case "UMask":
			var m uint64
			m, err = strconv.ParseUint(val, 8, 12)
			u.umask = int(m)
		}
		if err != nil {
			return u, fmt.Errorf("line %d: %s: %v", n, key, err)
		}
	}
	var missing []string
	for _, k := range []string{"User", "Group", "ExecStart", "EnvironmentFile", "AmbientCapabilities", "CapabilityBoundingSet", "LimitRTPRIO", "UMask"} {
		if !seen[k] {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return u, fmt.Errorf("[Service] lacks %s", strings.Join(missing, ", "))
	}
	return u, sc.Err()
}

// capNames are the capabilities a unit of ours may name.
var capNames = map[string]uintptr{
	"CAP_NET_ADMIN":        unix.CAP_NET_ADMIN,
	"CAP_NET_RAW":          unix.CAP_NET_RAW,
	"CAP_NET_BIND_SERVICE": unix.CAP_NET_BIND_SERVICE,
	"CAP_SYS_NICE":         unix.CAP_SYS_NICE,
	"CAP_SYS_ADMIN":        unix.CAP_SYS_ADMIN,
}

func parseCaps(s string) ([]uintptr, error) {
	var caps []uintptr
	for _, f := range strings.Fields(s) {
		c, ok := capNames[f]
		if !ok {
			return nil, fmt.Errorf("unknown capability %q", f)
		}
		caps = append(caps, c)
	}
	return caps, nil
}

func capMask(caps []uintptr) uint64 {
	var m uint64
	for _, c := range caps {
		m |= 1 << c
	}
	return m
}

// parseEnvFile reads an EnvironmentFile: KEY=value lines, the value
// optionally in double quotes; comments and blank lines skipped.
func parseEnvFile(data []byte) (map[string]string, error) {
	env := map[string]string{}
	for n, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("line %d: %q is not KEY=value", n+1, line)
		}
		if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
			v = v[1 : len(v)-1]
		}
		env[strings.TrimSpace(k)] = v
	}
	return env, nil
}

// argv is ExecStart as systemd runs it: words split on spaces, and a word
// $NAME replaced by the words of NAME's value (systemd's unbraced form).
func (u unit) argv(env map[string]string) []string {
	var args []string
	for _, w := range strings.Fields(u.execStart) {
		if name, ok := strings.CutPrefix(w, "$"); ok {
			args = append(args, strings.Fields(env[name])...)
			continue
		}
		args = append(args, w)
	}
	return args
}

// account is a user's uid and gid from root's /etc/passwd and
// /etc/group, with the shell.
type account struct {
	uid, gid uint32
	home     string
	shell    string
}

// lookup finds user and group in the passwd and group files under root
// (not through the C library: root is not this process's /).
func lookup(root, user, group string) (account, error) {
	var a account
	pw, err := os.ReadFile(filepath.Join(root, "etc/passwd"))
	if err != nil {
		return a, err
	}
	found := false
	for _, l := range strings.Split(string(pw), "\n") {
		f := strings.Split(l, ":")
		if len(f) == 7 && f[0] == user {
			uid, err1 := strconv.ParseUint(f[2], 10, 32)
			gid, err2 := strconv.ParseUint(f[3], 10, 32)
			if err1 != nil || err2 != nil {
				return a, fmt.Errorf("passwd line %q", l)
			}
			a = account{uid: uint32(uid), gid: uint32(gid), home: f[5], shell: f[6]}
			found = true
		}
	}
	if !found {
		return a, fmt.Errorf("no user %s in %s/etc/passwd", user, root)
	}
	gr, err := os.ReadFile(filepath.Join(root, "etc/group"))
	if err != nil {
		return a, err
	}
	for _, l := range strings.Split(string(gr), "\n") {
		f := strings.Split(l, ":")
		if len(f) == 4 && f[0] == group {
			gid, err := strconv.ParseUint(f[2], 10, 32)
			if err != nil || uint32(gid) != a.gid {
				return a, fmt.Errorf("group %s is %q, the user's gid %d", group, f[2], a.gid)
			}
			return a, nil
		}
	}
	return a, fmt.Errorf("no group %s in %s/etc/group", group, root)
}

// command is the unit's ExecStart (or another command line, args) as
// systemd would start it: in root (chroot; "" or "/" for none), as the
// unit's user and group with no supplementary groups, the unit's ambient
// capabilities (caps, nil for none), a service's clean environment plus
// env, in /. The unit's UMask and LimitRTPRIO are set on this process
// (inherited: a test binary that runs this is the service's launcher).
func command(root string, u unit, a account, caps []uintptr, env map[string]string, args []string) *exec.Cmd {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential:  &syscall.Credential{Uid: a.uid, Gid: a.gid, Groups: []uint32{}},
		AmbientCaps: caps,
		Setpgid:     true,
	}
	if root != "" && root != "/" {
		cmd.SysProcAttr.Chroot = root
	}
	return cmd
}

// applyLimits sets the unit's UMask and LimitRTPRIO on this process, for
// the service it starts next. Raising RLIMIT_RTPRIO needs
// CAP_SYS_RESOURCE, which a container's root may lack: unless strict,
// that is logged (serve's heartbeat, which needs it, runs only with a
// peer).
func applyLimits(t *testing.T, u unit, strict bool) {
	t.Helper()
	syscall.Umask(u.umask)
	if err := unix.Setrlimit(unix.RLIMIT_RTPRIO, &unix.Rlimit{Cur: u.rtprio, Max: u.rtprio}); err != nil {
		if strict {
			t.Fatalf("LimitRTPRIO=%d: %v", u.rtprio, err)
		}
		t.Logf("LimitRTPRIO=%d not applied (%v): this machine's root lacks CAP_SYS_RESOURCE", u.rtprio, err)
	}
}

// procStatus is /proc/PID/status's fields.
func procStatus(pid int) (map[string]string, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	for _, l := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok {
			m[k] = strings.TrimSpace(v)
		}
	}
	return m, nil
}

// checkProcess: pid runs as a's uid and gid, with exactly the
// capabilities want effective, permitted and ambient.
func checkProcess(t *testing.T, pid int, a account, want uint64) {
	t.Helper()
	st, err := procStatus(pid)
	if err != nil {
		t.Fatal(err)
	}
	u := fmt.Sprint(a.uid)
	if f := strings.Fields(st["Uid"]); len(f) != 4 || f[0] != u || f[1] != u || f[2] != u || f[3] != u {
		t.Errorf("serve's Uid: %q, want %s everywhere", st["Uid"], u)
	}
	g := fmt.Sprint(a.gid)
	if f := strings.Fields(st["Gid"]); len(f) != 4 || f[0] != g || f[1] != g {
		t.Errorf("serve's Gid: %q, want %s", st["Gid"], g)
	}
	if st["Groups"] != "" {
		t.Errorf("serve's supplementary groups: %q, want none", st["Groups"])
	}
	for _, k := range []string{"CapEff", "CapPrm", "CapAmb"} {
		got, err := strconv.ParseUint(st[k], 16, 64)
		if err != nil || got != want {
			t.Errorf("serve's %s: %s, want %016x (NET_ADMIN, NET_RAW, NET_BIND_SERVICE)", k, st[k], want)
		}
	}
}

// waitLogin polls url until the console answers it with 200, the process
// ends (exited is closed) or the deadline passes.
func waitLogin(t *testing.T, url string, exited <-chan struct{}, log func() string) {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext: (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
	}}
	deadline := time.Now().Add(90 * time.Second)
	for {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			err = fmt.Errorf("status %s", resp.Status)
		}
		select {
		case <-exited:
			t.Fatalf("serve ended before answering %s (%v); its output:\n%s", url, err, log())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not answer %s within 90 s: %v; its output:\n%s", url, err, log())
		}
		time.Sleep(100 * time.Millisecond) // polling the console, with a deadline
	}
}

// lockedBuffer keeps a program's output, bounded.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() > 256<<10 {
		l.b.Reset()
		l.b.WriteString("[... earlier output cut]\n")
	}
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// service is a started serve.
type service struct {
	cmd    *exec.Cmd
	out    *lockedBuffer
	exited chan struct{} // closed when it ended; err is then its Wait's
	err    error
}

// start starts cmd, its output kept; the test's cleanup kills it if it
// still runs.
func start(t *testing.T, cmd *exec.Cmd) *service {
	t.Helper()
	s := &service{cmd: cmd, out: &lockedBuffer{}, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = s.out, s.out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %v: %v", cmd.Args, err)
	}
	go func() { s.err = cmd.Wait(); close(s.exited) }()
	t.Cleanup(func() {
		select {
		case <-s.exited:
		default:
			cmd.Process.Kill()
			<-s.exited
		}
	})
	return s
}

// stop sends SIGTERM, as systemctl stop does, and waits for a clean exit.
func (s *service) stop(t *testing.T) {
	t.Helper()
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(60 * time.Second):
		s.cmd.Process.Kill()
		<-s.exited
		t.Fatalf("serve did not stop within 60 s of SIGTERM; its output:\n%s", s.out.String())
	}
	if s.err != nil {
		t.Errorf("serve ended with %v after SIGTERM; its output:\n%s", s.err, s.out.String())
	}
}
