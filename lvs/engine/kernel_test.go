//go:build !guest

package engine

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/internal/testenv"
	"github.com/lvsconsole/lvsconsole/lvs/guest"
)

// guestNetwork builds the namespaces guest_test.go uses.
const guestNetwork = `
set -e
ip() { /sbin/ip "$@"; }
for ns in prog cli dir r1 r2 bench; do ip netns add $ns; ip -n $ns link set lo up; done

# prog and bench: directors with routes to their destinations.
ip -n prog link add p0 type veth peer name p1
ip -n prog addr add 10.0.255.254/16 dev p0
ip -n prog -6 addr add 2001:db8:1::fe/64 dev p0 nodad
ip -n prog link set p0 up
ip -n prog link set p1 up
ip -n bench link add b0 type veth peer name b1
ip -n bench addr add 10.255.255.254/8 dev b0
ip -n bench link set b0 up
ip -n bench link set b1 up

# client -- director (NAT) -- bridge -- r1, r2
ip -n dir link add br0 type bridge
ip -n dir link set br0 up
ip -n dir addr add 192.168.10.1/24 dev br0
ip link add c-eth type veth peer name d-out
ip link set c-eth netns cli
ip link set d-out netns dir
ip -n cli addr add 10.1.0.2/24 dev c-eth
ip -n cli link set c-eth up
ip -n dir addr add 10.1.0.1/24 dev d-out
ip -n dir link set d-out up
ip netns exec dir sysctl -qw net.ipv4.ip_forward=1
for r in 1 2; do
	ip link add eth-r$r type veth peer name r$r-br
	ip link set eth-r$r netns r$r
	ip link set r$r-br netns dir
	ip -n dir link set r$r-br master br0 up
	ip -n r$r addr add 192.168.10.1$r/24 dev eth-r$r
	ip -n r$r link set eth-r$r up
	ip -n r$r route add default via 192.168.10.1
done
# This namespace on the real servers' LAN too, where a director checks them
# from: the health checks of guest_test.go run here.
ip link add h-eth type veth peer name h-br
ip link set h-br netns dir
ip -n dir link set h-br master br0 up
ip addr add 192.168.10.2/24 dev h-eth
ip link set h-eth up
`

var (
	guestTestName   = regexp.MustCompile(`^Guest[A-Za-z0-9_]*$`)
	guestBenchNames = regexp.MustCompile(`^[A-Z][A-Za-z0-9_]*(\|[A-Z][A-Za-z0-9_]*)*$`)
	guestBenchTime  = regexp.MustCompile(`^[0-9]+(x|s|m)$`)
)

// TestEngineInGuest boots Debian's kernel under qemu and runs the guest
// tests (guest_test.go) against its real IPVS. With LVSCONSOLE_GUEST_BENCH
// set to a -benchtime (e.g. 3x), the guest benchmarks run too (make bench);
// LVSCONSOLE_GUEST_BENCH_ONLY=KernelRead10000x10|... runs only those, which
// may be ones the default pattern (Guest) leaves out.
func TestEngineInGuest(t *testing.T) {
	testenv.Guest(t, guest.Prepared(""))
	bin := filepath.Join(t.TempDir(), "engine.test")
	// Static with cgo: the console's test (guest_console_test.go) needs
	// the SQLite store.
	if err := guest.BuildStaticTest(".", bin, "guest"); err != nil {
		t.Fatal(err)
	}
	run := "engine.test -test.v -test.count=1 -test.run Guest"
	if only := os.Getenv("LVSCONSOLE_GUEST_RUN"); only != "" {
		// One guest test (the guest is slow on a busy machine); the
		// pattern goes into the guest's script, so it is a plain name.
		if !guestTestName.MatchString(only) {
			t.Fatalf("LVSCONSOLE_GUEST_RUN=%q: give a test name (letters, digits, _)", only)
		}
		run = "engine.test -test.v -test.count=1 -test.run " + only
	}
	timeout := 10 * time.Minute // a guard against a hung guest: TCG on a busy machine is slow
	if bt := os.Getenv("LVSCONSOLE_GUEST_BENCH"); bt != "" {
		if !guestBenchTime.MatchString(bt) {
			t.Fatalf("LVSCONSOLE_GUEST_BENCH=%q: give a -benchtime such as 3x or 10s", bt)
		}
		bench := "Guest"
		if only := os.Getenv("LVSCONSOLE_GUEST_BENCH_ONLY"); only != "" {
			// These benchmarks alone, without the guest tests unless
			// LVSCONSOLE_GUEST_RUN names one (the 10,000 x 10 ones take
			// minutes each under TCG).
			if !guestBenchNames.MatchString(only) {
				t.Fatalf("LVSCONSOLE_GUEST_BENCH_ONLY=%q: give benchmark names without Benchmark, joined by |", only)
			}
			if os.Getenv("LVSCONSOLE_GUEST_RUN") == "" {
				run = "engine.test -test.v -test.count=1 -test.run '^$'"
			}
			bench = "'^Benchmark(" + only + ")$'"
			timeout = time.Hour // 10,000 x 10 into a flushed table: minutes per iteration
		}
		run += " -test.bench " + bench + " -test.benchtime " + bt
		timeout = max(timeout, 30*time.Minute)
	}
	res, err := guest.Run(t.Context(), guest.Options{
		Binaries: map[string]string{"engine.test": bin},
		Script:   guestNetwork + run + "\n",
		Stdout:   guest.LogWriter(t.Logf),
		Timeout:  timeout,
		Memory:   1024,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 0 {
		t.Fatalf("the guest tests failed (exit %d)", res.ExitCode)
	}
	t.Logf("guest run took %v", res.Duration.Round(time.Millisecond))
}
