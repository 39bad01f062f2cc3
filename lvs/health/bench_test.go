//go:build unix

package health

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/internal/testnet"
	"github.com/lvsconsole/lvsconsole/lvs/check"
)

// listenersEnv makes the test binary a helper process holding loopback
// listeners for BenchmarkTenThousandTCPChecks: "40x250@127.77.0" is 40
// addresses (127.77.0.1 to .40) with 250 listeners each.
const listenersEnv = "LVSCONSOLE_HEALTH_LISTENERS"

// windowEnv changes the measured window of BenchmarkTenThousandTCPChecks
// (a Go duration; default 10s).
const windowEnv = "LVSCONSOLE_HEALTH_BENCH_WINDOW"

// heapProfileEnv names a file for a heap profile written at the end of
// the window of the benchmarks that use measure (after a collection: what
// the monitor keeps, where -memprofile, written after the benchmark, sees
// nothing).
const heapProfileEnv = "LVSCONSOLE_HEALTH_HEAP_PROFILE"

func TestMain(m *testing.M) {
	if spec := os.Getenv(listenersEnv); spec != "" {
		if err := serveListeners(spec, os.Stdout, os.Stdin); err != nil {
			fmt.Fprintln(os.Stderr, "listeners:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	if spec := os.Getenv(holdEnv); spec != "" {
		if err := holdListeners(spec, os.Stdout, os.Stdin); err != nil {
			fmt.Fprintln(os.Stderr, "listeners:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// raiseFiles raises RLIMIT_NOFILE to at least n open files.
func raiseFiles(n uint64) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return err
	}
	if lim.Cur >= n {
		return nil
	}
	lim.Cur = n
	lim.Max = max(lim.Max, n) // raising the hard limit needs root
	return syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
}

// serveListeners opens the listeners spec asks for, writes their addresses to w, one a line, then "ready", accepts and closes
// every connection, and returns when r ends (the benchmark closes it).
func serveListeners(spec string, w io.Writer, r io.Reader) error {
	size, prefix, ok1 := strings.Cut(spec, "@")
	as, ps, ok2 := strings.Cut(size, "x")
	addrs, err1 := strconv.Atoi(as)
	ports, err2 := strconv.Atoi(ps)
	if !ok1 || !ok2 || err1 != nil || err2 != nil || addrs < 1 || addrs > 250 || ports < 1 {
		return fmt.Errorf("bad %s=%q, want for example 40x250@127.77.0", listenersEnv, spec)
	}
	if err := raiseFiles(uint64(addrs*ports + 1000)); err != nil {
		return fmt.Errorf("raise the open files limit: %w", err)
	}
	bw := bufio.NewWriter(w)
	for a := 1; a <= addrs; a++ {
		for range ports {
			ln, err := net.Listen("tcp", fmt.Sprintf("%s.%d:0", prefix, a))
			if err != nil {
				return err
			}
			fmt.Fprintln(bw, ln.Addr())
			testnet.Serve(ln, nil)
		}
	}
	fmt.Fprintln(bw, "ready")
	if err := bw.Flush(); err != nil {
		return err
	}
	_, err := io.Copy(io.Discard, r)
	return err
}

// vmRSS is the process's resident set now, in bytes, from /proc (0 where
// there is none).
func vmRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// cpuTime is the user and system CPU time of the process (who) so far.
func cpuTime(who int) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(who, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// sysTime is the process's system CPU time so far.
func sysTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Stime.Nano())
}

// procCPU is the user and system CPU time of process pid so far, from
// /proc (clock ticks of 1/100 s, Linux's USER_HZ).
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The fields after the command name in parentheses: state is 3rd,
	// utime 14th, stime 15th.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	k, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+k) * 10 * time.Millisecond
}

// BenchmarkTenThousandTCPChecks is the target: 10,000 real servers
// (loopback listeners: 40 addresses x 250 ports) checked every second, by a
// full TCP connect (kind tcp) and by a half-open SYN (kind syn), on this
// machine's 2 cores. Each runs once whatever b.N is (use -benchtime=1x):
// 2 s of warm-up (the first checks are spread over the first interval),
// then a 10 s window, and reports
//
//   - cpu-%-of-one-core: this process's user+system CPU time over the
//     window (getrusage RUSAGE_SELF) per wall time. It includes the
//     monitor, the probes, the garbage collector, and the kernel's TCP
//     work charged to this process: on loopback (and this kernel has no
//     IRQ time accounting) the softirq work of BOTH ends runs in the
//     sending task, so the listeners' half of every handshake is charged
//     to the checker.
//     The listeners live in a child process (this test binary again),
//     whose own CPU is reported apart as listeners-cpu-%.
//   - heap-MB: runtime HeapInuse at the end of the window; maxrss-MB: the
//     process's peak resident set (getrusage ru_maxrss), test framework
//     included.
//   - checks/s completed in the window, and failed-checks (must be 0).
//
// The target is under 25% of one core and under 100 MB; figures in
// BENCHMARKS.md.
func BenchmarkTenThousandTCPChecks(b *testing.B) {
	targets, child := startListeners(b, "127.77.0", nil)
	for _, kind := range []check.Kind{check.TCP, check.SYN} {
		b.Run(string(kind), func(b *testing.B) {
			runChecks(b, kind, targets, func() time.Duration { return procCPU(child) })
		})
	}
}

// startListeners starts the listener helper (this test binary again,
// prefixed by wrap, e.g. ip netns exec) with 40 x 250 listeners on
// prefix.1 to prefix.40, and returns their addresses and the helper's pid.
func startListeners(b *testing.B, prefix string, wrap []string) ([]string, int) {
	const addrs, ports = 40, 250
	if err := raiseFiles(4096); err != nil {
		b.Fatalf("raise the open files limit: %v", err)
	}
	self, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	args := append(append([]string{}, wrap...), self, "-test.run=^$")
	child := exec.Command(args[0], args[1:]...)
	child.Env = append(os.Environ(), fmt.Sprintf("%s=%dx%d@%s", listenersEnv, addrs, ports, prefix))
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
	var targets []string
	sc := bufio.NewScanner(stdout)
	for sc.Scan() && sc.Text() != "ready" {
		if _, err := netip.ParseAddrPort(sc.Text()); err != nil {
			b.Fatalf("listener helper said %q", sc.Text())
		}
		targets = append(targets, sc.Text())
	}
	if len(targets) != addrs*ports {
		b.Fatalf("listener helper opened %d listeners, want %d (%v)", len(targets), addrs*ports, sc.Err())
	}
	return targets, child.Process.Pid
}

// runChecks measures a monitor that checks every target once a second with
// a probe of kind.
func runChecks(b *testing.B, kind check.Kind, targets []string, other func() time.Duration) {
	half := check.NewHalfOpen()
	defer half.Close()
	p, err := check.NewProbe(check.Spec{Kind: kind, Timeout: time.Second}, check.WithHalfOpen(half))
	if err != nil {
		b.Fatal(err)
	}
	var ok, failed atomic.Int64
	probes := make(map[string]Checker, len(targets))
	for _, t := range targets {
		probes[t] = checkerOf(p, t, &ok, &failed)
	}
	measureAt(b, probes, &ok, &failed, other, time.Second, 2*time.Second, 10*time.Second, Options{Flush: half.Flush})
}

// BenchmarkTenThousandNoopChecks measures the monitor alone: the same
// 10,000 checkers every second as BenchmarkTenThousandTCPChecks, with
// probes that return at once.
func BenchmarkTenThousandNoopChecks(b *testing.B) {
	var ok, failed atomic.Int64
	probes := make(map[string]Checker, 10000)
	for i := range 10000 {
		probes[strconv.Itoa(i)] = Checker{Probe: func(ctx context.Context) Result {
			ok.Add(1)
			return Result{OK: true, Reason: "fine"}
		}}
	}
	measure(b, probes, &ok, &failed, nil)
}

// measure runs a monitor of probes, every one each second, for a warm-up
// of 2 s and a window (10 s, or $LVSCONSOLE_HEALTH_BENCH_WINDOW), and
// reports what the window cost; see BenchmarkTenThousandTCPChecks. other
// returns the CPU time of a helper process (nil: none).
func measure(b *testing.B, probes map[string]Checker, ok, failed *atomic.Int64, other func() time.Duration) {
	measureAt(b, probes, ok, failed, other, time.Second, 2*time.Second, 10*time.Second, Options{})
}

// measureAt is measure with every checker probed once per interval, a
// warm-up and a default window ($LVSCONSOLE_HEALTH_BENCH_WINDOW overrides
// it).
func measureAt[K comparable](b *testing.B, probes map[K]Checker, ok, failed *atomic.Int64, other func() time.Duration,
	interval, warmup, window time.Duration, o Options) {
	if s := os.Getenv(windowEnv); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			b.Fatalf("%s: %v", windowEnv, err)
		}
		window = d
	}
	if other == nil {
		other = func() time.Duration { return 0 }
	}
	m := New[K](o)
	checks := make(map[K]Checker, len(probes))
	for k, p := range probes {
		p.Policy = Policy{Interval: interval}
		checks[k] = p
	}
	m.Set(checks)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()

	time.Sleep(warmup) // a measurement, not synchronisation
	b.ResetTimer()
	start, cpu0, other0 := time.Now(), cpuTime(syscall.RUSAGE_SELF), other()
	sys0 := sysTime()
	ok0, failed0 := ok.Load(), failed.Load()
	time.Sleep(window)
	elapsed := time.Since(start)
	cpu, otherCPU := cpuTime(syscall.RUSAGE_SELF)-cpu0, other()-other0
	sys := sysTime() - sys0
	okN, failedN := ok.Load()-ok0, failed.Load()-failed0
	b.StopTimer()

	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	rss := vmRSS()
	// What stays after a collection, the monitor's and the probes' state
	// (and the benchmark's own map of checkers).
	runtime.GC()
	var live runtime.MemStats
	runtime.ReadMemStats(&live)
	if name := os.Getenv(heapProfileEnv); name != "" {
		f, err := os.Create(name)
		if err != nil {
			b.Fatal(err)
		}
		if err := pprof.WriteHeapProfile(f); err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	goroutines := runtime.NumGoroutine()
	up := 0
	reasons := make(map[string]int) // of the checkers not up, or whose latest check failed

	for _, st := range m.Snapshot() {
		if st.State == Up {
			up++
		}
		if st.State != Up || st.Streak < 0 {
			reasons[st.State.String()+": "+st.Reason]++
		}
	}

	b.ReportMetric(0, "ns/op")
	b.ReportMetric(100*cpu.Seconds()/elapsed.Seconds(), "cpu-%-of-one-core")
	// The kernel's share: on loopback it includes the real servers' half
	// of every exchange.
	b.ReportMetric(100*sys.Seconds()/elapsed.Seconds(), "sys-cpu-%")
	if otherCPU > 0 {
		b.ReportMetric(100*otherCPU.Seconds()/elapsed.Seconds(), "listeners-cpu-%")
	}
	b.ReportMetric(float64(okN+failedN)/elapsed.Seconds(), "checks/s")
	b.ReportMetric(float64(failedN), "failed-checks")
	b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MB")
	b.ReportMetric(float64(live.HeapAlloc)/(1<<20), "live-heap-MB")
	b.ReportMetric(float64(ru.Maxrss)/1024, "maxrss-MB") // ru_maxrss is in KiB on Linux
	if rss > 0 {
		b.ReportMetric(float64(rss)/(1<<20), "rss-MB")
	}
	b.ReportMetric(float64(goroutines), "goroutines")
	b.Logf("window %v: %d checks (%d failed), CPU %v (helper %v), %d of %d up, %d goroutines, heap in use %.1f MB, RSS %.1f MB (peak %.1f MB)",
		elapsed.Round(time.Millisecond), okN+failedN, failedN, cpu.Round(time.Millisecond), otherCPU.Round(time.Millisecond),
		up, len(probes), goroutines, float64(ms.HeapInuse)/(1<<20), float64(rss)/(1<<20), float64(ru.Maxrss)/1024)
	if up != len(probes) || failedN != 0 {
		b.Errorf("%d of %d up, %d failed checks in the window; now failing: %v", up, len(probes), failedN, reasons)
	}
}

// BenchmarkSetKeep10000 is a reload that keeps all of 10,000 checkers
// (new policies, same keys), while they are being checked.
func BenchmarkSetKeep10000(b *testing.B) {
	probe := func(ctx context.Context) Result { return Result{OK: true} }
	sets := [2]map[string]Checker{}
	for i := range sets {
		sets[i] = make(map[string]Checker, 10000)
		for k := range 10000 {
			sets[i]["10.0."+strconv.Itoa(k/250)+"."+strconv.Itoa(k%250)+":80"] = Checker{
				Probe: probe, Policy: Policy{Interval: time.Duration(i+1) * time.Second, Failures: i + 1},
			}
		}
	}
	m := New[string](Options{})
	m.Set(sets[0])
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	b.ResetTimer()
	for i := range b.N {
		m.Set(sets[(i+1)%2])
	}
}
