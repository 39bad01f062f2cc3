//go:build !guest

package engine

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/lvsconsole/lvsconsole/lvs/config"
)

// config20 is issue 20's 10,000 virtual servers x 10 real servers (NAT).
func config20() *config.Config {
	cfg := config.Default()
	cfg.Global.Network = config.NAT
	for i := range 10000 {
		vs := config.NewVirtual(fmt.Sprintf("vs%d", i))
		vs.Active, vs.Address = true, netip.AddrFrom4([4]byte{192, 0, byte(2 + i/250), byte(1 + i%250)})
		for j := range 10 {
			rs := config.NewReal(fmt.Sprintf("rs%d", j))
			rs.Active, rs.Address = true, netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), byte(1 + j)})
			vs.Reals = append(vs.Reals, rs)
		}
		cfg.Virtuals = append(cfg.Virtuals, vs)
	}
	return cfg
}

// BenchmarkReconcileFromEmpty10000x10 programs 10,000 x 10 into an empty
// fake kernel: the engine's and the client's side of what the guest's
// BenchmarkKernelProgram10000x10 measures on the real kernel (the fake's
// own cost included).
func BenchmarkReconcileFromEmpty10000x10(b *testing.B) {
	want := Desired(config20(), Configured{})
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		_, c := fakeKernel(b)
		b.StartTimer()
		res, err := Reconcile(ctx, c, newLedger(), want, nil)
		if err != nil || len(res.Errors) != 0 {
			b.Fatal(err, res.Errors)
		}
	}
}

// BenchmarkReadTable10000x10 reads that table back from the fake kernel.
func BenchmarkReadTable10000x10(b *testing.B) {
	_, c := fakeKernel(b)
	if res, err := Reconcile(ctx, c, newLedger(), Desired(config20(), Configured{}), nil); err != nil || len(res.Errors) != 0 {
		b.Fatal(err, res.Errors)
	}
	b.ReportAllocs()
	for b.Loop() {
		t, err := ReadTable(ctx, c, nil)
		if err != nil || len(t.Services) != 10000 {
			b.Fatal(err)
		}
	}
}
