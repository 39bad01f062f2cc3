//go:build unix

package health

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/check"
)

// Issue 20's health check target: 100,000 real servers checked every 10 s
// (the rate of 10,000 every second) by the syn check in under 25% of one
// core and under 150 MB.
const (
	bigServers  = 100000
	bigInterval = 10 * time.Second
	// The first checks are spread over the first interval: after it and a
	// little more, every checker is in its steady rhythm.
	bigWarmup = bigInterval + 2*time.Second
	bigWindow = 2 * bigInterval
)

// BenchmarkHundredThousandChecks measures the monitor with lvs/check's
// half-open SYN probe over 100,000 real servers, each checked every 10 s,
// as BenchmarkTenThousandTCPChecks does (the same metrics; read its
// comment): a warm-up of 12 s, then a window of 20 s (two intervals;
// $LVSCONSOLE_HEALTH_BENCH_WINDOW changes it). Run it with -benchtime=1x.
//
// The real servers are listening sockets (socket, bind,
// listen: no accept, no goroutine; the half-open check never completes a
// connection), on loopback addresses:
//
//   - syn: 400 addresses (127.78.0.1 to 127.78.1.144) x 250 ports each,
//     a few big real servers;
//   - syn-distinct: 100,000 addresses (from 127.80.0.1) x 1 port, every
//     real server on its own host, where per-destination costs (the IPv4
//     source address the SYN's checksum needs) count 100,000 times;
//   - noop: the same 100,000 checkers with probes that return at once,
//     the monitor's own share.
//
// The sockets are held by helper processes (this test binary again, see
// holdEnv). Their kernel-side memory (sockets, half-open requests) is not in this
// process's RSS.
func BenchmarkHundredThousandChecks(b *testing.B) {
	b.Run("syn", func(b *testing.B) {
		targets := bigListeners(b, netip.MustParseAddr("127.78.0.1"), 400, 250)
		runSYN(b, targets)
	})
	b.Run("syn-distinct", func(b *testing.B) {
		targets := bigListeners(b, netip.MustParseAddr("127.80.0.1"), bigServers, 1)
		runSYN(b, targets)
	})
	b.Run("noop", func(b *testing.B) {
		var ok, failed atomic.Int64
		probes := make(map[netip.AddrPort]Checker, bigServers)
		for _, t := range bigTargets(netip.MustParseAddr("127.80.0.1"), bigServers, 1) {
			probes[t] = Checker{Probe: func(ctx context.Context) Result {
				ok.Add(1)
				return Result{OK: true, Reason: "fine"}
			}}
		}
		measureAt(b, probes, &ok, &failed, nil, bigInterval, bigWarmup, bigWindow, Options{})
	})
}

// runSYN measures a monitor that checks every target once per bigInterval
// with a half-open SYN, started as lvs/engine starts it.
func runSYN(b *testing.B, targets []netip.AddrPort) {
	half := check.NewHalfOpen()
	defer half.Close()
	p, err := check.NewProbe(check.Spec{Kind: check.SYN, Timeout: bigInterval}, check.WithHalfOpen(half))
	if err != nil {
		b.Fatal(err)
	}
	if !p.Async() {
		b.Fatal("the syn probe is not asynchronous")
	}
	var ok, failed atomic.Int64
	probes := make(map[netip.AddrPort]Checker, len(targets))
	for _, ap := range targets {
		t := check.Target{Addr: ap.Addr(), Port: ap.Port()}
		probes[ap] = Checker{Start: func(ctx context.Context, done func(Result)) {
			p.Start(ctx, t, func(r check.Result) { done(count(r, &ok, &failed)) })
		}}
	}
	measureAt(b, probes, &ok, &failed, nil, bigInterval, bigWarmup, bigWindow, Options{Flush: half.Flush})
}

// bigTargets is addrs consecutive addresses from first, with ports
// 20000 to 20000+ports-1 on each (below Linux's ephemeral range).
func bigTargets(first netip.Addr, addrs, ports int) []netip.AddrPort {
	out := make([]netip.AddrPort, 0, addrs*ports)
	a := first
	for range addrs {
		for p := range ports {
			out = append(out, netip.AddrPortFrom(a, uint16(20000+p)))
		}
		a = a.Next()
	}
	return out
}

// holdEnv makes the test binary a helper process that holds listening
// sockets for BenchmarkHundredThousandChecks: "127.78.0.1,70,250" is 70
// addresses from 127.78.0.1 with 250 ports each (bigTargets). It writes
// "ready" once they listen and exits when its stdin ends. Helpers, because
// the open files limit (20,000 here, raised only with CAP_SYS_RESOURCE)
// is below 100,000.
const holdEnv = "LVSCONSOLE_HEALTH_HOLD"

// perHelper is how many listeners one helper holds.
const perHelper = 17500

// holdListeners is the helper's side of holdEnv.
func holdListeners(spec string, w io.Writer, r io.Reader) error {
	f := strings.Split(spec, ",")
	if len(f) != 3 {
		return fmt.Errorf("bad %s=%q, want first,addrs,ports", holdEnv, spec)
	}
	first, err := netip.ParseAddr(f[0])
	addrs, err1 := strconv.Atoi(f[1])
	ports, err2 := strconv.Atoi(f[2])
	if err := errors.Join(err, err1, err2); err != nil || !first.Is4() || addrs < 1 || ports < 1 || addrs*ports > perHelper {
		return fmt.Errorf("bad %s=%q (%v), want first,addrs,ports for at most %d listeners", holdEnv, spec, err, perHelper)
	}
	if err := raiseFiles(uint64(addrs*ports + 100)); err != nil {
		return fmt.Errorf("raise the open files limit: %w", err)
	}
	for _, t := range bigTargets(first, addrs, ports) {
		// Never closed: they end with the process, which execs nothing.
		fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
		if err != nil {
			return fmt.Errorf("listener on %v: %w", t, err)
		}
		if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: t.Addr().As4(), Port: int(t.Port())}); err != nil {
			return fmt.Errorf("bind %v: %w", t, err)
		}
		if err := syscall.Listen(fd, 64); err != nil {
			return fmt.Errorf("listen on %v: %w", t, err)
		}
	}
	if _, err := fmt.Fprintln(w, "ready"); err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, r)
	return err
}

// bigListeners has helper processes listen on each of bigTargets(first,
// addrs, ports) until b ends, and returns those addresses.
func bigListeners(b *testing.B, first netip.Addr, addrs, ports int) []netip.AddrPort {
	self, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	step := max(1, perHelper/ports)
	a := first
	for i := 0; i < addrs; i += step {
		n := min(step, addrs-i)
		child := exec.Command(self, "-test.run=^$")
		child.Env = append(os.Environ(), fmt.Sprintf("%s=%v,%d,%d", holdEnv, a, n, ports))
		child.Stderr = os.Stderr
		stdin, err := child.StdinPipe()
		if err != nil {
			b.Fatal(err)
		}
		stdout, err := child.StdoutPipe()
		if err != nil {
			b.Fatal(err)
		}
		if err := child.Start(); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() {
			stdin.Close()
			child.Wait()
		})
		if line, _ := bufio.NewReader(stdout).ReadString('\n'); line != "ready\n" {
			b.Fatalf("listener helper for %d x %d from %v said %q", n, ports, a, line)
		}
		for range n {
			a = a.Next()
		}
	}
	return bigTargets(first, addrs, ports)
}
