//go:build linux && cgo && !osusergo

package pamauth

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/msteinert/pam/v2"

	"github.com/lvsconsole/lvsconsole/internal/testenv"
	"github.com/lvsconsole/lvsconsole/store"
)

// The tests run Linux-PAM for real: service files the test writes in a
// temporary directory (pam_start_confdir), Debian's modules (pam_permit,
// pam_deny, pam_unix), and system users and groups the test adds to
// copies of /etc/passwd, /etc/group and /etc/shadow bind-mounted over the
// host's in a mount namespace of its own: nothing of the host changes,
// and the mounts go with the test's process.

// nsVar is set in the copy of a test that runs in its own mount namespace.
const nsVar = "LVSCONSOLE_PAM_TEST_NS"

// systemPassword is the password of every test user; systemHash is its
// SHA-512 crypt (openssl passwd -6 -salt lvsconsoletest 'system password 1').
const (
	systemPassword = "system password 1"
	systemHash     = "$6$lvsconsoletest$X702COicClgcJKGbNe9Qmh57Kfuny.synWLIwjIwolCMGAetAx.xLC8XOcCO4stcdgOd.L.9wxI46VDezFG1/."
)

// The test's groups and users, far above the host's ids.
const (
	groupView  = "lvst-view"
	groupOp    = "lvst-op"
	groupAdmin = "lvst-admin"
	groupOther = "lvst-other"
)

var testGroups = []struct {
	name    string
	gid     int
	members []string
}{
	{groupView, 61100, []string{"lvst-ann", "lvst-cat"}},
	{groupOp, 61101, []string{"lvst-bob"}},
	{groupAdmin, 61102, []string{"lvst-ann", "lvst-fay"}},
	{groupOther, 61103, []string{"lvst-dan"}},
}

var testUsers = []struct {
	name string
	uid  int
	gid  int // primary group
	// lastChange is /etc/shadow's third field: "0" makes the user change
	// their password at the next login (pam_acct_mgmt says so).
	lastChange string
}{
	{"lvst-ann", 61000, 61103, "20000"}, // viewer and admin: admin
	{"lvst-bob", 61001, 61103, "20000"}, // operator
	{"lvst-cat", 61002, 61103, "20000"}, // viewer
	{"lvst-dan", 61003, 61103, "20000"}, // in no group of a role
	{"lvst-eve", 61004, 61101, "20000"}, // operator by her primary group
	{"lvst-fay", 61005, 61103, "0"},     // admin, password expired
}

var roles = map[store.Scope]string{store.ScopeRead: groupView, store.ScopeOperator: groupOp, store.ScopeAdmin: groupAdmin}

// inNamespace runs the calling test again, in a mount namespace of its
// own, and checks that it passed (false: the caller returns); in that copy
// it adds the test's users and groups and returns true. The group file
// it returns is the one mounted over /etc/group, which the test may
// rewrite.
func inNamespace(t testing.TB) (groupFile string, ok bool) {
	t.Helper()
	testenv.Linux(t)
	testenv.Root(t)
	if os.Getenv(nsVar) == "" {
		args, passed := []string{"-test.run=^" + t.Name() + "$", "-test.count=1", "-test.v"}, "--- PASS: "+t.Name()
		if b, ok := t.(*testing.B); ok { // a benchmark: its figures are in the output
			if b.N != 1 {
				return "", false // the copy ran at the first call, with b.N = 1
			}
			args, passed = []string{"-test.run=^$", "-test.bench=^" + t.Name() + "$", "-test.benchtime=" + benchtime(b)}, "\nPASS\n"
		}
		cmd := exec.Command(os.Args[0], args...)
		cmd.Env = append(os.Environ(), nsVar+"=1")
		cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS} // Go makes the mounts private
		out, err := cmd.CombinedOutput()
		t.Logf("in a mount namespace of its own:\n%s", out)
		if err != nil || !bytes.Contains(out, []byte(passed)) {
			t.Fatalf("the test in its mount namespace failed: %v", err)
		}
		return "", false
	}
	dir := t.TempDir()
	var passwd, group, shadow strings.Builder
	for _, u := range testUsers {
		fmt.Fprintf(&passwd, "%s:x:%d:%d::/nonexistent:/usr/sbin/nologin\n", u.name, u.uid, u.gid)
		fmt.Fprintf(&shadow, "%s:%s:%s:0:99999:7:::\n", u.name, systemHash, u.lastChange)
	}
	for _, g := range testGroups {
		fmt.Fprintf(&group, "%s:x:%d:%s\n", g.name, g.gid, strings.Join(g.members, ","))
	}
	for name, add := range map[string]string{"passwd": passwd.String(), "group": group.String(), "shadow": shadow.String()} {
		host, err := os.ReadFile("/etc/" + name)
		if err != nil {
			t.Fatal(err)
		}
		copied := filepath.Join(dir, name)
		mode := os.FileMode(0o644)
		if name == "shadow" {
			mode = 0o600
		}
		if err := os.WriteFile(copied, append(host, add...), mode); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Mount(copied, "/etc/"+name, "", syscall.MS_BIND, ""); err != nil {
			t.Fatalf("bind-mounting %s over /etc/%s: %v", copied, name, err)
		}
	}
	return filepath.Join(dir, "group"), true
}

// services writes PAM service files in a temporary directory, for
// Config.ConfDir.
func services(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func newAuth(t testing.TB, confDir, service string) *Auth {
	t.Helper()
	a, err := New(Config{Service: service, ConfDir: confDir, Groups: roles})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestPAMRoles maps system groups to roles behind pam_permit (anyone is
// authenticated: the mapping alone decides) and refuses behind pam_deny.
func TestPAMRoles(t *testing.T) {
	if _, ok := inNamespace(t); !ok {
		return
	}
	dir := services(t, map[string]string{
		"permit": "auth required pam_permit.so\naccount required pam_permit.so\n",
		"deny":   "auth required pam_deny.so\naccount required pam_permit.so\n",
	})
	permit, deny := newAuth(t, dir, "permit"), newAuth(t, dir, "deny")
	for _, c := range []struct {
		user string
		want store.Scope
		err  error
	}{
		{"lvst-ann", store.ScopeAdmin, nil}, // viewer too: the highest wins
		{"lvst-bob", store.ScopeOperator, nil},
		{"lvst-cat", store.ScopeRead, nil},
		{"lvst-eve", store.ScopeOperator, nil}, // by her primary group
		{"lvst-dan", store.ScopeNone, store.ErrNoRole},
		{"lvst-nobody", store.ScopeNone, store.ErrNoRole}, // pam_permit lets in a user the system does not know
	} {
		got, err := permit.Authenticate(c.user, "any password", "192.0.2.1")
		if got != c.want || !errors.Is(err, c.err) || (c.err == nil) != (err == nil) {
			t.Errorf("pam_permit, %s: %v, %v; want %v, %v", c.user, store.RoleName(got), err, store.RoleName(c.want), c.err)
		}
		if got, err := deny.Authenticate(c.user, systemPassword, ""); !errors.Is(err, store.ErrBadPassword) || got != store.ScopeNone {
			t.Errorf("pam_deny, %s: %v, %v; want %v", c.user, store.RoleName(got), err, store.ErrBadPassword)
		}
	}
	if _, err := permit.Authenticate("lvst-dan", "x", ""); err == nil || !strings.Contains(err.Error(), "lvst-dan is in "+groupOther) {
		t.Errorf("lvst-dan's refusal %v does not name his groups", err)
	}
	// A service file that does not exist: Linux-PAM takes "other" from
	// the same directory, here none: an error of the system, not a
	// wrong password.
	if _, err := newAuth(t, dir, "absent").Authenticate("lvst-ann", systemPassword, ""); err == nil || errors.Is(err, store.ErrBadPassword) {
		t.Errorf("a service without a file: %v, want an error that is not a wrong password", err)
	}
}

// TestPAMUnix checks passwords with pam_unix against the test's
// /etc/shadow, and that the conversation answers the password prompt
// only.
func TestPAMUnix(t *testing.T) {
	if _, ok := inNamespace(t); !ok {
		return
	}
	dir := services(t, map[string]string{
		"unix": "auth required pam_unix.so nodelay\naccount required pam_unix.so\n",
	})
	unix := newAuth(t, dir, "unix")
	if got, err := unix.Authenticate("lvst-ann", systemPassword, "192.0.2.1"); err != nil || got != store.ScopeAdmin {
		t.Errorf("the right password: %v, %v; want admin", store.RoleName(got), err)
	}
	for _, c := range []struct{ what, user, password string }{
		{"a wrong password", "lvst-ann", "system password 2"},
		{"an empty password", "lvst-ann", ""},
		{"an unknown user", "lvst-nobody", systemPassword},
		{"an expired password (pam_acct_mgmt)", "lvst-fay", systemPassword},
	} {
		if got, err := unix.Authenticate(c.user, c.password, ""); !errors.Is(err, store.ErrBadPassword) {
			t.Errorf("%s: %v, %v; want %v", c.what, store.RoleName(got), err, store.ErrBadPassword)
		}
	}
}

// TestConversation: the conversation gives the password once, to a prompt
// that does not echo, and answers nothing else. (Debian's modules do not
// prompt twice: pam_unix takes the password PAM keeps after the first.)
func TestConversation(t *testing.T) {
	conv := conversation("secret")
	if got, err := conv(pam.TextInfo, "welcome"); got != "" || err != nil {
		t.Errorf("a message: %q, %v", got, err)
	}
	if got, err := conv(pam.PromptEchoOn, "login: "); got != "" || err == nil {
		t.Errorf("an echoed prompt: %q, %v; want no answer", got, err)
	}
	if got, err := conv(pam.PromptEchoOff, "Password: "); got != "secret" || err != nil {
		t.Errorf("the password prompt: %q, %v", got, err)
	}
	if got, err := conv(pam.PromptEchoOff, "New password: "); got != "" || err == nil {
		t.Errorf("a second password prompt: %q, %v; want no answer", got, err)
	}
}

// unprivVar, in a copy of TestPAMUnixUnprivileged run as nobody, names
// the service directory; wantVar says what that copy must get.
const (
	unprivVar = "LVSCONSOLE_PAM_TEST_UNPRIV"
	wantVar   = "LVSCONSOLE_PAM_TEST_WANT"
)

// TestPAMUnixUnprivileged checks pam_unix from a process as the package
// runs serve: not root, with no new privileges (systemd's
// NoNewPrivileges), so that pam_unix's setgid helper unix_chkpwd gets no
// group shadow from its file. With the group shadow given to the process
// (the drop-in /etc/pam.d/lvsconsole and the README describe) the right
// password logs in; without it PAM cannot read the hash, and says so as
// an error of the system, not as a wrong password.
func TestPAMUnixUnprivileged(t *testing.T) {
	if dir := os.Getenv(unprivVar); dir != "" {
		role, err := newAuth(t, dir, "unix").Authenticate("lvst-ann", systemPassword, "")
		t.Logf("with groups %v: %s, %v", groupsOf(t), store.RoleName(role), err)
		switch os.Getenv(wantVar) {
		case "admin":
			if err != nil || role != store.ScopeAdmin {
				t.Errorf("with the group shadow: %s, %v; want admin", store.RoleName(role), err)
			}
		case "unavailable":
			if err == nil || errors.Is(err, store.ErrBadPassword) {
				t.Errorf("without the group shadow: %s, %v; want an error of the system", store.RoleName(role), err)
			}
		default:
			t.Fatalf("%s=%q", wantVar, os.Getenv(wantVar))
		}
		return
	}
	if _, ok := inNamespace(t); !ok {
		return
	}
	testenv.Commands(t, "setpriv")
	shadow, err := user.LookupGroup("shadow")
	if err != nil {
		t.Fatal(err)
	}
	gid, _ := strconv.Atoi(shadow.Gid)
	// The test's /etc/shadow as Debian's: root:shadow 0640.
	if err := os.Chown("/etc/shadow", 0, gid); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod("/etc/shadow", 0o640); err != nil {
		t.Fatal(err)
	}
	// A directory nobody can read, with the services and this test binary.
	dir, err := os.MkdirTemp("", "pamauth")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "unix"), []byte("auth required pam_unix.so nodelay\naccount required pam_unix.so\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bin, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	test := filepath.Join(dir, "pamauth.test")
	if err := os.WriteFile(test, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ groups, want string }{
		{"--groups=" + shadow.Gid, "admin"},
		{"--clear-groups", "unavailable"},
	} {
		cmd := exec.Command("setpriv", "--reuid=65534", "--regid=65534", c.groups, "--no-new-privs",
			test, "-test.run=^TestPAMUnixUnprivileged$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), unprivVar+"="+dir, wantVar+"="+c.want)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		t.Logf("setpriv %s --no-new-privs as nobody:\n%s", c.groups, out)
		if err != nil || !bytes.Contains(out, []byte("--- PASS: TestPAMUnixUnprivileged")) {
			t.Errorf("as nobody (%s), want %s: %v", c.groups, c.want, err)
		}
	}
}

func groupsOf(t *testing.T) []int {
	gs, err := syscall.Getgroups()
	if err != nil {
		t.Fatal(err)
	}
	return gs
}

// benchtime is the -test.benchtime b runs with, for its copy.
func benchtime(b *testing.B) string {
	if f := flag.Lookup("test.benchtime"); f != nil {
		return f.Value.String()
	}
	return "1s"
}

// BenchmarkPAMUnix: a password checked by pam_unix (SHA-512 crypt in
// the test's /etc/shadow, as root) and the role mapped from the groups;
// a wrong password costs pam_unix's fail delay (about 2 s) unless nodelay.
//
//	go test -run '^$' -bench PAMUnix -benchtime 5x ./internal/pamauth/
func BenchmarkPAMUnix(b *testing.B) {
	if _, ok := inNamespace(b); !ok {
		return
	}
	dir := services(b, map[string]string{
		"unix":    "auth required pam_unix.so\naccount required pam_unix.so\n",
		"nodelay": "auth required pam_unix.so nodelay\naccount required pam_unix.so\n",
	})
	for _, c := range []struct{ name, service, password string }{
		{"right", "unix", systemPassword},
		{"wrong", "unix", "system password 2"},
		{"wrong-nodelay", "nodelay", "system password 2"},
	} {
		a := newAuth(b, dir, c.service)
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				_, err := a.Authenticate("lvst-ann", c.password, "")
				if (err == nil) != (c.password == systemPassword) {
					b.Fatal(err)
				}
			}
		})
	}
}
