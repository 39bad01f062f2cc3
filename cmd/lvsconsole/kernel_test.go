//go:build !guest

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/internal/testenv"
	"github.com/lvsconsole/lvsconsole/lvs/guest"
)

// guestNamespaces are those guest_test.go uses: "a" for the engine, "b"
// for the plan's lines through ipvsadm, "c" and "d" for the rest.
const guestNamespaces = `
set -e
for ns in a b c d k; do /sbin/ip netns add $ns; /sbin/ip -n $ns link set lo up; done
# k: keepalived's, with routes to every real server (IPVS refuses a
# destination it has no route to).
/sbin/ip -n k link add d0 type dummy
/sbin/ip -n k link set d0 up
/sbin/ip -n k route add default dev d0
/sbin/ip -n k -6 route add default dev d0
# keepalived reads only a configuration that is not executable.
chmod 0644 /srv/keepalived/*.conf
`

var guestTestName = regexp.MustCompile(`^Guest[A-Za-z0-9_]*$`)

// TestLvsconsoleInGuest boots Debian's kernel under qemu and runs this
// package's guest tests (guest_test.go) against its real IPVS and
// ipvsadm, in one boot. LVSCONSOLE_GUEST_RUN=GuestName runs one.
func TestLvsconsoleInGuest(t *testing.T) {
	testenv.Guest(t, guest.Prepared(""))
	testenv.Commands(t, "keepalived")    // the peer the keepalived importer is checked against
	testenv.Commands(t, "bird", "birdc") // the router of the cluster's tests (cluster_guest_test.go)
	confs, err := filepath.Glob(filepath.Join("testdata", "keepalived", "*.conf"))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, c := range confs {
		data, err := os.ReadFile(c)
		if err != nil {
			t.Fatal(err)
		}
		files["/srv/keepalived/"+filepath.Base(c)] = data
	}
	programs := map[string]string{}
	for _, name := range []string{"keepalived", "bird", "birdc"} {
		path, err := exec.LookPath(name)
		if err != nil {
			t.Fatal(err)
		}
		programs["/usr/sbin/"+name] = path
	}
	bin := filepath.Join(t.TempDir(), "lvsconsole.test")
	// Static with cgo: the commands need the SQLite store.
	if err := guest.BuildStaticTest(".", bin, "guest"); err != nil {
		t.Fatal(err)
	}
	pattern := "Guest"
	if only := os.Getenv("LVSCONSOLE_GUEST_RUN"); only != "" {
		// One guest test; the pattern goes into the guest's script, so it
		// is a plain name.
		if !guestTestName.MatchString(only) {
			t.Fatalf("LVSCONSOLE_GUEST_RUN=%q: give a test name (letters, digits, _)", only)
		}
		pattern = only
	}
	res, err := guest.Run(t.Context(), guest.Options{
		Binaries: map[string]string{"lvsconsole.test": bin},
		Programs: programs,
		Files:    files,
		Script:   guestNamespaces + "lvsconsole.test -test.v -test.count=1 -test.run " + pattern + "\n",
		Stdout:   guest.LogWriter(t.Logf),
		// A guard against a hung guest, not a measure: the suite takes 1-2
		// minutes alone under TCG, several times that on a busy machine;
		// the cluster's tests (cluster_guest_test.go) 3-5 more.
		Timeout: 20 * time.Minute,
		Memory:  1536,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 0 {
		t.Fatalf("the guest tests failed (exit %d)", res.ExitCode)
	}
	t.Logf("guest run took %v", res.Duration.Round(time.Millisecond))
}
