package ipvs_test

import (
	"context"
	"net/netip"
	"testing"

	"github.com/lvsconsole/lvsconsole/lvs/ipvs"
	"github.com/lvsconsole/lvsconsole/lvs/ipvs/ipvstest"
)

// The 10,000 x 10 table of issue 20: 10,000 services of 10 destinations.
const (
	services20 = 10000
	dests20    = 10
)

func service20(i int) ipvs.Service {
	return ipvs.Service{ServiceKey: ipvs.ServiceKey{Family: ipvs.FamilyIPv4, Protocol: ipvs.TCP,
		Addr: netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}), Port: 80}, Scheduler: "wlc"}
}

func dest20(i, j int) ipvs.Destination {
	return ipvs.Destination{Addr: netip.AddrFrom4([4]byte{10, 2, byte(i >> 8), byte(i)}),
		Port: uint16(8000 + j), Forward: ipvs.Masquerade, Weight: 1}
}

func ops20() []ipvs.Op {
	ops := make([]ipvs.Op, 0, services20*(1+dests20))
	for i := range services20 {
		s := service20(i)
		ops = append(ops, ipvs.Op{Kind: ipvs.AddService, Service: s})
		for j := range dests20 {
			ops = append(ops, ipvs.Op{Kind: ipvs.AddDest, Service: s, Dest: dest20(i, j)})
		}
	}
	return ops
}

// BenchmarkApplyBatch10000x10 programs 10,000 x 10 in one Apply. Against
// the fake kernel: the figure is the client's encoding and the fake, the
// guest's BenchmarkGuestProgram10000x10 (lvs/engine) is the real one.
func BenchmarkApplyBatch10000x10(b *testing.B) {
	ctx := context.Background()
	ops := ops20()
	var datagrams uint64
	for b.Loop() {
		b.StopTimer()
		c, err := ipvs.NewNetlink(ipvstest.New().NetlinkConn())
		if err != nil {
			b.Fatal(err)
		}
		d0 := c.Requests()
		b.StartTimer()
		for i, err := range c.Apply(ctx, ops) {
			if err != nil {
				b.Fatalf("op %d: %v", i, err)
			}
		}
		b.StopTimer()
		datagrams += c.Requests() - d0
		c.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(datagrams)/float64(b.N), "datagrams/op")
}

// BenchmarkDump10000x10 reads 10,000 x 10 back: a service dump and one
// destination dump per service, against the fake kernel (the client's
// decoding; allocs/op is the figure to watch).
func BenchmarkDump10000x10(b *testing.B) {
	ctx := context.Background()
	c, err := ipvs.NewNetlink(ipvstest.New().NetlinkConn())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	for i, err := range c.Apply(ctx, ops20()) {
		if err != nil {
			b.Fatalf("op %d: %v", i, err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		svcs, err := c.Services(ctx)
		if err != nil || len(svcs) != services20 {
			b.Fatalf("Services: %d, %v", len(svcs), err)
		}
		for _, s := range svcs {
			ds, err := c.Destinations(ctx, s.ServiceKey)
			if err != nil || len(ds) != dests20 {
				b.Fatalf("Destinations: %d, %v", len(ds), err)
			}
		}
	}
}

// BenchmarkDecode10000x10 is the decoding alone of the messages a full read
// of 10,000 x 10 receives, without the socket.
func BenchmarkDecode10000x10(b *testing.B) {
	ctx := context.Background()
	c, err := ipvs.NewNetlink(ipvstest.New().NetlinkConn())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	s := service20(1)
	for i, err := range c.Apply(ctx, []ipvs.Op{{Kind: ipvs.AddService, Service: s},
		{Kind: ipvs.AddDest, Service: s, Dest: dest20(1, 1)}}) {
		if err != nil {
			b.Fatalf("op %d: %v", i, err)
		}
	}
	svcs, dests, err := ipvs.RawDump(ctx, c, s.ServiceKey)
	if err != nil || len(svcs) != 1 || len(dests) != 1 {
		b.Fatalf("dump: %d services, %d destinations, %v", len(svcs), len(dests), err)
	}
	svc, dest := svcs[0], dests[0]
	b.ReportAllocs()
	for b.Loop() {
		for range services20 {
			if _, err := ipvs.DecodeService(svc); err != nil {
				b.Fatal(err)
			}
			for range dests20 {
				if _, err := ipvs.DecodeDest(dest, ipvs.FamilyIPv4); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
}
