//go:build linux

package failover_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/lvsconsole/lvsconsole/lvs/internal/netns"
)

// The load benchmarks run the pair of pair_test.go (two `lvsconsole serve`
// processes in network namespaces of their own) while 64 processes spin on
// the machine's cores, and count what must not happen: a false failover.
//
//	LVSCONSOLE_LOAD_TIME=10m go test -run='^$' -bench='FalseFailover/deadtime=0.08' -benchtime=1x -timeout=0 ./lvs/failover/

// spinners is how many busy loops load the machine.
const spinners = 64

// loadTime is how long each case watches the loaded pair:
// LVSCONSOLE_LOAD_TIME (a Go duration), 2 minutes by default.
func loadTime(b *testing.B) time.Duration {
	v := os.Getenv("LVSCONSOLE_LOAD_TIME")
	if v == "" {
		return 2 * time.Minute
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		b.Fatalf("LVSCONSOLE_LOAD_TIME=%q: want a positive Go duration such as 2m", v)
	}
	return d
}

// timedConfig is pairConfig with the given keepalive and deadtime (seconds).
func timedConfig(keepalive, deadtime string) string {
	cfg := pairConfig(pairOpts{deadtime: deadtime})
	return strings.Replace(cfg, "keepalive = 0.2\n", "keepalive = "+keepalive+"\n", 1)
}

// startTimedPair builds a lab whose directors use keepalive and deadtime,
// starts both and waits for the primary active and the backup standby.
func startTimedPair(b *testing.B, keepalive, deadtime string) (*lab, map[string]*director) {
	l := newLab(b)
	for _, role := range []string{"a", "b"} {
		l.cli(role, timedConfig(keepalive, deadtime), "import", "-db", l.db(role), "-")
	}
	dirs := map[string]*director{"a": l.start("a")}
	dirs["a"].await(b, 0, 20*time.Second, "msg=role", "role=active")
	dirs["b"] = l.start("b")
	dirs["b"].await(b, 0, 20*time.Second, "msg=role", "role=standby")
	return l, dirs
}

// spin starts n busy loops (shells spinning on `:`), each in a process
// group of its own, and returns a function that kills them by pid.
func spin(b *testing.B, n int) (stop func()) {
	var cmds []*exec.Cmd
	stop = func() {
		for _, c := range cmds {
			c.Process.Kill()
			c.Wait()
		}
		cmds = nil
	}
	b.Cleanup(stop)
	for range n {
		c := exec.Command("sh", "-c", "while :; do :; done")
		c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := c.Start(); err != nil {
			b.Fatal(err)
		}
		cmds = append(cmds, c)
	}
	return stop
}

// capture records when each director's heartbeats cross the lab's bridge,
// by the kernel's timestamps on a packet socket bound to the director's
// port of the bridge: what the director sent and when, whoever reads it.
type capture struct {
	mu   sync.Mutex
	sent map[string][]time.Time // director -> send times
	fds  []int
	wg   sync.WaitGroup
	done chan struct{}
}

func (l *lab) capture(b *testing.B) *capture {
	c := &capture{sent: map[string][]time.Time{}, done: make(chan struct{})}
	for _, role := range []string{"a", "b"} {
		var fd int
		err := netns.Do(l.ns["sw"], func() error {
			ifi, err := net.InterfaceByName("p" + role)
			if err != nil {
				return err
			}
			// ETH_P_ALL: the bridge consumes what its ports receive before
			// sockets of one protocol see it, but after the taps.
			fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ALL)))
			if err != nil {
				return err
			}
			if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index}); err != nil {
				unix.Close(fd)
				return err
			}
			return nil
		})
		if err != nil {
			b.Fatalf("capturing on p%s: %v", role, err)
		}
		for _, o := range []struct{ opt, v int }{{unix.SO_TIMESTAMPNS, 1}, {unix.SO_RCVBUFFORCE, 4 << 20}} {
			if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, o.opt, o.v); err != nil {
				b.Fatal(err)
			}
		}
		tv := unix.NsecToTimeval(int64(100 * time.Millisecond))
		if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
			b.Fatal(err)
		}
		c.fds = append(c.fds, fd)
		c.wg.Add(1)
		go c.read(role, fd)
	}
	b.Cleanup(c.stop)
	return c
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// read records the heartbeats (IPv4, UDP to port 539) that come in on the
// bridge port of role, that is, that role sent.
func (c *capture) read(role string, fd int) {
	defer c.wg.Done()
	buf := make([]byte, 2048)
	oob := make([]byte, 128)
	for {
		select {
		case <-c.done:
			return
		default:
		}
		n, oobn, _, from, err := unix.Recvmsg(fd, buf, oob, 0)
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return
		}
		if ll, ok := from.(*unix.SockaddrLinklayer); !ok || ll.Pkttype == unix.PACKET_OUTGOING || ll.Protocol != htons(unix.ETH_P_IP) {
			continue
		}
		p := buf[:n]
		if len(p) < 28 || p[0]>>4 != 4 || p[9] != unix.IPPROTO_UDP {
			continue
		}
		ihl := int(p[0]&0xf) * 4
		if len(p) < ihl+8 || int(p[ihl+2])<<8|int(p[ihl+3]) != 539 {
			continue
		}
		at, ok := timestamp(oob[:oobn])
		if !ok {
			continue
		}
		c.mu.Lock()
		c.sent[role] = append(c.sent[role], at)
		c.mu.Unlock()
	}
}

func timestamp(oob []byte) (time.Time, bool) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return time.Time{}, false
	}
	for _, m := range msgs {
		if m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SO_TIMESTAMPNS && len(m.Data) >= 16 {
			sec, nsec := binary.NativeEndian.Uint64(m.Data), binary.NativeEndian.Uint64(m.Data[8:])
			return time.Unix(int64(sec), int64(nsec)), true
		}
	}
	return time.Time{}, false
}

func (c *capture) stop() {
	select {
	case <-c.done:
		return
	default:
	}
	close(c.done)
	c.wg.Wait()
	for _, fd := range c.fds {
		unix.Close(fd)
	}
}

// intervals returns the gaps between role's heartbeats sent after from.
func (c *capture) intervals(role string, from time.Time) []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []time.Duration
	var prev time.Time
	for _, at := range c.sent[role] {
		if at.Before(from) {
			continue
		}
		if !prev.IsZero() {
			out = append(out, at.Sub(prev))
		}
		prev = at
	}
	return out
}

// BenchmarkFalseFailover watches a pair whose two directors run on a
// machine loaded with 64 busy loops for LVSCONSOLE_LOAD_TIME, for each
// dead time (keepalive a quarter of it), and reports:
//
//   - flaps: how often the standby took over (a false failover: the active
//     was never stopped), and silences: "peer silent" seen by either side;
//   - the interval between heartbeats each director sent, as the kernel
//     saw them cross the bridge: p99 and max of both directors, in ms
//     (the keepalive is the ideal).
//
// Run it with -benchtime=1x (each case takes LVSCONSOLE_LOAD_TIME).
func BenchmarkFalseFailover(b *testing.B) {
	for _, c := range []struct{ keepalive, deadtime string }{
		{"0.15", "0.6"}, {"0.06", "0.25"}, {"0.02", "0.08"},
	} {
		b.Run("deadtime="+c.deadtime, func(b *testing.B) {
			watch := loadTime(b)
			l, dirs := startTimedPair(b, c.keepalive, c.deadtime)
			cap := l.capture(b)
			stopSpin := spin(b, spinners)
			ma, mb := dirs["a"].mark(), dirs["b"].mark()
			from := time.Now()
			b.ResetTimer()
			for range b.N {
				select {
				case <-dirs["a"].done:
					b.Fatal("the primary ended")
				case <-dirs["b"].done:
					b.Fatal("the backup ended")
				case <-time.After(watch):
				}
			}
			b.StopTimer()
			stopSpin()
			cap.stop()

			flaps, silences, all := reportPair(b, dirs, cap, ma, mb, from)
			b.Logf("%v under %d busy loops, keepalive %ss, deadtime %ss: %d heartbeats, flaps %d, silences %d, interval p50 %v p99 %v p99.9 %v max %v",
				watch, spinners, c.keepalive, c.deadtime, len(all), len(flaps), len(silences),
				all[len(all)/2], all[len(all)*99/100], all[len(all)*999/1000], all[len(all)-1])
		})
	}
}

// BenchmarkFailoverDeadtime80ms is BenchmarkFailover at the shortest dead
// time the load benchmark recommends: keepalive 0.02 s, deadtime 0.08 s,
// 20 kills (-9) of the active director, each followed by its restart. It
// reports, from the kill, the VIP up on the other director and the
// client's neighbour entry moving to its MAC: median and maximum. Run it
// with -benchtime=1x.
func BenchmarkFailoverDeadtime80ms(b *testing.B) {
	const kills = 20
	l, dirs := startTimedPair(b, "0.02", "0.08")
	neigh := l.watchNeighbours()
	l.ping()
	active, standby := "a", "b"
	var vipUp, moved []time.Duration
	b.ResetTimer()
	for range b.N {
		for range kills {
			ms, mn := dirs[standby].mark(), neigh.mark()
			killed := dirs[active].kill()
			up := dirs[standby].await(b, ms, 10*time.Second, "msg=\"address up\"", vip)
			at := neigh.await(b, mn, l.mac[standby], 10*time.Second)
			vipUp, moved = append(vipUp, up.Sub(killed)), append(moved, at.Sub(killed))
			dirs[active] = l.start(active)
			dirs[active].await(b, 0, 20*time.Second, "msg=role", "role=standby")
			active, standby = standby, active
		}
	}
	b.StopTimer()
	slices.Sort(vipUp)
	slices.Sort(moved)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(ms(vipUp[len(vipUp)/2]), "vip-up-median-ms")
	b.ReportMetric(ms(vipUp[len(vipUp)-1]), "vip-up-max-ms")
	b.ReportMetric(ms(moved[len(moved)/2]), "neigh-moved-median-ms")
	b.ReportMetric(ms(moved[len(moved)-1]), "neigh-moved-max-ms")
	b.Logf("VIP up after kill: %v", vipUp)
	b.Logf("client's entry moved after kill: %v", moved)
}

// BenchmarkFalseFailoverImport10000x10 watches a pair while the active
// director takes an import of 10,000 virtual servers x 10 real servers
// (issue 20: "no false failover during an import"): `lvsconsole import`
// writes it into the active's database, the active's serve applies it
// (10,000 VIPs up on eth0:1, the engine's table), the standby fetches
// it over the sync (a 12 MB lvs.cf) and adopts it. The watch lasts from
// the import to 5 s after the standby took it. It reports flaps (the
// standby taking over), silences ("peer silent" on either side) and the
// heartbeats' send intervals as the bridge saw them, next to the keepalive.
// Run it with -benchtime=1x.
func BenchmarkFalseFailoverImport10000x10(b *testing.B) {
	for _, c := range []struct{ keepalive, deadtime string }{{"0.15", "0.6"}, {"0.06", "0.25"}} {
		b.Run("deadtime="+c.deadtime, func(b *testing.B) {
			l, dirs := startTimedPair(b, c.keepalive, c.deadtime)
			l.awaitPeer("b", "active", 20*time.Second)
			big := bigConfig(timedConfig(c.keepalive, c.deadtime), 10000, 10)
			cap := l.capture(b)
			ma, mb := dirs["a"].mark(), dirs["b"].mark()
			from := time.Now()
			b.ResetTimer()
			for range b.N {
				l.cli("a", big, "import", "-db", l.db("a"), "-")
				dirs["b"].await(b, mb, 3*time.Minute, "configuration taken from the active director")
				select {
				case <-dirs["a"].done:
					b.Fatal("the primary ended")
				case <-dirs["b"].done:
					b.Fatal("the backup ended")
				case <-time.After(5 * time.Second): // the standby's apply, watched
				}
			}
			b.StopTimer()
			took := time.Since(from)
			cap.stop()
			flaps, silences, all := reportPair(b, dirs, cap, ma, mb, from)
			b.Logf("import of 10,000 x 10 watched for %v, keepalive %ss, deadtime %ss: %d heartbeats, flaps %d, silences %d, interval p50 %v p99 %v max %v",
				took.Round(time.Millisecond), c.keepalive, c.deadtime, len(all), len(flaps), len(silences),
				all[len(all)/2], all[len(all)*99/100], all[len(all)-1])
		})
	}
}

// reportPair reports what must not happen to a watched pair since the
// marks ma, mb and the time from: flaps (the backup taking over),
// silences ("peer silent" on either side), logged one by one, and the
// intervals between the heartbeats each director sent (p99, max), which
// it returns sorted.
func reportPair(b *testing.B, dirs map[string]*director, cap *capture, ma, mb int, from time.Time) (flaps, silences []string, all []time.Duration) {
	flaps = dirs["b"].lines(mb, "msg=role", "role=active")
	silences = append(dirs["a"].lines(ma, "peer silent"), dirs["b"].lines(mb, "peer silent")...)
	for _, f := range append(flaps, silences...) {
		b.Log(f)
	}
	for _, role := range []string{"a", "b"} {
		iv := cap.intervals(role, from)
		if len(iv) == 0 {
			b.Fatalf("no heartbeat of %s captured", role)
		}
		all = append(all, iv...)
	}
	slices.Sort(all)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(float64(len(flaps)), "flaps")
	b.ReportMetric(float64(len(silences)), "silences")
	b.ReportMetric(ms(all[len(all)*99/100]), "send-interval-p99-ms")
	b.ReportMetric(ms(all[len(all)-1]), "send-interval-max-ms")
	return flaps, silences, all
}

// bigConfig is cfg (an lvs.cf) at serial 2 with nv more virtual servers of
// nr real servers each (shared by the virtual servers 250 apart), every
// VIP on eth0:1.
func bigConfig(cfg string, nv, nr int) string {
	var s strings.Builder
	s.WriteString(strings.Replace(cfg, "serial_no = 1\n", "serial_no = 2\n", 1))
	for i := range nv {
		fmt.Fprintf(&s, "virtual vs%d {\n     active = 1\n     address = 198.18.%d.%d eth0:1\n     vip_nmask = 255.255.255.255\n     port = 80\n     scheduler = wlc\n     timeout = 6\n", i, i/250, 1+i%250)
		for j := range nr {
			fmt.Fprintf(&s, "     server rs%d {\n         address = 10.60.%d.%d\n         active = 1\n         weight = 1\n     }\n", j, i%250, 1+j)
		}
		s.WriteString("}\n")
	}
	return s.String()
}
