//go:build !guest

package ipvs_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/lvsconsole/lvsconsole/internal/testenv"
	"github.com/lvsconsole/lvsconsole/lvs/guest"
)

// TestClientInGuest needs `make guest`: see internal/testenv.
func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

// TestClientInGuest runs guest_test.go inside the qemu guest against the
// real IPVS of Debian's kernel.
func TestClientInGuest(t *testing.T) {
	testenv.Guest(t, guest.Prepared(""))
	bin := filepath.Join(t.TempDir(), "ipvs.test")
	if err := guest.BuildTest(".", bin, "guest"); err != nil {
		t.Fatal(err)
	}
	res, err := guest.Run(t.Context(), guest.Options{
		Binaries: map[string]string{"ipvs.test": bin},
		// The destinations need a route; a veth pair gives one.
		Script: `/sbin/ip link add v0 type veth peer name v1
/sbin/ip addr add 10.0.0.254/24 dev v0
/sbin/ip link set v0 up
/sbin/ip link set v1 up
ipvs.test -test.v -test.count=1 -test.run Guest
`,
		Stdout: guest.LogWriter(t.Logf),
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 0 {
		t.Fatalf("the guest tests failed (exit %d)", res.ExitCode)
	}
}
