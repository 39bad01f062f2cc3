package pulse

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// BenchmarkSendInterval measures how regularly a node sends its
// heartbeats (keepalive 20 ms) while the Go code of its own process is
// busy: as many goroutines as there are Ps spin in this test process, and
// LVSCONSOLE_BENCH_SPINNERS (default 64) busy-loop processes load the
// machine. The receiver is a plain socket that keeps the kernel's receive
// timestamps. One op is one heartbeat; run it with -benchtime=1000x or so.
//
//   - inprocess: the heartbeat thread in this process. It runs at real-time
//     priority, but after each wake-up it needs a P, which this process's
//     spinning goroutines hold until the Go scheduler preempts them, and
//     which their threads, descheduled by the kernel, may hold far longer;
//   - helper: the heartbeat in a helper process (Options.Helper), whose
//     threads are all real-time: this process's load does not reach it.
//
// It reports the interval between heartbeats: median, p99 and max, in ms.
func BenchmarkSendInterval(b *testing.B) {
	for _, mode := range []string{"inprocess", "helper"} {
		b.Run(mode, func(b *testing.B) {
			const keepalive = 20 * time.Millisecond
			rec := newRecorder(b, addrB)
			s := Settings{
				Self: addrA, Peer: addrB,
				Bind: netip.AddrPortFrom(addrA, freePort(b, addrA)), Port: rec.port,
				Key: testKey, Primary: true, Keepalive: keepalive, Deadtime: 4 * keepalive,
			}
			o := Options{Log: slog.New(slog.DiscardHandler)}
			if mode == "helper" {
				o.Helper = helperCmd
			}
			n, err := New(s, o)
			if err != nil {
				b.Fatal(err)
			}
			stopLoad := loadMachine(b)
			defer stopLoad()
			done := make(chan error, 1)
			ctx, cancel := context.WithCancel(context.Background())
			go func() { done <- n.Run(ctx) }()
			rec.skip(10) // the start
			b.ResetTimer()
			at := rec.take(b.N + 1)
			b.StopTimer()
			cancel()
			if err := <-done; err != nil {
				b.Fatal(err)
			}
			var iv []time.Duration
			for i := 1; i < len(at); i++ {
				iv = append(iv, at[i].Sub(at[i-1]))
			}
			slices.Sort(iv)
			ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
			b.ReportMetric(0, "ns/op")
			b.ReportMetric(ms(iv[len(iv)/2]), "interval-p50-ms")
			b.ReportMetric(ms(iv[len(iv)*99/100]), "interval-p99-ms")
			b.ReportMetric(ms(iv[len(iv)-1]), "interval-max-ms")
		})
	}
}

// loadMachine spins GOMAXPROCS goroutines here and starts the busy-loop
// processes; the returned function stops both.
func loadMachine(b *testing.B) func() {
	stop := make(chan struct{})
	for range runtime.GOMAXPROCS(0) {
		go func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				for range 1 << 16 {
				}
			}
		}()
	}
	spinners := 64
	if v := os.Getenv("LVSCONSOLE_BENCH_SPINNERS"); v != "" {
		var err error
		if spinners, err = strconv.Atoi(v); err != nil || spinners < 0 {
			b.Fatalf("LVSCONSOLE_BENCH_SPINNERS=%q: want a number of processes", v)
		}
	}
	var cmds []*exec.Cmd
	for range spinners {
		c := exec.Command("sh", "-c", "while :; do :; done")
		c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := c.Start(); err != nil {
			b.Fatal(err)
		}
		cmds = append(cmds, c)
	}
	return func() {
		close(stop)
		for _, c := range cmds {
			c.Process.Kill()
			c.Wait()
		}
	}
}

// recorder is a UDP socket that keeps the kernel's receive timestamps.
type recorder struct {
	fd   int
	port uint16
}

func newRecorder(b *testing.B, addr netip.Addr) *recorder {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { unix.Close(fd) })
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS_NEW, 1); err != nil {
		b.Fatal(err)
	}
	tv := unix.NsecToTimeval(int64(5 * time.Second))
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		b.Fatal(err)
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: addr.As4()}); err != nil {
		b.Fatal(err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		b.Fatal(err)
	}
	return &recorder{fd: fd, port: uint16(sa.(*unix.SockaddrInet4).Port)}
}

// take returns the arrival times of the next n datagrams.
func (r *recorder) take(n int) []time.Time {
	var at []time.Time
	buf, oob := make([]byte, 256), make([]byte, 64)
	for len(at) < n {
		_, oobn, _, _, err := unix.Recvmsg(r.fd, buf, oob, 0)
		if err != nil {
			panic(fmt.Sprintf("recorder: %v", err))
		}
		msgs, _ := unix.ParseSocketControlMessage(oob[:oobn])
		for _, m := range msgs {
			if m.Header.Type == unix.SO_TIMESTAMPNS_NEW && len(m.Data) >= 16 {
				at = append(at, time.Unix(int64(binary.NativeEndian.Uint64(m.Data)), int64(binary.NativeEndian.Uint64(m.Data[8:]))))
			}
		}
	}
	return at
}

func (r *recorder) skip(n int) { r.take(n) }

// BenchmarkStartHearsPeer is how long a starting director takes to hear
// its running peer and decide, with keepalive 1 s: the handshake (the
// peer answers a heartbeat that does not know its challenge at once, and
// so does the starter) makes it a few round trips, not a keepalive. One op
// is one start of the backup, a second after the last one stopped.
func BenchmarkStartHearsPeer(b *testing.B) {
	port := freePort(b, addrA, addrB)
	s := func(self, peer netip.Addr, primary bool) Settings {
		return Settings{Self: self, Peer: peer, Bind: netip.AddrPortFrom(self, port), Port: port,
			Key: testKey, Primary: primary, Keepalive: time.Second, Deadtime: 4 * time.Second}
	}
	log := slog.New(slog.DiscardHandler)
	if os.Getenv("DEBUGLOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	a, err := New(s(addrA, addrB, true), Options{Log: log.With("node", "a")})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go a.Run(ctx)
	var took []time.Duration
	for i := range b.N + 1 {
		n, err := New(s(addrB, addrA, false), Options{Log: log.With("node", "b")})
		if err != nil {
			b.Fatal(err)
		}
		nctx, stop := context.WithCancel(context.Background())
		start := time.Now()
		done := make(chan error, 1)
		go func() { done <- n.Run(nctx) }()
		for st := n.Status(); !st.Decided; st = n.Status() {
			select {
			case <-n.Changes():
			case <-time.After(10 * time.Second):
				b.Fatalf("the backup did not decide: %+v", n.Status())
			}
		}
		st := n.Status()
		if st.Role != Standby || !st.Peer.Heard {
			b.Fatalf("the backup decided %v for %q", st.Role, st.Reason)
		}
		if i > 0 { // the first start is a's first meeting: a waited its dead time alone
			took = append(took, st.Since.Sub(start))
		}
		n.noGoodbye.Store(true) // as if killed: a stays active
		stop()
		<-done
		// Restarts come seconds apart, not back to back: a keepalive
		// refills a's allowance of immediate answers (bucket).
		<-time.After(time.Second)
	}
	slices.Sort(took)
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(float64(took[len(took)/2])/float64(time.Millisecond), "decided-p50-ms")
	b.ReportMetric(float64(took[len(took)-1])/float64(time.Millisecond), "decided-max-ms")
}
