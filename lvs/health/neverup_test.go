package health

import (
	"testing"
	"time"
)

// A server that never passes a check is Down after Policy.Failures failed
// checks, like a server that was Up, so that whoever watches for Down (the
// console, an alert on the metric) sees a mistyped address. Coming back
// then takes the re-entry streak, as in piranha's nanny, where a failure of
// a server not yet active resets its count of good checks (nanny.c run:
// "else if (!isAvail && currCount) currCount = 0").
func TestNeverUpGoesDown(t *testing.T) {
	clk := newClock()
	m := New[string](Options{Now: clk.Now})
	p := newScripted()
	const iv = 100 * time.Millisecond // the test answers each probe well within it
	m.Set(map[string]Checker{"rs": {Probe: p.Probe, Policy: Policy{Interval: iv, Failures: 2, Reentry: 2 * iv}}})
	run(t, m)

	var times [5]time.Time
	steps := []struct {
		res    Result
		state  State
		streak int
	}{
		1: {Result{Reason: "connection refused"}, Unknown, -1},
		2: {Result{Reason: "connection refused"}, Down, -2}, // check_failures failures: Down
		3: {Result{OK: true, Reason: "ok 1"}, Down, 1},
		4: {Result{OK: true, Reason: "ok 2"}, Up, 2}, // the re-entry streak
	}
	p.next(t)
	for i := 1; i < len(steps); i++ {
		s := steps[i]
		times[i] = clk.Advance(time.Second)
		p.reply(t, s.res)
		p.next(t) // check i+1 starts: check i is recorded
		if st := status(t, m, "rs"); st.State != s.state || st.Streak != s.streak || st.WasUp != (s.state == Up) {
			t.Fatalf("after check %d: %+v, want %v with streak %d", i, st, s.state, s.streak)
		}
	}
	want := []Transition[string]{
		{Time: times[4], Key: "rs", From: Down, To: Up, Reason: "ok 2"},
		{Time: times[2], Key: "rs", From: Unknown, To: Down, Reason: "connection refused"},
	}
	if got := m.Transitions(0); !equalTransitions(got, want) {
		t.Errorf("Transitions = %+v\nwant %+v", got, want)
	}
}
