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

// benchService and benchDest are the services and destinations of the
// benchmarks.
func benchService(i int) ipvs.Service {
	return ipvs.Service{ServiceKey: ipvs.ServiceKey{Family: ipvs.FamilyIPv4, Protocol: ipvs.TCP,
		Addr: netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}), Port: 80}, Scheduler: "wlc"}
}

func benchDest(i, j int) ipvs.Destination {
	return ipvs.Destination{Addr: netip.AddrFrom4([4]byte{10, 2, byte(i >> 8), byte(i)}),
		Port: uint16(8000 + j), Forward: ipvs.DirectRoute, Weight: 1}
}

// apply programs benchServices services of benchDests destinations each,
// one request per change.
func apply(tb testing.TB, c *ipvs.Client) {
	ctx := context.Background()
	for i := range benchServices {
		s := benchService(i)
		if err := c.NewService(ctx, s); err != nil {
			tb.Fatal(err)
		}
		for j := range benchDests {
			if err := c.NewDestination(ctx, s.ServiceKey, benchDest(i, j)); err != nil {
				tb.Fatal(err)
			}
		}
	}
}

// benchOps are the changes of apply, for Apply.
func benchOps() []ipvs.Op {
	ops := make([]ipvs.Op, 0, benchServices*(1+benchDests))
	for i := range benchServices {
		s := benchService(i)
		ops = append(ops, ipvs.Op{Kind: ipvs.AddService, Service: s})
		for j := range benchDests {
			ops = append(ops, ipvs.Op{Kind: ipvs.AddDest, Service: s, Dest: benchDest(i, j)})
		}
	}
	return ops
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

// BenchmarkApplyBatch1000x10 is BenchmarkApply1000x10 in one Apply on
// the netlink socket: the same 11,000 messages in a few dozen datagrams.
// Against the fake, as above: it shows the client's side of batching and
// how many sendmsg calls a kernel would see.
func BenchmarkApplyBatch1000x10(b *testing.B) {
	ctx := context.Background()
	ops := benchOps()
	var datagrams, messages uint64
	for b.Loop() {
		b.StopTimer()
		c, err := ipvs.NewNetlink(ipvstest.New().NetlinkConn())
		if err != nil {
			b.Fatal(err)
		}
		d0, m0 := c.Requests(), c.Messages()
		b.StartTimer()
		for i, err := range c.Apply(ctx, ops) {
			if err != nil {
				b.Fatalf("op %d: %v", i, err)
			}
		}
		b.StopTimer()
		datagrams += c.Requests() - d0
		messages += c.Messages() - m0
		c.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(datagrams)/float64(b.N), "datagrams/op")
	b.ReportMetric(float64(messages)/float64(b.N), "messages/op")
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
