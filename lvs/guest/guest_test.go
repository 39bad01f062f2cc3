package guest_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/internal/testenv"
	"github.com/lvsconsole/lvsconsole/lvs/guest"
)

// ipvsScript runs in one boot (each boot costs seconds of TCG): ipvsadm
// against the kernel's table, a Go test binary reading it, modprobe of a
// module not loaded at boot, and NAT traffic through a director namespace.
const ipvsScript = `
set -e
fail() { echo "CHECK FAILED: $*"; exit 1; }
[ -e /proc/net/ip_vs ] || fail "no /proc/net/ip_vs"

# A service in the initial namespace. The destination needs a route, so the
# addresses live on a dummy interface that is up first.
ip link add dummy0 type dummy
ip addr add 10.0.0.1/24 dev dummy0
ip link set dummy0 up
ipvsadm -A -t 10.0.0.1:80 -s rr
ipvsadm -a -t 10.0.0.1:80 -r 10.0.0.2:80 -m
saved=$(ipvsadm -Sn)
echo "$saved"
echo "$saved" | grep -qx -- '-A -t 10.0.0.1:80 -s rr' || fail "ipvsadm -Sn: no service"
echo "$saved" | grep -qx -- '-a -t 10.0.0.1:80 -r 10.0.0.2:80 -m -w 1' || fail "ipvsadm -Sn: no destination"

# The Go side: a static test binary sees the same table.
smoke.test -test.v -test.count=1 || fail "smoke.test"

# Modules left out of the boot-time list load on demand.
modprobe ip_vs_ftp || fail "modprobe ip_vs_ftp"
grep -q '^ip_vs_ftp ' /proc/modules || fail "ip_vs_ftp not loaded"

# Traffic: client -- director (NAT, rr) -- bridge -- r1, r2 (busybox httpd).
for ns in cli dir r1 r2; do ip netns add $ns; ip -n $ns link set lo up; done
ip link add br0 type bridge
ip link set br0 up
ip link add c-eth type veth peer name d-out
ip link set c-eth netns cli
ip link set d-out netns dir
ip link add d-in type veth peer name d-br
ip link set d-in netns dir
ip link set d-br master br0 up
ip -n cli addr add 10.1.0.2/24 dev c-eth
ip -n cli link set c-eth up
ip -n dir addr add 10.1.0.1/24 dev d-out
ip -n dir link set d-out up
ip -n dir addr add 192.168.10.1/24 dev d-in
ip -n dir link set d-in up
# Replies from the real servers are forwarded (and un-NATed) by the director.
ip netns exec dir sysctl -qw net.ipv4.ip_forward=1
for r in 1 2; do
	ip link add eth-r$r type veth peer name r$r-br
	ip link set eth-r$r netns r$r
	ip link set r$r-br master br0 up
	ip -n r$r addr add 192.168.10.1$r/24 dev eth-r$r
	ip -n r$r link set eth-r$r up
	ip -n r$r route add default via 192.168.10.1
	mkdir -p /srv/r$r
	echo r$r >/srv/r$r/index.html
	# httpd listens before it daemonizes: no wait needed.
	ip netns exec r$r httpd -p 80 -h /srv/r$r
done
ip netns exec dir ipvsadm -A -t 10.1.0.1:80 -s rr
ip netns exec dir ipvsadm -a -t 10.1.0.1:80 -r 192.168.10.11:80 -m
ip netns exec dir ipvsadm -a -t 10.1.0.1:80 -r 192.168.10.12:80 -m
got=
for i in 1 2 3 4; do
	body=$(printf 'GET / HTTP/1.0\r\n\r\n' | ip netns exec cli nc -w 5 10.1.0.1 80 | tail -n 1 | tr -d '\r')
	got="$got $body"
done
echo "responses:$got"
case "$got" in
" r1 r2 r1 r2" | " r2 r1 r2 r1") ;;
*) fail "round robin over r1, r2: got$got" ;;
esac
echo "all guest checks passed"
`

// The tests that boot the guest need `make guest`: see internal/testenv.
func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

func TestGuestIPVS(t *testing.T) {
	// Under make test a missing kernel fails: a broken setup, fixed by
	// make guest.
	testenv.Guest(t, guest.Prepared(""))
	smoke := filepath.Join(t.TempDir(), "smoke.test")
	if err := guest.BuildTest("./internal/smoke", smoke, "guest"); err != nil {
		t.Fatal(err)
	}
	res, err := guest.Run(t.Context(), guest.Options{
		Binaries: map[string]string{"smoke.test": smoke},
		Script:   ipvsScript,
		Timeout:  2 * time.Minute, // a guard: a boot takes ~10 s, more on a loaded machine
		Stdout:   guest.LogWriter(t.Logf),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("guest ran %s", res.Duration.Round(time.Millisecond))
	if res.ExitCode != 0 {
		t.Fatalf("guest script exited %d (console above)", res.ExitCode)
	}
	out := string(res.Output)
	for _, want := range []string{
		"GUEST: ready",
		"--- PASS: TestProcNetIPVS",
		"all guest checks passed",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("console lacks %q", want)
		}
	}
	// The test binary's own verdict line, alone on its line.
	if !regexp.MustCompile(`(?m)^PASS$`).MatchString(out) {
		t.Errorf("console lacks the smoke test's PASS line")
	}
}

// The harness's failure path: a guest killed before it reports is an error
// that carries the console's tail.
func TestGuestTimeout(t *testing.T) {
	testenv.Guest(t, guest.Prepared(""))
	var console bytes.Buffer
	_, err := guest.Run(context.Background(), guest.Options{
		Script:  "exit 0",
		Timeout: 500 * time.Millisecond,
		Stdout:  &console,
	})
	if err == nil || !strings.Contains(err.Error(), "timed out") {
		t.Fatalf("Run with a 0.5 s timeout: err = %v, want a timeout", err)
	}
}

func TestPreparedSaysHow(t *testing.T) {
	err := guest.Prepared(t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "make guest") {
		t.Fatalf("Prepared(empty dir) = %v, want an error naming make guest", err)
	}
}
