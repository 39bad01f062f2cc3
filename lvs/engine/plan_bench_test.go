//go:build !guest

package engine

import "testing"

// benchPlan plans 1,000 x 10 against the kernel's table as the engine
// knows it after a reconcile, with edit changing want first.
func benchPlan(b *testing.B, edit func(want *Table)) {
	cfg := large()
	have := Desired(cfg, Configured{})
	owned := map[string]bool{}
	for _, s := range have.Services {
		owned[keyText(s.ServiceKey)] = true
	}
	want := Desired(cfg, Configured{})
	edit(want)
	b.ReportAllocs()
	for b.Loop() {
		want.Plan(have, owned)
	}
}

// BenchmarkPlanNothingToDo is the planning part of every resync of
// 1,000 x 10: nothing differs.
func BenchmarkPlanNothingToDo(b *testing.B) { benchPlan(b, func(*Table) {}) }

// BenchmarkPlanWeightChange is the planning part of one weight changed.
func BenchmarkPlanWeightChange(b *testing.B) {
	benchPlan(b, func(want *Table) { want.Services[500].Dests[5].Weight = 7 })
}
