//go:build !guest

package engine

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"testing"

	"github.com/lvsconsole/lvsconsole/lvs/config"
)

// genHealth answers by real server address, and tells which virtual
// servers' answers changed since a mark.
type genHealth struct {
	down map[netip.Addr]bool
	gen  uint64
	at   map[netip.Addr]uint64 // the generation each address last changed
}

func (h *genHealth) Weight(vs *config.VirtualServer, rs *config.RealServer) (int32, Presence) {
	if h.down[rs.Address] {
		if vs.Quiesce {
			return 0, Quiesced
		}
		return 0, Out
	}
	return int32(rs.Weight), In
}

func (h *genHealth) Changed(cfg *config.Config, since HealthMark) (HealthMark, []int, bool) {
	var dirty []int
	for i := range cfg.Virtuals {
		for _, rs := range cfg.Virtuals[i].Reals {
			if h.at[rs.Address] > since.Gen {
				dirty = append(dirty, i)
				break
			}
		}
	}
	return HealthMark{Gen: h.gen}, dirty, true
}

// TestDesiredAgain: over a long random run of edits and health changes,
// the table, the programs' events and what the engine remembers are the
// same whether each step derives only the virtual servers that changed
// (desiredAgain, as the engine does when it can) or all of them (desired).
func TestDesiredAgain(t *testing.T) {
	rng := rand.New(rand.NewPCG(20, 3))
	cfg := config.Default()
	for i := range 40 {
		vs := config.NewVirtual(fmt.Sprintf("vs%d", i))
		vs.Active, vs.Address, vs.Port = i%7 != 0, netip.AddrFrom4([4]byte{192, 0, 2, byte(i + 1)}), 80
		vs.Quorum, vs.Hysteresis, vs.Quiesce = int64(1+i%3), int64(i%2), i%5 == 0
		if i%4 == 0 {
			vs.SorryServer = netip.AddrFrom4([4]byte{10, 9, 9, byte(i + 1)})
		}
		for j := range 5 {
			rs := config.NewReal(fmt.Sprintf("rs%d", j))
			rs.Active, rs.Address, rs.Weight = j != 4, netip.AddrFrom4([4]byte{10, 0, byte(i), byte(j + 1)}), int64(1+j)
			vs.Reals = append(vs.Reals, rs)
		}
		cfg.Virtuals = append(cfg.Virtuals, vs)
	}
	h := &genHealth{down: map[netip.Addr]bool{}, at: map[netip.Addr]uint64{}}
	inc, full := newMemory(), newMemory()
	var last lastDesired
	agains := 0
	for step := range 600 {
		next := cfg.Clone()
		i := rng.IntN(len(next.Virtuals))
		vs := &next.Virtuals[i]
		rs := &vs.Reals[rng.IntN(len(vs.Reals))]
		switch what := rng.IntN(12); what {
		case 0, 1, 2:
			rs.Weight = int64(rng.IntN(5))
		case 3:
			rs.Active = !rs.Active
		case 4:
			rs.Draining = !rs.Draining
		case 5:
			vs.Active = !vs.Active
		case 6:
			vs.Quorum = int64(rng.IntN(8))
		case 7:
			vs.Reals = append(vs.Reals[:len(vs.Reals):len(vs.Reals)], config.RealServer{Name: fmt.Sprintf("new%d", step),
				Active: true, Address: netip.AddrFrom4([4]byte{10, 1, byte(step >> 8), byte(step)}), Weight: 1})
		case 8:
			if len(vs.Reals) > 1 {
				vs.Reals = append(vs.Reals[:0:0], vs.Reals[1:]...)
			}
		case 9:
			next.Global.TCPTimeout = int64(rng.IntN(3) * 100)
		case 10, 11:
			// The health changes, not the configuration.
			h.down[rs.Address] = !h.down[rs.Address]
			h.gen++
			h.at[rs.Address] = h.gen
		}
		cfg = next

		wantT, wantEv := desired(cfg, h, full)
		mark, answered, _ := h.Changed(cfg, last.mark)
		gotT, gotEv, ok := desiredAgain(cfg, h, inc, &last, answered)
		if ok {
			agains++
		} else {
			gotT, gotEv = desired(cfg, h, inc)
		}
		last = lastDesired{cfg: cfg, want: gotT, mark: mark}
		if !sameDesired(gotT, wantT) {
			t.Fatalf("step %d (again %v): table\n%s\nwant\n%s", step, ok, dumpTable(gotT), dumpTable(wantT))
		}
		if !reflect.DeepEqual(gotEv, wantEv) {
			t.Fatalf("step %d (again %v): events %v, want %v", step, ok, gotEv, wantEv)
		}
		if !reflect.DeepEqual(inc.quorum, full.quorum) || !sameMemory(inc, full) {
			t.Fatalf("step %d (again %v): what is remembered differs", step, ok)
		}
	}
	if agains < 500 {
		t.Errorf("only %d of 600 steps derived the changed virtual servers alone", agains)
	}
}

// sameDesired compares two desired tables service by service.
func sameDesired(a, b *Table) bool {
	if len(a.Services) != len(b.Services) || a.Timeouts != b.Timeouts {
		return false
	}
	for i := range a.Services {
		x, y := a.Services[i], b.Services[i]
		if x.Service != y.Service || x.Virtual != y.Virtual || x.Canonical != y.Canonical ||
			!reflect.DeepEqual(x.Pending, y.Pending) || len(x.Dests) != len(y.Dests) {
			return false
		}
		for j := range x.Dests {
			if x.Dests[j] != y.Dests[j] {
				return false
			}
		}
	}
	return true
}

// sameMemory compares which real servers two memories know up, by name.
func sameMemory(a, b *memory) bool {
	if len(a.up) != len(b.up) {
		return false
	}
	for name, v := range a.up {
		w := b.up[name]
		if w == nil || len(v.reals) != len(w.reals) {
			return false
		}
		ups := map[string]bool{}
		for _, s := range v.reals {
			ups[s.name] = s.up
		}
		for _, s := range w.reals {
			if up, ok := ups[s.name]; !ok || up != s.up {
				return false
			}
		}
	}
	return true
}

// untracked is a Health that cannot tell what changed: every reconcile
// derives the whole table, as before desiredAgain.
type untracked struct{ h *genHealth }

func (u untracked) Weight(vs *config.VirtualServer, rs *config.RealServer) (int32, Presence) {
	return u.h.Weight(vs, rs)
}
func (untracked) Configure(*config.Config) {}

// BenchmarkHealthChange10000x10: one real server's check changes (down,
// then up) at 10,000 x 10, and the engine reconciles: the desired table,
// the plan, the one netlink request (to the fake kernel). "tracked" is a
// health that says which virtual servers' answers changed, as the checks
// do; "whole" derives everything, as every reconcile did before.
func BenchmarkHealthChange10000x10(b *testing.B) {
	for _, mode := range []string{"tracked", "whole"} {
		b.Run(mode, func(b *testing.B) {
			cfg := editConfig20()
			cfg.Serial = 1
			h := &genHealth{down: map[netip.Addr]bool{}, at: map[netip.Addr]uint64{}}
			var hl Health = healthOf{h}
			if mode == "whole" {
				hl = healthOf{untracked{h}}
			}
			_, c := fakeKernel(b)
			e := New(Options{Source: staticSource{cfg}, Ledger: newLedger(), Health: hl, Dial: func() (Kernel, error) { return c, nil }, Log: quiet()})
			e.Reconcile(ctx)
			for i := 0; b.Loop(); i++ {
				rs := &cfg.Virtuals[(i*7919)%len(cfg.Virtuals)].Reals[i%10]
				h.down[rs.Address] = !h.down[rs.Address]
				h.gen++
				h.at[rs.Address] = h.gen
				before := c.Requests()
				e.Reconcile(ctx)
				if n := c.Requests() - before; n != 1 {
					b.Fatalf("%d requests for one server's change", n)
				}
			}
		})
	}
}

// healthOf makes a Weigher a Health that configures nothing, keeping its
// changeTracker if it has one.
type healthOf struct{ Weigher }

func (healthOf) Configure(*config.Config) {}

func (h healthOf) Changed(cfg *config.Config, since HealthMark) (HealthMark, []int, bool) {
	if ct, ok := h.Weigher.(changeTracker); ok {
		return ct.Changed(cfg, since)
	}
	return HealthMark{}, nil, false
}

// staticSource is a Source of one configuration.
type staticSource struct{ cfg *config.Config }

func (s staticSource) Config(context.Context) (*config.Config, error)       { return s.cfg, nil }
func (s staticSource) SharedConfig(context.Context) (*config.Config, error) { return s.cfg, nil }
func (s staticSource) Serial(context.Context) (int64, error)                { return s.cfg.Serial, nil }
func (staticSource) Subscribe() (<-chan struct{}, func())                   { return nil, func() {} }
