//go:build !guest

package engine

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/lvsconsole/lvsconsole/lvs/config"
)

// The engine's part of one weight edit at 10,000 virtual servers x 10 real
// servers (issue 20, c20store): from the saved configuration to the
// netlink request, against the fake kernel (the request count is the
// kernel's; its time is the guest's benchmarks').

func editConfig20() *config.Config {
	c := config.Default()
	for i := range 10000 {
		vs := config.NewVirtual(fmt.Sprintf("vs%d", i))
		vs.Active = true
		vs.Address = netip.AddrFrom4([4]byte{198, 18, byte(i / 250), byte(1 + i%250)})
		for j := range 10 {
			rs := config.NewReal(fmt.Sprintf("rs%d", j))
			rs.Active = true
			rs.Address = netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), byte(1 + j)})
			vs.Reals = append(vs.Reals, rs)
		}
		c.Virtuals = append(c.Virtuals, vs)
	}
	return c
}

// BenchmarkReconcileWeightChange10000x10 is BenchmarkReconcileWeightChange
// at 10,000 x 10: Desired of the whole configuration, the plan against the
// table the engine knows, and the requests sent (one).
func BenchmarkReconcileWeightChange10000x10(b *testing.B) {
	_, c := fakeKernel(b)
	l := newLedger()
	cfg := editConfig20()
	res, err := Reconcile(ctx, c, l, Desired(cfg, Configured{}), nil)
	if err != nil || len(res.Errors) > 0 {
		b.Fatal(err, res.Errors)
	}
	known := res.After
	var requests uint64
	for i := 0; b.Loop(); i++ {
		cfg.Virtuals[5000].Reals[5].Weight = int64(2 + i%100)
		before := c.Requests()
		res, err := Reconcile(ctx, c, l, Desired(cfg, Configured{}), known)
		if err != nil || len(res.Errors) > 0 || len(res.Changes) != 1 {
			b.Fatal(err, res.Errors, res.Changes)
		}
		known, requests = res.After, c.Requests()-before
	}
	b.ReportMetric(float64(requests), "requests/op")
}
