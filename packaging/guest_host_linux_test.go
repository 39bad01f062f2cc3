//go:build !guest

package packaging

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/internal/testenv"
	"github.com/lvsconsole/lvsconsole/lvs/guest"
)

// guestCf is the configuration serve runs in the guest: one virtual
// server, and a backup director that never answers, so that the heartbeat
// runs (its helper binds UDP port 539, NET_BIND_SERVICE, and runs at
// SCHED_RR, LimitRTPRIO) and this director, the primary, becomes active
// after the dead time and brings the virtual address up on eth0.
const guestCf = `serial_no = 1
primary = 10.0.0.1
service = lvs
backup_active = 1
backup = 10.0.0.2
heartbeat = 1
heartbeat_port = 539
keepalive = 1
deadtime = 3
network = direct
virtual web {
	active = 1
	address = 192.0.2.100 eth0:1
	port = 80
	protocol = tcp
	scheduler = wlc
	server web1 {
		address = 10.0.0.11
		active = 1
		weight = 1
	}
}
`

// guestScript prepares what the package's postinst and systemd do on a
// director (the user, its directory; an eth0 for the virtual address) and
// runs TestGuestPackageServe.
const guestScript = `
set -e
echo 'lvsconsole:x:999:999:lvsconsole:/var/lib/lvsconsole:/usr/sbin/nologin' >>/etc/passwd
echo 'lvsconsole:x:999:' >>/etc/group
mkdir -p /var/lib/lvsconsole
chown 999:999 /var/lib/lvsconsole
chmod 0700 /var/lib/lvsconsole
chmod 0644 /srv/lvs.cf
ip link show eth0 >/dev/null 2>&1 || ip link add eth0 type dummy
ip link set eth0 up
ip addr add 10.0.0.1/24 dev eth0
packaging.test -test.v -test.count=1 -test.run '^TestGuestPackageServe$'
`

// TestPackageInGuest runs the packaged lvsconsole on the real IPVS of
// Debian's kernel under qemu: the .deb's files (its binary with the
// libraries it links) in the guest, serve started as the unit says (user
// lvsconsole, its three ambient capabilities, LimitRTPRIO) after an
// import run as that user; TestGuestPackageServe checks the table and
// the virtual address the unprivileged process set. One boot.
func TestPackageInGuest(t *testing.T) {
	testenv.Guest(t, guest.Prepared(""))
	testenv.Commands(t, "dpkg-deb")
	deb := builtDeb(t)
	tree := t.TempDir()
	if out, err := exec.Command("dpkg-deb", "-x", deb, tree).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb -x %s: %v\n%s", deb, err, out)
	}
	files := map[string][]byte{"/srv/lvs.cf": []byte(guestCf)}
	err := filepath.WalkDir(tree, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, err := filepath.Rel(tree, path)
		if err != nil || rel == "usr/bin/lvsconsole" {
			return err
		}
		data, err := os.ReadFile(path)
		files["/"+rel] = data
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "packaging.test")
	if err := guest.BuildTest(".", bin, "guest"); err != nil {
		t.Fatal(err)
	}
	res, err := guest.Run(t.Context(), guest.Options{
		Binaries: map[string]string{"packaging.test": bin},
		// The package's binary itself, dynamically linked, with its
		// libraries.
		Programs: map[string]string{"/usr/bin/lvsconsole": filepath.Join(tree, "usr/bin/lvsconsole")},
		Files:    files,
		Script:   guestScript,
		Stdout:   guest.LogWriter(t.Logf),
		Timeout:  10 * time.Minute, // a guard against a hung guest: TCG on a busy machine is slow
		Memory:   1024,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 0 {
		t.Fatalf("the guest test failed (exit %d)", res.ExitCode)
	}
	t.Logf("guest run took %v", res.Duration.Round(time.Millisecond))
}
