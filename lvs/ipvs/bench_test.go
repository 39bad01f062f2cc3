package ipvs_test

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/ipvs"
	"github.com/lvsconsole/lvsconsole/lvs/ipvs/ipvstest"
)

const (
	benchServices = 1000
	benchDests    = 10
)

// apply programs benchServices services of benchDests destinations each.
func apply(tb testing.TB, c *ipvs.Client) {
	ctx := context.Background()
	for i := range benchServices {
		key := ipvs.ServiceKey{Family: ipvs.FamilyIPv4, Protocol: ipvs.TCP,
			Addr: netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}), Port: 80}
		if err := c.NewService(ctx, ipvs.Service{ServiceKey: key, Scheduler: "wlc"}); err != nil {
			tb.Fatal(err)
		}
		for j := range benchDests {
			d := ipvs.Destination{Addr: netip.AddrFrom4([4]byte{10, 2, byte(i >> 8), byte(i)}),
				Port: uint16(8000 + j), Forward: ipvs.DirectRoute, Weight: 1}
			if err := c.NewDestination(ctx, key, d); err != nil {
				tb.Fatal(err)
			}
		}
	}
}

// BenchmarkApply1000x10 measures programming 1,000 services of 10
// destinations (11,000 requests) through the client. The kernel is the
// in-memory fake: the figure is the client's encoding and the fake's
// socket emulation, not what a real kernel costs.
func BenchmarkApply1000x10(b *testing.B) {
	var requests uint64
	var elapsed time.Duration
	for b.Loop() {
		b.StopTimer()
		c, err := ipvs.New(ipvstest.New().Conn())
		if err != nil {
			b.Fatal(err)
		}
		before := c.Requests()
		b.StartTimer()
		start := time.Now()
		apply(b, c)
		elapsed += time.Since(start)
		b.StopTimer()
		requests += c.Requests() - before
		c.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(requests)/float64(b.N), "requests/op")
	b.ReportMetric(float64(elapsed.Nanoseconds())/float64(requests), "ns/request")
}

// BenchmarkDump1000x10 measures reading back 1,000 services of 10
// destinations: one service dump and one destination dump per service.
// Against the fake, as above: not a kernel figure (ipvsadm -Sn on a real
// kernel is reported at 26 ms for 1,000 x 4).
func BenchmarkDump1000x10(b *testing.B) {
	ctx := context.Background()
	c, err := ipvs.New(ipvstest.New().Conn())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	apply(b, c)
	before := c.Requests()
	for b.Loop() {
		svcs, err := c.Services(ctx)
		if err != nil || len(svcs) != benchServices {
			b.Fatalf("Services: %d, %v", len(svcs), err)
		}
		for _, s := range svcs {
			ds, err := c.Destinations(ctx, s.ServiceKey)
			if err != nil || len(ds) != benchDests {
				b.Fatalf("Destinations: %d, %v", len(ds), err)
			}
		}
	}
	b.ReportMetric(float64(c.Requests()-before)/float64(b.N), "requests/op")
}
