package health

import (
	"testing"
	"time"
)

// A good check may set the weight (keepalived's misc_dynamic): Status
// carries it, and a change of it while Up signals Changes without a
// transition.
func TestWeightFromCheck(t *testing.T) {
	m := New[string](Options{})
	p := newScripted()
	m.Set(map[string]Checker{"rs": {Probe: p.Probe, Policy: Policy{Interval: 100 * time.Millisecond}}})
	run(t, m)

	steps := []struct {
		res      Result
		changes  bool
		weighted bool
		weight   int64
	}{
		{Result{OK: true, Weighted: true, Weight: 7}, true, true, 7}, // unknown to up
		{Result{OK: true, Weighted: true, Weight: 7}, false, true, 7},
		{Result{OK: true, Weighted: true, Weight: 3}, true, true, 3},
		{Result{OK: true}, true, false, 0}, // back to the configured weight
		{Result{OK: true}, false, false, 0},
		{Result{Reason: "down", Weighted: true, Weight: 9}, true, false, 0}, // a failure sets none
	}
	check := func(i int) {
		t.Helper()
		s := steps[i]
		select {
		case <-m.Changes():
			if !s.changes {
				t.Errorf("step %d: Changes signalled", i)
			}
		default:
			if s.changes {
				t.Errorf("step %d: Changes not signalled", i)
			}
		}
		st := status(t, m, "rs")
		if st.Weighted != s.weighted || st.Weight != s.weight {
			t.Errorf("step %d: status %+v, want weighted=%v weight=%d", i, st, s.weighted, s.weight)
		}
	}
	for i, s := range steps {
		// A call starts once the previous result is recorded.
		p.next(t)
		if i > 0 {
			check(i - 1)
		}
		p.reply(t, s.res)
	}
	p.next(t)
	check(len(steps) - 1)
	if n := len(m.Transitions(0)); n != 2 {
		t.Errorf("%d transitions, want 2 (up, down): %+v", n, m.Transitions(0))
	}
}
