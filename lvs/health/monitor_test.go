package health

import (
	"github.com/lvsconsole/lvsconsole/lvs/check"

	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// wait bounds every wait of these tests; nothing sleeps to synchronise.
const wait = 10 * time.Second

// clock is an Options.Now the test sets.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock on by d and returns the new time.
func (c *clock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}

// scripted is a probe the test answers call by call: each call announces
// itself on started and returns the Result the test sends on results (or
// fails when its context ends first).
type scripted struct {
	started chan struct{}
	results chan Result
	calls   atomic.Int64
}

func newScripted() *scripted {
	return &scripted{started: make(chan struct{}), results: make(chan Result)}
}

func (s *scripted) Probe(ctx context.Context) Result {
	s.calls.Add(1)
	select {
	case s.started <- struct{}{}:
	case <-ctx.Done():
		return Result{Reason: "not awaited: " + ctx.Err().Error()}
	}
	select {
	case r := <-s.results:
		return r
	case <-ctx.Done():
		return Result{Reason: ctx.Err().Error()}
	}
}

// next waits for the next call of the probe. The previous call's result
// has been recorded by then: a checker's next probe starts only after its
// previous one was recorded.
func (s *scripted) next(t *testing.T) {
	t.Helper()
	select {
	case <-s.started:
	case <-time.After(wait):
		t.Fatal("the probe was not called")
	}
}

// reply makes the call waiting for its answer return r.
func (s *scripted) reply(t *testing.T, r Result) {
	t.Helper()
	select {
	case s.results <- r:
	case <-time.After(wait):
		t.Fatal("no probe call waits for an answer")
	}
}

// immediate makes m start new checkers at once instead of at a random
// point of their first interval, so that long intervals can be tested.
func immediate[K comparable](m *Monitor[K]) *Monitor[K] {
	m.spread = func(time.Duration) int64 { return 0 }
	return m
}

// waitState waits until checker k is in state want: it reads the state,
// then waits for Changes, which cannot miss a transition in between.
func waitState[K comparable](t *testing.T, m *Monitor[K], k K, want State) Status {
	t.Helper()
	deadline := time.After(wait)
	for {
		if st, ok := m.Status(k); ok && st.State == want {
			return st
		}
		select {
		case <-m.Changes():
		case <-deadline:
			st, _ := m.Status(k)
			t.Fatalf("%v never became %v: %+v", k, want, st)
		}
	}
}

// run starts m.Run and returns a function that stops it and waits for it.
func run[K comparable](t *testing.T, m *Monitor[K]) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(wait):
				t.Error("Run did not return after its context ended")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func status[K comparable](t *testing.T, m *Monitor[K], k K) Status {
	t.Helper()
	st, ok := m.Status(k)
	if !ok {
		t.Fatalf("no status for %v", k)
	}
	return st
}

func receive(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(wait):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// notify returns a channel that gets a value on every call of the
// returned function (dropping values nobody waits for).
func notify() (chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	return ch, func() {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

func TestStateMachine(t *testing.T) {
	clk := newClock()
	m := New[string](Options{Now: clk.Now})
	p := newScripted()
	const iv = 100 * time.Millisecond // the test answers each probe well within it
	m.Set(map[string]Checker{"rs": {Probe: p.Probe, Policy: Policy{Interval: iv, Failures: 3, Reentry: 3 * iv}}})

	st := status(t, m, "rs")
	if st.State != Unknown || st.Checks != 0 || !st.Since.Equal(clk.Now()) {
		t.Fatalf("new checker: %+v", st)
	}
	run(t, m)

	var times [12]time.Time
	steps := []struct {
		res    Result
		state  State
		streak int
		reason string
	}{
		1:  {Result{Reason: "connection refused"}, Unknown, -1, "connection refused"}, // failures keep it Unknown
		2:  {Result{OK: true, Reason: "connected in 1ms"}, Up, 1, "connected in 1ms"}, // the first success: Up at once
		3:  {Result{Reason: "refused 1"}, Up, -1, "refused 1"},
		4:  {Result{Reason: "refused 2"}, Up, -2, "refused 2"},
		5:  {Result{Reason: "refused 3"}, Down, -3, "refused 3"}, // the third failure
		6:  {Result{OK: true, Reason: "ok 1"}, Down, 1, "ok 1"},
		7:  {Result{OK: true, Reason: "ok 2"}, Down, 2, "ok 2"},
		8:  {Result{Reason: "refused again"}, Down, -1, "refused again"}, // resets the streak
		9:  {Result{OK: true, Reason: "ok 1"}, Down, 1, "ok 1"},
		10: {Result{OK: true, Reason: "ok 2"}, Down, 2, "ok 2"},
		11: {Result{OK: true, Reason: "ok 3", Latency: 3 * time.Millisecond}, Up, 3, "ok 3"},
	}
	p.next(t)
	for i := 1; i < len(steps); i++ {
		s := steps[i]
		times[i] = clk.Advance(time.Second)
		p.reply(t, s.res)
		p.next(t) // check i+1 starts: check i is recorded
		st := status(t, m, "rs")
		if st.State != s.state || st.Streak != s.streak || st.Reason != s.reason || st.Checks != uint64(i) || !st.LastCheck.Equal(times[i]) {
			t.Fatalf("after check %d: %+v, want state %v streak %d reason %q", i, st, s.state, s.streak, s.reason)
		}
	}
	st = status(t, m, "rs")
	if !st.Since.Equal(times[11]) || !st.UpSince.Equal(times[11]) || st.LastLatency != 3*time.Millisecond {
		t.Errorf("final status %+v, want since and up since %v, latency 3ms", st, times[11])
	}

	want := []Transition[string]{
		{Time: times[11], Key: "rs", From: Down, To: Up, Reason: "ok 3"},
		{Time: times[5], Key: "rs", From: Up, To: Down, Reason: "refused 3"},
		{Time: times[2], Key: "rs", From: Unknown, To: Up, Reason: "connected in 1ms"},
	}
	if got := m.Transitions(0); !equalTransitions(got, want) {
		t.Errorf("Transitions(0) = %+v\nwant %+v", got, want)
	}
	if got := m.Transitions(2); !equalTransitions(got, want[:2]) {
		t.Errorf("Transitions(2) = %+v\nwant %+v", got, want[:2])
	}
	if got := m.Transitions(100); len(got) != 3 {
		t.Errorf("Transitions(100) returned %d, want the 3 kept", len(got))
	}
}

func equalTransitions[K comparable](a, b []Transition[K]) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !a[i].Time.Equal(b[i].Time) || a[i].Key != b[i].Key || a[i].From != b[i].From || a[i].To != b[i].To || a[i].Reason != b[i].Reason {
			return false
		}
	}
	return true
}

func TestSetKeepsState(t *testing.T) {
	clk := newClock()
	m := New[string](Options{Now: clk.Now})
	a := newScripted()
	const iv = 100 * time.Millisecond
	var bCalls atomic.Int64
	bCalled, bSignal := notify()
	countB := func(ctx context.Context) Result {
		bCalls.Add(1)
		bSignal()
		return Result{OK: true, Reason: "b fine"}
	}
	m.Set(map[string]Checker{
		"a": {Probe: a.Probe, Policy: Policy{Interval: iv, Reentry: 10 * iv}},
		"b": {Probe: countB, Policy: Policy{Interval: 5 * time.Millisecond}},
	})
	run(t, m)

	a.next(t)
	clk.Advance(time.Second)
	a.reply(t, Result{OK: true, Reason: "up"})
	a.next(t)
	downAt := clk.Advance(time.Second)
	a.reply(t, Result{Reason: "refused"})
	a.next(t)
	before := status(t, m, "a")
	if before.State != Down || !before.Since.Equal(downAt) {
		t.Fatalf("a before Set: %+v", before)
	}
	receive(t, bCalled, "a call of b")

	// Keep a with a new policy (two good checks now bring it back), drop
	// b, add c.
	c := newScripted()
	m.Set(map[string]Checker{
		"a": {Probe: a.Probe, Policy: Policy{Interval: iv, Failures: 5, Reentry: 2 * iv}},
		"c": {Probe: c.Probe, Policy: Policy{Interval: iv}},
	})
	callsAtSet := bCalls.Load()
	after := status(t, m, "a")
	if after != before {
		t.Errorf("Set changed a's status:\n%+v\nto\n%+v", before, after)
	}
	if _, ok := m.Status("b"); ok {
		t.Error("b still has a status after Set removed it")
	}
	if st := status(t, m, "c"); st.State != Unknown || st.Checks != 0 {
		t.Errorf("new checker c: %+v", st)
	}

	// a's pending call answers first: it counts for the new policy.
	a.reply(t, Result{OK: true, Reason: "ok 1"})
	a.next(t)
	if st := status(t, m, "a"); st.State != Down || st.Streak != 1 {
		t.Fatalf("after one good check: %+v", st)
	}
	upAt := clk.Advance(time.Second)
	a.reply(t, Result{OK: true, Reason: "ok 2"})
	a.next(t)
	if st := status(t, m, "a"); st.State != Up || !st.Since.Equal(upAt) || st.Checks != 4 {
		t.Fatalf("after two good checks under the new policy: %+v", st)
	}
	// Two more of a's intervals: b (every 5 ms) would have run dozens of
	// times; a probe of b in flight during Set may still have counted.
	a.reply(t, Result{OK: true})
	a.next(t)
	a.reply(t, Result{OK: true})
	a.next(t)
	if n := bCalls.Load() - callsAtSet; n > 1 {
		t.Errorf("b was probed %d times after Set removed it", n)
	}
}

func TestHungProbeTimesOut(t *testing.T) {
	m := New[string](Options{})
	const iv = 20 * time.Millisecond
	var calls, inFlight, most atomic.Int64
	returned, signal := notify()
	hung := func(ctx context.Context) Result {
		n := calls.Add(1)
		if n == 1 {
			return Result{OK: true, Reason: "fine"}
		}
		k := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			old := most.Load()
			if k <= old || most.CompareAndSwap(old, k) {
				break
			}
		}
		defer signal()
		if d, ok := ctx.Deadline(); !ok || time.Until(d) > iv {
			t.Errorf("probe deadline %v, %v: want at most one interval away", d, ok)
		}
		<-ctx.Done() // a server that accepts and never answers
		return Result{Reason: "read: " + ctx.Err().Error()}
	}
	m.Set(map[string]Checker{"rs": {Probe: hung, Policy: Policy{Interval: iv}}})
	run(t, m)

	st := waitState(t, m, "rs", Down)
	if !strings.HasPrefix(st.Reason, "timeout after 20ms") {
		t.Fatalf("hung probe: %+v, want down with a timeout", st)
	}
	if st.LastLatency < iv {
		t.Errorf("latency %v of a probe that ran to its deadline of %v", st.LastLatency, iv)
	}
	for range 5 {
		receive(t, returned, "a hung probe to return")
	}
	if n := most.Load(); n != 1 {
		t.Errorf("%d probes of one checker ran at once", n)
	}
	tr := m.Transitions(1)
	if len(tr) != 1 || tr[0].To != Down || !strings.HasPrefix(tr[0].Reason, "timeout after 20ms") {
		t.Errorf("transition %+v", tr)
	}
}

// A probe that ignores its context is recorded as failed a grace period
// after its deadline and is not started again until it returns.
func TestProbeIgnoringContext(t *testing.T) {
	m := New[string](Options{MaxConcurrent: 1})
	const iv = 20 * time.Millisecond
	release := make(chan struct{})
	var calls atomic.Int64
	third, signal3 := notify()
	stuck := func(ctx context.Context) Result {
		switch calls.Add(1) {
		case 1:
			return Result{OK: true}
		case 2:
			<-release // ignores ctx
			return Result{OK: true, Reason: "late"}
		default:
			signal3()
			return Result{OK: true, Reason: "back"}
		}
	}
	ticks, tick := notify()
	var tickCount atomic.Int64
	other := func(ctx context.Context) Result {
		tickCount.Add(1)
		tick()
		return Result{OK: true}
	}
	m.Set(map[string]Checker{
		"stuck": {Probe: stuck, Policy: Policy{Interval: iv}},
		"other": {Probe: other, Policy: Policy{Interval: 5 * time.Millisecond}},
	})
	stop := run(t, m)

	// stuck goes Down once declared hung; with MaxConcurrent 1 its slot
	// must then be freed for other to go on.
	st := waitState(t, m, "stuck", Down)
	if !strings.HasPrefix(st.Reason, "timeout after 20ms: probe did not return") {
		t.Fatalf("reason %q", st.Reason)
	}
	start := tickCount.Load()
	for tickCount.Load() < start+10 {
		receive(t, ticks, "other's checks while stuck hangs")
	}
	if n := calls.Load(); n != 2 {
		t.Fatalf("the hung checker was started %d times, want 2 (no second start while hung)", n)
	}
	close(release)
	receive(t, third, "the checker to run again after its probe returned")
	waitState(t, m, "stuck", Up)
	stop()
}

func TestMaxConcurrent(t *testing.T) {
	const limit = 4
	m := New[int](Options{MaxConcurrent: limit})
	var inFlight, most, calls atomic.Int64
	enough, signal := notify()
	probe := func(ctx context.Context) Result {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			old := most.Load()
			if n <= old || most.CompareAndSwap(old, n) {
				break
			}
		}
		// Some work: 50 checkers every 100 ms want 12 probes of 25 ms in
		// flight, three times the limit. Long enough that a probe
		// delayed under load is not declared hung (past its deadline and
		// grace, 125 ms), which frees its slot while it still counts here.
		select {
		case <-time.After(25 * time.Millisecond):
		case <-ctx.Done():
		}
		if calls.Add(1) >= 150 {
			signal()
		}
		return Result{OK: true}
	}
	checks := make(map[int]Checker)
	for i := range 50 {
		checks[i] = Checker{Probe: probe, Policy: Policy{Interval: 100 * time.Millisecond}}
	}
	m.Set(checks)
	stop := run(t, m)
	receive(t, enough, "150 checks")
	stop()
	if n := most.Load(); n > limit {
		t.Errorf("%d probes in flight, limit %d", n, limit)
	} else if n < limit {
		t.Errorf("at most %d probes in flight although the checks wanted more than the limit %d", n, limit)
	}
	for k, st := range m.Snapshot() {
		if st.Checks == 0 {
			t.Errorf("checker %d never ran: the full pool starved it", k)
		}
	}
}

func TestChangesOnlyOnTransitions(t *testing.T) {
	m := New[string](Options{})
	var calls atomic.Int64
	var failing atomic.Bool
	called, signal := notify()
	probe := func(ctx context.Context) Result {
		calls.Add(1)
		signal()
		if failing.Load() {
			return Result{Reason: "refused"}
		}
		return Result{OK: true, Reason: "fine"}
	}
	m.Set(map[string]Checker{"rs": {Probe: probe, Policy: Policy{Interval: 5 * time.Millisecond}}})
	run(t, m)

	receive(t, m.Changes(), "unknown to up")
	up := m.Generation()
	// A call starts after the previous result was recorded: 20 more calls
	// are 19 more good checks, none of them a transition.
	start := calls.Load()
	for calls.Load() < start+20 {
		receive(t, called, "more checks")
	}
	select {
	case <-m.Changes():
		t.Fatalf("Changes signalled without a transition: %+v", m.Transitions(0))
	default:
	}
	if st := status(t, m, "rs"); st.State != Up || st.Checks < 19 {
		t.Fatalf("status %+v", st)
	}
	if g := m.Generation(); g != up {
		t.Errorf("generation %d after good checks, %d at the transition: it changes only with what callers derive", g, up)
	}
	failing.Store(true)
	receive(t, m.Changes(), "up to down")
	if m.Generation() == up {
		t.Error("the generation did not change with a transition")
	}
	if st := status(t, m, "rs"); st.State != Down || st.Reason != "refused" {
		t.Fatalf("status %+v", st)
	}
	if n := len(m.Transitions(0)); n != 2 {
		t.Errorf("%d transitions, want 2", n)
	}
}

// Set removing a key cancels its probe in flight instead of waiting for its
// deadline.
func TestSetCancelsRemovedProbe(t *testing.T) {
	m := immediate(New[string](Options{}))
	started := make(chan struct{})
	ended := make(chan error, 1)
	probe := func(ctx context.Context) Result {
		close(started)
		<-ctx.Done()
		ended <- ctx.Err()
		return Result{}
	}
	m.Set(map[string]Checker{"rs": {Probe: probe, Policy: Policy{Interval: time.Hour}}})
	run(t, m)
	select {
	case <-started:
	case <-time.After(wait):
		t.Fatal("the probe did not start")
	}
	m.Set(nil)
	select {
	case err := <-ended:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("removed probe ended with %v, want context.Canceled", err)
		}
	case <-time.After(wait):
		t.Fatal("Set did not cancel the probe of a removed key")
	}
	if _, ok := m.Status("rs"); ok {
		t.Error("status of a removed key")
	}
	if tr := m.Transitions(0); len(tr) != 0 {
		t.Errorf("transitions after a cancelled probe: %+v", tr)
	}
}

// Ending Run cancels the probes in flight and waits for them; their
// results are not recorded. A second Run goes on with the kept states and
// starts each checker again within its first interval.
func TestRunStopAndRestart(t *testing.T) {
	m := immediate(New[string](Options{}))
	var calls atomic.Int64
	blocked := make(chan struct{})
	returned := make(chan struct{}, 3)
	probe := func(ctx context.Context) Result {
		defer func() { returned <- struct{}{} }()
		switch calls.Add(1) {
		case 1: // cancelled by the end of the first Run
			close(blocked)
			<-ctx.Done()
			return Result{Reason: ctx.Err().Error()}
		case 2:
			return Result{OK: true, Reason: "fine"}
		default:
			return Result{Reason: "refused"}
		}
	}
	// An hour between checks: each Run probes once, at once.
	m.Set(map[string]Checker{"rs": {Probe: probe, Policy: Policy{Interval: time.Hour}}})

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	receive(t, blocked, "the first probe")
	if err := m.Run(ctx); err == nil {
		t.Error("a second concurrent Run did not fail")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(wait):
		t.Fatal("Run did not return")
	}
	select {
	case <-returned:
	default:
		t.Error("Run returned before the probe it cancelled")
	}
	if st := status(t, m, "rs"); st.State != Unknown || st.Checks != 0 {
		t.Errorf("a probe cancelled by the end of Run was recorded: %+v", st)
	}

	stop := run(t, m)
	st := waitState(t, m, "rs", Up)
	stop()
	if st.Checks != 1 || st.Reason != "fine" {
		t.Errorf("after the second run: %+v", st)
	}
	run(t, m)
	st = waitState(t, m, "rs", Down) // from Up: the state was kept
	if st.Checks != 2 || st.Reason != "refused" {
		t.Errorf("after the third run: %+v", st)
	}
	if tr := m.Transitions(0); len(tr) != 2 || tr[0].From != Up || tr[1].From != Unknown {
		t.Errorf("transitions %+v", tr)
	}
}

func TestTransitionRing(t *testing.T) {
	clk := newClock()
	m := New[int](Options{Now: clk.Now, Events: 3})
	c := &checker[int]{key: 7, pol: Policy{}.normalize(), need: 1}
	var times []time.Time
	for i := range 5 {
		times = append(times, clk.Advance(time.Second))
		c.st.Reason = fmt.Sprint("check ", i)
		to := Up
		if i%2 == 1 {
			to = Down
		}
		m.mu.Lock()
		m.transition(c, to, clk.Now())
		m.mu.Unlock()
	}
	got := m.Transitions(0)
	if len(got) != 3 {
		t.Fatalf("%d transitions kept, want 3", len(got))
	}
	for i, tr := range got {
		j := 4 - i
		if !tr.Time.Equal(times[j]) || tr.Reason != fmt.Sprint("check ", j) || tr.Key != 7 {
			t.Errorf("transition %d = %+v, want check %d", i, tr, j)
		}
	}
	if got := m.Transitions(1); len(got) != 1 || got[0].Reason != "check 4" {
		t.Errorf("Transitions(1) = %+v", got)
	}
	if got := New[int](Options{}).Transitions(5); len(got) != 0 {
		t.Errorf("transitions of a new monitor: %+v", got)
	}
}

func TestPolicy(t *testing.T) {
	for _, tc := range []struct {
		p    Policy
		want int
	}{
		{Policy{Interval: 6 * time.Second, Reentry: 15 * time.Second}, 3}, // piranha's defaults: ceil(15/6)
		{Policy{Interval: 6 * time.Second, Reentry: 12 * time.Second}, 2},
		{Policy{Interval: time.Second}, 1},
		{Policy{Interval: time.Second, Reentry: time.Millisecond}, 1},
		{Policy{Reentry: 13 * time.Second}, 3}, // the default interval, 6 s
	} {
		if got := tc.p.ReentryChecks(); got != tc.want {
			t.Errorf("%+v.ReentryChecks() = %d, want %d", tc.p, got, tc.want)
		}
	}
	p := Policy{}.normalize()
	if p.Interval != DefaultInterval || p.Failures != 1 || p.Jitter != DefaultJitter {
		t.Errorf("defaults: %+v", p)
	}
	if p := (Policy{Jitter: -1}).normalize(); p.Jitter != 0 {
		t.Errorf("negative jitter: %v, want none", p.Jitter)
	}
	for range 1000 {
		d := time.Duration(nextDelay(Policy{Interval: time.Second, Jitter: 0.1}))
		if d < 950*time.Millisecond || d > 1050*time.Millisecond {
			t.Fatalf("jittered interval %v outside 1s ± 5%%", d)
		}
		if f := firstDelay(time.Second); f < 0 || f >= int64(time.Second) {
			t.Fatalf("first delay %v outside the first interval", time.Duration(f))
		}
	}
	for s, want := range map[State]string{Unknown: "unknown", Up: "up", Down: "down", 9: "State(9)"} {
		if s.String() != want {
			t.Errorf("%d.String() = %q", s, s.String())
		}
	}
}

func TestSetNilProbePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Set accepted a nil Probe")
		}
	}()
	New[int](Options{}).Set(map[int]Checker{1: {}})
}

// The probe's context carries the deadline of one interval, is cancelled
// by the scheduler, and works with context.AfterFunc and derived contexts
// without goroutines of their own.
func TestProbeContext(t *testing.T) {
	type key struct{}
	parent := context.WithValue(context.Background(), key{}, "v")
	deadline := time.Now().Add(time.Hour)
	c := newProbeCtx(parent, deadline)
	if d, ok := c.Deadline(); !ok || !d.Equal(deadline) {
		t.Errorf("Deadline() = %v, %v", d, ok)
	}
	if c.Value(key{}) != "v" {
		t.Error("values of the parent are not visible")
	}
	if c.Err() != nil || context.Cause(c) != nil {
		t.Errorf("Err() = %v before the end", c.Err())
	}
	child, cancelChild := context.WithCancel(c)
	defer cancelChild()
	ran := make(chan struct{})
	context.AfterFunc(c, func() { close(ran) })
	stopped := context.AfterFunc(c, func() { t.Error("a stopped AfterFunc ran") })
	if !stopped() {
		t.Error("stop did not stop a pending AfterFunc")
	}
	c.cancel(context.DeadlineExceeded)
	c.cancel(context.Canceled) // the first error stays
	receive(t, c.Done(), "Done")
	receive(t, child.Done(), "the derived context")
	receive(t, ran, "the AfterFunc")
	if !errors.Is(c.Err(), context.DeadlineExceeded) || !errors.Is(child.Err(), context.DeadlineExceeded) || !errors.Is(context.Cause(c), context.DeadlineExceeded) {
		t.Errorf("Err() = %v, child %v, cause %v", c.Err(), child.Err(), context.Cause(c))
	}
	late := make(chan struct{})
	context.AfterFunc(c, func() { close(late) })
	receive(t, late, "an AfterFunc registered after the end")
}

// With real sockets: the net package's dial and a read bounded by the
// context, a refused connection, and a server that never answers.
func TestTCPLoopback(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	var conns []net.Conn // accepted, never answered
	var connsMu sync.Mutex
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			connsMu.Lock()
			conns = append(conns, c)
			connsMu.Unlock()
		}
	}()
	defer func() {
		connsMu.Lock()
		defer connsMu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	}()
	var ok, failed atomic.Int64
	tcp, err := check.NewProbe(check.Spec{Kind: check.TCP, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	connect := checkProbe(tcp, ln.Addr().String(), &ok, &failed)
	// send/expect: connect and wait for a banner, until the deadline.
	bannerDone, bannerSignal := notify()
	banner := func(ctx context.Context) Result {
		defer bannerSignal()
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", silent.Addr().String())
		if err != nil {
			return Result{Reason: err.Error()}
		}
		defer c.Close()
		stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Now()) })
		defer stop()
		if _, err := c.Read(make([]byte, 1)); err != nil {
			return Result{Reason: err.Error()}
		}
		return Result{OK: true}
	}
	m := New[string](Options{})
	const iv = 50 * time.Millisecond
	m.Set(map[string]Checker{
		"connect": {Probe: connect, Policy: Policy{Interval: iv}},
		"banner":  {Probe: banner, Policy: Policy{Interval: iv}},
	})
	run(t, m)
	waitState(t, m, "connect", Up)
	ln.Close()
	st := waitState(t, m, "connect", Down)
	if !strings.Contains(st.Reason, "refused") {
		t.Errorf("reason %q, want connection refused", st.Reason)
	}
	// banner never succeeds: it is Down after its first check (Failures
	// is piranha's 1), each check a timeout.
	for {
		st := status(t, m, "banner")
		if st.Checks >= 2 {
			if st.State != Down || st.WasUp || !strings.HasPrefix(st.Reason, "timeout after 50ms: read tcp") {
				t.Errorf("banner: %+v", st)
			}
			break
		}
		receive(t, bannerDone, "another check of banner")
	}
}

// TestAsyncStart: a Start probe drives the state machine like a Probe,
// whether done comes from another goroutine or before Start returns; one
// that never calls done is a failure after its deadline and grace, like a
// Probe that ignores its context, and is not started twice at once.
func TestAsyncStart(t *testing.T) {
	m := immediate(New[string](Options{}))
	const iv = 20 * time.Millisecond
	var mode atomic.Int64 // 0 OK from a goroutine, 1 failure at once, 2 never
	var inFlight, most atomic.Int64
	start := func(ctx context.Context, done func(Result)) {
		if _, ok := ctx.Deadline(); !ok {
			t.Error("an async probe's context has no deadline")
		}
		switch mode.Load() {
		case 0:
			go done(Result{OK: true, Reason: "syn-ack"})
		case 1:
			done(Result{Reason: "connect refused"}) // before Start returns
		default:
			k := inFlight.Add(1)
			for {
				old := most.Load()
				if k <= old || most.CompareAndSwap(old, k) {
					break
				}
			}
		}
	}
	m.Set(map[string]Checker{"rs": {Start: start, Policy: Policy{Interval: iv}}})
	run(t, m)

	if st := waitState(t, m, "rs", Up); st.Reason != "syn-ack" {
		t.Errorf("up with reason %q", st.Reason)
	}
	mode.Store(1)
	if st := waitState(t, m, "rs", Down); st.Reason != "connect refused" {
		t.Errorf("down with reason %q", st.Reason)
	}
	mode.Store(0)
	waitState(t, m, "rs", Up)
	mode.Store(2)
	if st := waitState(t, m, "rs", Down); !strings.HasSuffix(st.Reason, "probe did not return") {
		t.Errorf("a start that never calls done: down with %q, want it to say the probe did not return", st.Reason)
	}
	if n := most.Load(); n != 1 {
		t.Errorf("%d starts of one checker without done were in flight at once, want 1", n)
	}
}

func TestSetNeedsOneOfProbeAndStart(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Set accepted a Checker with both a Probe and a Start")
		}
	}()
	New[int](Options{}).Set(map[int]Checker{1: {
		Probe: func(context.Context) Result { return Result{} },
		Start: func(context.Context, func(Result)) {},
	}})
}

// TestFlush: asynchronous probes that wait for Options.Flush to do their
// work (as lvs/check's syn check waits to send its SYNs) complete: the
// scheduler flushes after the probes it starts together.
func TestFlush(t *testing.T) {
	var (
		mu      sync.Mutex
		queued  []func(Result)
		flushes atomic.Int64
	)
	flush := func() {
		flushes.Add(1)
		mu.Lock()
		q := queued
		queued = nil
		mu.Unlock()
		for _, done := range q {
			done(Result{OK: true, Reason: "flushed"})
		}
	}
	m := New[int](Options{Flush: flush})
	checks := make(map[int]Checker)
	for i := range 20 {
		checks[i] = Checker{Start: func(ctx context.Context, done func(Result)) {
			mu.Lock()
			queued = append(queued, done)
			mu.Unlock()
		}, Policy: Policy{Interval: 50 * time.Millisecond}}
	}
	m.Set(checks)
	stop := run(t, m)
	for i := range 20 {
		if st := waitState(t, m, i, Up); st.Reason != "flushed" {
			t.Errorf("checker %d: reason %q, want flushed", i, st.Reason)
		}
	}
	stop()
	if flushes.Load() == 0 {
		t.Error("Flush was never called")
	}
}

// TestProbeCtxDone: a probe context's Done channel, made only when asked
// for, is closed by cancel whether it was asked for before or after.
func TestProbeCtxDone(t *testing.T) {
	before := newProbeCtx(context.Background(), time.Now().Add(time.Hour))
	done := before.Done()
	before.cancel(context.DeadlineExceeded)
	after := newProbeCtx(context.Background(), time.Now().Add(time.Hour))
	after.cancel(context.Canceled)
	for name, ch := range map[string]<-chan struct{}{"asked before cancel": done, "asked after cancel": after.Done()} {
		select {
		case <-ch:
		default:
			t.Errorf("Done %s is not closed", name)
		}
	}
	if before.Done() != done {
		t.Error("Done returned a different channel the second time")
	}
	if err := after.Err(); err != context.Canceled {
		t.Errorf("Err = %v, want context.Canceled", err)
	}
}
