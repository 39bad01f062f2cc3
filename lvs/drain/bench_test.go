package drain

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/lvs/engine"
)

// BenchmarkDecide1000x10: one look at 1,000 virtual servers of 10 real
// servers, 100 of them draining, against the kernel's table.
func BenchmarkDecide1000x10(b *testing.B) {
	c := config.Default()
	for i := range 1000 {
		vs := config.NewVirtual(fmt.Sprint("v", i))
		vs.ID, vs.Active, vs.Port = int64(i+1), true, 80
		vs.Address = netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)})
		for j := range 10 {
			rs := config.RealServer{ID: int64(i*10 + j + 1), Name: fmt.Sprint("r", j), Active: true, Weight: 1,
				Address: netip.AddrFrom4([4]byte{10, 2, byte(i >> 4), byte(i<<4 | j)})}
			rs.Draining, rs.DrainSince = i%100 == 0, t0
			vs.Reals = append(vs.Reals, rs)
		}
		c.Virtuals = append(c.Virtuals, vs)
	}
	st := engine.Status{Available: true, Serial: c.Serial, Kernel: engine.Desired(c, engine.Configured{}), Sampled: t0.Add(time.Hour)}
	b.ReportAllocs()
	for b.Loop() {
		Decide(c, st, nil, t0.Add(time.Minute))
	}
}
