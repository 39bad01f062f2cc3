package load

import (
	"context"
	"net/netip"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/load/agent"
)

// BenchmarkMonitors10k: 10,000 targets read once each (the readings
// answer at once), and what a monitored server costs.
func BenchmarkMonitors10k(b *testing.B) {
	const n = 10000
	targets := make([]Target, n)
	base := netip.MustParseAddr("10.0.0.0").As4()
	for i := range targets {
		a := base
		a[2], a[3] = byte(i>>8), byte(i)
		targets[i] = Target{Kind: Agent, Addr: netip.AddrFrom4(a), Port: 3334, Interval: 100 * time.Millisecond, Weight: 10, Ceiling: 100}
	}
	for b.Loop() {
		var reads atomic.Int64
		all := make(chan struct{})
		read := func(ctx context.Context, t Target) (Reading, error) {
			if reads.Add(1) == n {
				close(all)
			}
			return Reading{Answer: answerOf(50)}, nil
		}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		m := NewMonitors(Options{Read: read, Log: quietLog()})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- m.Run(ctx) }()
		m.Set(targets)
		<-all
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.StackInuse+after.HeapInuse-before.StackInuse-before.HeapInuse)/n, "B/target")
		cancel()
		<-done
	}
}

func answerOf(percent int) (a agent.Answer) {
	a.Percent, a.Weight, a.MaxConn = percent, -1, -1
	return a
}
