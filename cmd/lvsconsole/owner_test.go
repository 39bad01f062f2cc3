//go:build linux

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/lvsconsole/lvsconsole/internal/testenv"
)

// buildLvsconsole builds this command into dir, where anyone may run it.
func buildLvsconsole(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "lvsconsole")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("building: %v\n%s", err, out)
	}
	return bin
}

// TestRootCommandsAsDBOwner: an admin runs lvsconsole passwd, import and
// secret as root on the database of serve running as a service (its
// directory owned by the service's user): the commands work as that user,
// so everything they leave there is the user's, and serve's user can
// open and change the database afterwards.
func TestRootCommandsAsDBOwner(t *testing.T) {
	testenv.Root(t)
	const uid, gid = 65534, 65534
	base, err := os.MkdirTemp("", "owner-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := buildLvsconsole(t, base)
	state := filepath.Join(base, "state") // as systemd's StateDirectory: 0700, the user's
	if err := os.Mkdir(state, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(state, uid, gid); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(state, "lvsconsole.db")
	cf := filepath.Join(base, "lvs.cf")
	if err := os.WriteFile(cf, []byte("serial_no = 1\nprimary = 192.0.2.1\nvirtual www {\n  address = 192.0.2.10 eth0:1\n  port = 80\n  server web1 {\n    address = 10.0.0.1\n  }\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	lvsconsole := func(cred *syscall.Credential, stdin string, args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Stdin = strings.NewReader(stdin)
		cmd.Dir = "/"
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		out, err := cmd.CombinedOutput()
		who := "root"
		if cred != nil {
			who = "uid 65534"
		}
		if err != nil {
			t.Fatalf("lvsconsole %s as %s: %v\n%s", strings.Join(args, " "), who, err, out)
		}
		return string(out)
	}
	ownedByUser := func(after string) {
		t.Helper()
		ents, err := os.ReadDir(state)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			fi, err := os.Lstat(filepath.Join(state, e.Name()))
			if err != nil {
				continue // -wal and -shm go at the last close
			}
			if st := fi.Sys().(*syscall.Stat_t); st.Uid != uid || st.Gid != gid {
				t.Errorf("after %s: %s is owned by %d:%d, not the service's user %d:%d", after, e.Name(), st.Uid, st.Gid, uid, gid)
			}
		}
	}

	lvsconsole(nil, "root's password\nroot's password\n", "passwd", "-db", db)
	ownedByUser("passwd as root")
	lvsconsole(nil, "", "import", "-db", db, cf)
	ownedByUser("import as root")
	lvsconsole(nil, "", "secret", "-db", db, "-generate")
	ownedByUser("secret as root")

	// The service's user opens and changes what root's commands made.
	user := &syscall.Credential{Uid: uid, Gid: gid}
	if out := lvsconsole(user, "", "export", "-db", db); !strings.Contains(out, "192.0.2.10") {
		t.Errorf("export as the service's user: %q", out)
	}
	lvsconsole(user, "the user's password\nthe user's password\n", "passwd", "-db", db, "-user", "ops")
	ownedByUser("passwd as the user")
}
