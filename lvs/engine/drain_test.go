//go:build !guest

package engine

import (
	"context"
	"net/netip"
	"testing"

	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/store"
)

// TestDesiredDrain: a draining real server is at weight 0 whatever its
// checks say while it is up or quiesced, counts nothing towards the
// quorum (the sorry server comes in when only it is left) but stays in
// the table beside the sorry server so that its connections finish; a
// check that finds it down still takes it out.
func TestDesiredDrain(t *testing.T) {
	type h = struct {
		w int32
		p Presence
	}
	for _, tc := range []struct {
		name   string
		health fakeHealth
		want   map[string]int32 // destination address -> weight
	}{
		{"up, another up", fakeHealth{"r1": h{5, In}, "r2": h{5, In}}, map[string]int32{"10.0.0.1": 0, "10.0.0.2": 5}},
		{"slow start", fakeHealth{"r1": h{2, In}, "r2": h{5, In}}, map[string]int32{"10.0.0.1": 0, "10.0.0.2": 5}},
		{"quiesced", fakeHealth{"r1": h{0, Quiesced}, "r2": h{5, In}}, map[string]int32{"10.0.0.1": 0, "10.0.0.2": 5}},
		{"down", fakeHealth{"r1": h{0, Out}, "r2": h{5, In}}, map[string]int32{"10.0.0.2": 5}},
		{"only it up: the sorry server too", fakeHealth{"r1": h{5, In}, "r2": h{0, Out}}, map[string]int32{"10.0.0.1": 0, "10.0.0.99": 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config.Default()
			vs := config.NewVirtual("web")
			vs.Active, vs.Address, vs.SorryServer = true, a("192.0.2.10"), a("10.0.0.99")
			vs.Reals = []config.RealServer{
				{Name: "r1", Active: true, Address: a("10.0.0.1"), Weight: 5, Draining: true},
				{Name: "r2", Active: true, Address: a("10.0.0.2"), Weight: 5},
			}
			cfg.Virtuals = []config.VirtualServer{vs}
			got := map[string]int32{}
			for _, d := range Desired(cfg, tc.health).Services[0].Dests {
				got[d.Addr.String()] = d.Weight
			}
			if len(got) != len(tc.want) {
				t.Fatalf("table %v, want %v", got, tc.want)
			}
			for addr, w := range tc.want {
				if g, ok := got[addr]; !ok || g != w {
					t.Errorf("table %v, want %v", got, tc.want)
				}
			}
		})
	}
}

// TestObservedKeepsADrainUp: plan's prediction from a running engine's
// table does not take a draining server's weight 0 for a quiesced one
// (which, with quiesce off, would predict its removal).
func TestObservedKeepsADrainUp(t *testing.T) {
	cfg := config.Default()
	vs := config.NewVirtual("web")
	vs.Active, vs.Address = true, a("192.0.2.10")
	vs.Reals = []config.RealServer{{Name: "r1", Active: true, Address: a("10.0.0.1"), Weight: 5, Draining: true}}
	cfg.Virtuals = []config.VirtualServer{vs}
	o := Observed(cfg, Desired(cfg, Configured{}))
	if w, p := o.Weight(&cfg.Virtuals[0], &cfg.Virtuals[0].Reals[0]); p != In || w != 5 {
		t.Errorf("Observed says %d, %v; want up at its weight 5 (Desired then drains it)", w, p)
	}
	if d := Desired(cfg, o).Services[0].Dests; len(d) != 1 || d[0].Weight != 0 {
		t.Errorf("predicted %+v, want r1 at weight 0", d)
	}
}

// TestEngineDrains runs the engine over the real store and the fake
// kernel: DRAIN sets the destination's weight to 0 and keeps the
// configured weight; activating it again restores that weight;
// deactivating removes it.
func TestEngineDrains(t *testing.T) {
	st := openStore(t)
	cfg := config.Default()
	vs := config.NewVirtual("web")
	vs.Active, vs.Address, vs.Port = true, a("192.0.2.10"), 80
	vs.Reals = []config.RealServer{
		{Name: "r1", Active: true, Address: a("10.0.0.1"), Weight: 5},
		{Name: "r2", Active: true, Address: a("10.0.0.2"), Weight: 3},
	}
	cfg.Virtuals = []config.VirtualServer{vs}
	if _, err := st.Replace(ctx, store.Change{Role: store.ScopeAdmin, Author: "test"}, cfg); err != nil {
		t.Fatal(err)
	}
	k, c := fakeKernel(t)
	e := New(Options{Source: st, Ledger: st, Dial: func() (Kernel, error) { return c, nil }, Log: quiet(), Sample: -1})
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { e.Run(runCtx); close(done) }()
	defer func() { cancel(); <-done }()

	key := Desired(cfg, Configured{}).Services[0].ServiceKey
	r1 := netip.AddrPortFrom(a("10.0.0.1"), 80)
	r2 := netip.AddrPortFrom(a("10.0.0.2"), 80)
	waitFor(t, e, "both servers in", func() bool { d := destsOf(k, key); return d[r1] == 5 && d[r2] == 3 })

	edit := func(fn func(rs *config.RealServer)) *config.RealServer {
		t.Helper()
		saved, err := st.Update(ctx, store.Change{Role: store.ScopeAdmin, Author: "test"}, func(c *config.Config) error {
			fn(c.Virtual("web").Real("r1"))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return saved.Virtual("web").Real("r1")
	}
	rs := edit((*config.RealServer).StartDrain)
	if !rs.Draining || rs.DrainSince.IsZero() || rs.Weight != 5 || !rs.Active {
		t.Fatalf("after DRAIN the store has %+v: want active, draining since now, weight 5", rs)
	}
	waitFor(t, e, "r1 at weight 0, r2 as it was", func() bool {
		d := destsOf(k, key)
		w1, in1 := d[r1]
		return in1 && w1 == 0 && d[r2] == 3
	})
	if saved, _ := st.Config(ctx); saved.Virtual("web").Real("r1").Weight != 5 {
		t.Errorf("the configured weight became %d", saved.Virtual("web").Real("r1").Weight)
	}

	rs = edit(func(rs *config.RealServer) { rs.SetActive(true) })
	if rs.Draining || !rs.DrainSince.IsZero() {
		t.Errorf("activated, the store still has a drain: %+v", rs)
	}
	waitFor(t, e, "r1 back at weight 5", func() bool { return destsOf(k, key)[r1] == 5 })

	edit((*config.RealServer).StartDrain)
	waitFor(t, e, "r1 draining again", func() bool { w, in := destsOf(k, key)[r1]; return in && w == 0 })
	edit(func(rs *config.RealServer) { rs.SetActive(false) })
	waitFor(t, e, "r1 out", func() bool { _, in := destsOf(k, key)[r1]; return !in })
}
