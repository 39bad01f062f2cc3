package rstat

import (
	"context"
	"math"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/internal/loadtest"
)

// startRstatd starts Debian's rpcbind and rpc.rstatd in a host of their
// own (lvs/internal/loadtest) and returns it: a client reaches them at
// h.Addr across the veth pair.
func startRstatd(tb testing.TB) *loadtest.Host {
	tb.Helper()
	h := loadtest.NewHost(tb)
	h.StartRstatd()
	return h
}

// loadFrom calls Load with a timeout of d.
func loadFrom(host netip.Addr, d time.Duration) (Stats, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return Load(ctx, host)
}

// TestLoadFromRstatd asks Debian's rpc.rstatd, registered with Debian's
// rpcbind, for its load: the kernel's load is global, so it is this
// machine's /proc/loadavg, read before and after.
func TestLoadFromRstatd(t *testing.T) {
	h := startRstatd(t)
	before := loadtest.MachineLoad(t)
	st, err := loadFrom(h.Addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	after := loadtest.MachineLoad(t)
	t.Logf("rstatd: %+v; /proc/loadavg before %v, after %v", st, before, after)
	if st.Version != 3 {
		t.Errorf("version %d, want 3 (rstatd registers 1, 2, 3 and 5)", st.Version)
	}
	const tol = 0.05
	for i := range st.Load {
		lo, hi := min(before[i], after[i])-tol, max(before[i], after[i])+tol
		if st.Load[i] < lo || st.Load[i] > hi {
			t.Errorf("load[%d] = %.3f, /proc/loadavg says %.2f then %.2f", i, st.Load[i], before[i], after[i])
		}
	}
	if d := time.Since(st.Now); d < -2*time.Second || d > 2*time.Second {
		t.Errorf("rstatd's clock %v, ours %v", st.Now, time.Now())
	}
	if st.Boot.IsZero() || st.Boot.After(time.Now()) {
		t.Errorf("boot time %v", st.Boot)
	}
}

// TestRstatdReadsProcLoadavg: rpc.rstatd reads /proc/loadavg (strings
// and strace show it): a line the test bind-mounts over it in rstatd's
// mount namespace is what rup gets, raised then lowered.
func TestRstatdReadsProcLoadavg(t *testing.T) {
	h := loadtest.NewHost(t)
	h.SetLoad(0.25, 0.5, 0.75)
	h.StartRstatd()
	for _, want := range [][3]float64{{0.25, 0.5, 0.75}, {7.5, 3, 1.25}, {0.1, 2, 1}} {
		h.SetLoad(want[0], want[1], want[2])
		// rstatd refreshes its figures on a timer (every second while
		// asked): the new line shows within a few.
		var st Stats
		var err error
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			if st, err = loadFrom(h.Addr, 2*time.Second); err == nil && near(st.Load, want) {
				break
			}
			time.Sleep(100 * time.Millisecond) // the pace of the poll
		}
		if err != nil || !near(st.Load, want) {
			t.Fatalf("rstatd says %v (%v), the host's /proc/loadavg %v", st.Load, err, want)
		}
	}
}

// near: rstatd's loads are in 256ths (FSCALE), a line's in hundredths.
func near(got, want [3]float64) bool {
	for i := range got {
		if d := got[i] - want[i]; d < -1.0/256 || d > 1.0/256 {
			return false
		}
	}
	return true
}

// TestRstatdSeesAHog: busy loops started in the host raise the kernel's
// load average, which is global, and rstatd reports it. Every 5 s the
// kernel takes L = (L' * 1884 + N * 164) / 2048 (kernel/sched/loadavg.c:
// EXP_1 and FIXED_1), N the runnable tasks: two loops make N at least 2
// whatever else the machine runs, so that every reading must be at least
// L' * 0.92 + 0.16 per 5 s since the last, where without them it may fall
// to L' * 0.92. The loops start just after a recomputation (a change of
// rstatd's figure), so that the next one counts them.
func TestRstatdSeesAHog(t *testing.T) {
	h := startRstatd(t)
	read := func() float64 {
		t.Helper()
		st, err := loadFrom(h.Addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		return st.Load[0]
	}
	// floor is the least the load can be k recomputations after l with
	// two runnable loops, less the rounding of /proc/loadavg (hundredths)
	// and of rstatd (256ths).
	floor := func(l float64, k int) float64 {
		for range k {
			l = (l*1884 + 2*164) / 2048
		}
		return l - 0.03
	}
	tick := time.NewTicker(250 * time.Millisecond) // the pace of the readings
	defer tick.Stop()
	before := read()
	last, lastAt := before, time.Now()
	for last == before {
		if time.Since(lastAt) > 15*time.Second {
			t.Fatalf("rstatd's 1-minute load stayed %.2f for 15 s: the kernel recomputes it every 5", before)
		}
		<-tick.C
		last = read()
	}
	lastAt = time.Now()
	h.StartHog(2)
	first, start := last, lastAt
	for time.Since(start) < 25*time.Second {
		<-tick.C
		v := read()
		since := time.Since(lastAt).Seconds() / 5
		if v != last {
			// A recomputation; rstatd takes its figure once a second.
			if k := max(int(math.Round(since)), 1); v < floor(last, k) {
				t.Fatalf("the load went from %.3f to %.3f in %d recomputations with two busy loops: the least is %.3f", last, v, k, floor(last, k))
			}
			last, lastAt = v, time.Now()
			continue
		}
		// Unchanged: rstatd's figure may lag the kernel's by a second, so
		// the recomputations since are one fewer to one more than the
		// time says; floor is monotonic in their number.
		k := int(since)
		if least := min(floor(last, max(k-1, 0)), floor(last, k+1)); v < least {
			t.Fatalf("the load stayed %.3f for %.1f recomputations with two busy loops: the least is %.3f", v, since, least)
		}
	}
	t.Logf("1-minute load %.2f before two busy loops, %.2f when they started, %.2f 25 s later", before, first, last)
}

// TestLoadNoPortmapper: a host without a portmapper (its port closed) says
// which step failed.
func TestLoadNoPortmapper(t *testing.T) {
	h := loadtest.NewHost(t)
	_, err := loadFrom(h.Addr, 2*time.Second)
	if err == nil || !strings.HasPrefix(err.Error(), "portmapper: ") || !strings.Contains(err.Error(), "refused") {
		t.Errorf("no portmapper: %v, want a portmapper error, connection refused", err)
	}
}

// BenchmarkLoad is one rstat call (GETPORT then STATS) across a veth pair
// to Debian's daemons.
func BenchmarkLoad(b *testing.B) {
	h := startRstatd(b)
	for b.Loop() {
		if _, err := loadFrom(h.Addr, 2*time.Second); err != nil {
			b.Fatal(err)
		}
	}
}
