//go:build !guest

package packaging

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/lvsconsole/lvsconsole/internal/testenv"
	"golang.org/x/sys/unix"
)

// Set by TestPackageInstall for the copy of itself it runs in a mount and
// network namespace of its own: the directory to build the throwaway root
// in, and the package.
const (
	rootVar = "LVSCONSOLE_PKG_ROOT"
	debVar  = "LVSCONSOLE_PKG_DEB"
)

// builtDeb is the package `make package` built for this checkout's
// version (out/lvsconsole_<version>_amd64.deb), or $LVSCONSOLE_DEB (an
// absolute path) as it is. `make test` builds it before the tests.
func builtDeb(t *testing.T) string {
	t.Helper()
	deb := os.Getenv("LVSCONSOLE_DEB")
	if deb == "" {
		version, err := exec.Command("sh", "version.sh").Output()
		if err != nil {
			t.Fatalf("packaging/version.sh: %v", err)
		}
		deb = "../out/lvsconsole_" + strings.TrimSpace(string(version)) + "_amd64.deb"
		if _, err := os.Stat(deb); err != nil {
			testenv.Missing(t, "the Debian package of this checkout, "+deb, "run `make package`, or "+testenv.HowToRunAll)
		}
	}
	abs, err := filepath.Abs(deb)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

// TestPackageInstall installs the package with dpkg into a throwaway root
// (an overlay over this host's /, in a mount namespace of its own, so that
// nothing of the host changes): the user lvsconsole, its 0700 database
// directory, the binary, the conffile, the unit enabled; then starts serve
// as the installed unit says (user, ambient capabilities, ExecStart with
// /etc/default/lvsconsole's flags) in a network namespace of its own and
// waits for the console's login page; then removes and purges the package.
// (This kernel has no IPVS: serve's engine says so; TestPackageInGuest runs
// the package on a real IPVS.)
func TestPackageInstall(t *testing.T) {
	testenv.Root(t)
	testenv.Commands(t, "dpkg", "adduser", "ip", "deb-systemd-helper")
	if dir := os.Getenv(rootVar); dir != "" {
		installInRoot(t, dir, os.Getenv(debVar))
		return
	}
	deb := builtDeb(t)
	// A copy of this test in its own mount namespace (Go makes its mounts
	// private) and network namespace: all the mounts go with it.
	cmd := exec.Command(os.Args[0], "-test.run=^TestPackageInstall$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), rootVar+"="+t.TempDir(), debVar+"="+deb)
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS | syscall.CLONE_NEWNET}
	out, err := cmd.CombinedOutput()
	t.Logf("in the throwaway root:\n%s", out)
	if err != nil || !bytes.Contains(out, []byte("--- PASS: TestPackageInstall")) {
		t.Fatalf("the test in the throwaway root failed: %v", err)
	}
}

// installInRoot is TestPackageInstall inside its namespaces; dir is empty
// and is the host's: everything is made on a tmpfs mounted over it, which
// goes when this process ends.
func installInRoot(t *testing.T, dir, deb string) {
	if out, err := exec.Command("ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("ip link set lo up: %v\n%s", err, out)
	}
	root := mountRoot(t, dir)
	data, err := os.ReadFile(deb)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "tmp/lvsconsole.deb"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	in := func(args ...string) string { // a command in root, as root
		t.Helper()
		cmd := exec.Command(args[0], args[1:]...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: root}
		cmd.Dir = "/"
		cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8", "DEBIAN_FRONTEND=noninteractive"}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	exists := func(p string) bool {
		_, err := os.Lstat(filepath.Join(root, p))
		return err == nil
	}

	t.Logf("dpkg -i:\n%s", in("dpkg", "-i", "/tmp/lvsconsole.deb"))

	u := readUnit(t, root)
	a, err := lookup(root, u.user, u.group)
	if err != nil {
		t.Fatal(err)
	}
	if a.uid == 0 || a.uid >= 1000 || a.gid == 0 || a.gid >= 1000 {
		t.Errorf("user %s: uid %d gid %d, want a system user and group (1-999)", u.user, a.uid, a.gid)
	}
	if a.shell != "/usr/sbin/nologin" || a.home != "/var/lib/lvsconsole" {
		t.Errorf("user %s: home %s shell %s, want /var/lib/lvsconsole and /usr/sbin/nologin", u.user, a.home, a.shell)
	}
	checkOwned(t, filepath.Join(root, "var/lib/lvsconsole"), a, fs.ModeDir|0o700)
	if out, err := exec.Command("chroot", root, "/usr/bin/lvsconsole", "-h").CombinedOutput(); !strings.Contains(string(out), "usage: lvsconsole COMMAND") {
		t.Errorf("lvsconsole -h: %v\n%s", err, out)
	}
	if c := in("dpkg-query", "-W", "-f=${Conffiles}", "lvsconsole"); !strings.Contains(c, "/etc/default/lvsconsole ") ||
		!strings.Contains(c, "/etc/pam.d/lvsconsole ") {
		t.Errorf("the package's conffiles: %q, want /etc/default/lvsconsole and /etc/pam.d/lvsconsole", c)
	}
	const wants = "etc/systemd/system/multi-user.target.wants/lvsconsole.service"
	if !exists(wants) {
		t.Errorf("the unit is not enabled: no %s", wants)
	}
	for _, p := range []string{"usr/lib/modules-load.d/lvsconsole.conf", "usr/share/man/man1/lvsconsole.1.gz", "usr/share/doc/lvsconsole/copyright", "usr/share/doc/lvsconsole/changelog.gz"} {
		if !exists(p) {
			t.Errorf("no /%s", p)
		}
	}

	// serve as the unit says, with the admin's flags in the conffile.
	conffile := filepath.Join(root, u.environmentFile)
	if err := os.WriteFile(conffile, []byte("# the test's\nLVSCONSOLE_OPTS=\"-listen 127.0.0.1:3636\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	runServe(t, root, u, a)

	t.Logf("dpkg -r:\n%s", in("dpkg", "-r", "lvsconsole"))
	// The enablement link stays until purge, as with dh_installsystemd: a
	// reinstallation keeps the admin's choice.
	for _, p := range []string{"usr/bin/lvsconsole", "lib/systemd/system/lvsconsole.service", "usr/lib/modules-load.d/lvsconsole.conf"} {
		if exists(p) {
			t.Errorf("/%s is still there after dpkg -r", p)
		}
	}
	if !exists("etc/default/lvsconsole") || !exists("var/lib/lvsconsole/lvsconsole.db") {
		t.Errorf("dpkg -r removed the conffile or the database: it keeps them until purge")
	}
	if s := in("dpkg-query", "-W", "-f=${Status}", "lvsconsole"); s != "deinstall ok config-files" {
		t.Errorf("after dpkg -r the package is %q, want deinstall ok config-files", s)
	}

	t.Logf("dpkg -P:\n%s", in("dpkg", "-P", "lvsconsole"))
	for _, p := range []string{"etc/default/lvsconsole", "var/lib/lvsconsole", wants, "etc/systemd/system/lvsconsole.service"} {
		if exists(p) {
			t.Errorf("/%s is still there after dpkg -P", p)
		}
	}
	if out := in("dpkg", "-l"); strings.Contains(out, "lvsconsole") {
		t.Errorf("dpkg -l still lists lvsconsole after purge:\n%s", out)
	}
	// Debian keeps system users at purge (their files elsewhere keep a
	// named owner; a reinstallation gets the same ids).
	if _, err := lookup(root, u.user, u.group); err != nil {
		t.Errorf("after purge: %v (the user is kept)", err)
	}
}

// mountRoot mounts a tmpfs on dir and, on dir/root, an overlay whose
// lower layer is the host's / (read only: writes go to the tmpfs), with
// /proc, /dev and a /sys of this network namespace; it returns dir/root.
func mountRoot(t *testing.T, dir string) string {
	t.Helper()
	must := func(err error, what string) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	must(unix.Mount("tmpfs", dir, "tmpfs", 0, "mode=0755"), "tmpfs on "+dir)
	root := filepath.Join(dir, "root")
	for _, d := range []string{"upper", "work", "root"} {
		must(os.Mkdir(filepath.Join(dir, d), 0o755), "mkdir")
	}
	opts := "lowerdir=/,upperdir=" + filepath.Join(dir, "upper") + ",workdir=" + filepath.Join(dir, "work")
	must(unix.Mount("overlay", root, "overlay", 0, opts), "overlay "+opts)
	must(unix.Mount("/proc", filepath.Join(root, "proc"), "", unix.MS_BIND|unix.MS_REC, ""), "bind /proc")
	must(unix.Mount("/dev", filepath.Join(root, "dev"), "", unix.MS_BIND|unix.MS_REC, ""), "bind /dev")
	must(unix.Mount("sysfs", filepath.Join(root, "sys"), "sysfs", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""), "sysfs")
	// The host's /tmp and /run may be mounts of their own: fresh ones.
	must(unix.Mount("tmpfs", filepath.Join(root, "tmp"), "tmpfs", 0, "mode=1777"), "tmpfs /tmp")
	must(unix.Mount("tmpfs", filepath.Join(root, "run"), "tmpfs", 0, "mode=0755"), "tmpfs /run")
	return root
}

// readUnit parses the installed unit under root.
func readUnit(t *testing.T, root string) unit {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, unitPath))
	if err != nil {
		t.Fatal(err)
	}
	u, err := parseUnit(data)
	if err != nil {
		t.Fatalf("%s: %v", unitPath, err)
	}
	if capMask(u.ambient) != wantCaps || capMask(u.bounding) != wantCaps {
		t.Errorf("%s: AmbientCapabilities %v, CapabilityBoundingSet %v: want NET_ADMIN, NET_RAW, NET_BIND_SERVICE", unitPath, u.ambient, u.bounding)
	}
	return u
}

// checkOwned: path is a's, with mode want.
func checkOwned(t *testing.T, path string, a account, want fs.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Error(err)
		return
	}
	st := fi.Sys().(*syscall.Stat_t)
	if fi.Mode() != want || st.Uid != a.uid || st.Gid != a.gid {
		t.Errorf("%s: %v %d:%d, want %v %d:%d", path, fi.Mode(), st.Uid, st.Gid, want, a.uid, a.gid)
	}
}

// runServe starts the installed unit's ExecStart in root as its user,
// waits for the console, checks the process's identity and capabilities
// and the database it made, and stops it.
func runServe(t *testing.T, root string, u unit, a account) {
	t.Helper()
	envData, err := os.ReadFile(filepath.Join(root, u.environmentFile))
	if err != nil {
		t.Fatal(err)
	}
	env, err := parseEnvFile(envData)
	if err != nil {
		t.Fatalf("%s: %v", u.environmentFile, err)
	}
	applyLimits(t, u, false)
	s := start(t, command(root, u, a, u.ambient, env, u.argv(env)))
	waitLogin(t, "http://127.0.0.1:3636/login", s.exited, s.out.String)
	checkProcess(t, s.cmd.Process.Pid, a, wantCaps)
	db := filepath.Join(root, "var/lib/lvsconsole/lvsconsole.db")
	checkOwned(t, db, a, 0o600)
	s.stop(t)
	t.Logf("serve's output:\n%s", s.out.String())
	if _, err := os.Stat(db); errors.Is(err, fs.ErrNotExist) {
		t.Errorf("no database after serve")
	}
}
