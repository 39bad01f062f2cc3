package health

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"
)

// slack is how early a check may start so that checks due close together
// start together: the scheduler then wakes about once per slack even with
// thousands of checkers. It is half a percent of the interval, at most 5 ms.
func slack(iv time.Duration) int64 { return int64(min(iv/200, 5*time.Millisecond)) }

// Monitor runs the health checks of many targets, keyed by K (for example
// address, port and check spec, so that a real server in several virtual
// services is checked once). Its methods are safe for concurrent use.
//
// One scheduler goroutine (Run) keeps the idle checkers in a heap ordered
// by their next start, and the probes in flight in a second heap ordered by
// their deadline; no goroutine or timer exists per checker. It hands each
// due probe to an idle worker goroutine, or starts a new one: there are
// about as many workers as the most probes ever in flight at once, at most
// Options.MaxConcurrent (plus probes that ignore their context, see below),
// and they end with Run. A checker whose turn comes while MaxConcurrent
// probes are in flight starts as soon as one returns, and a checker is never
// probed twice at once: its next start is scheduled when its probe returns,
// one interval (with jitter) after the previous start, or at once if that
// time has passed.
//
// Every probe runs under a context whose deadline is one interval away; the
// scheduler cancels it then (context.DeadlineExceeded), when Run ends or
// when Set removes the checker (context.Canceled). A probe that was still
// running at its deadline is a failure ("timeout after ..."). A probe that
// ignores its context is recorded as failed a grace period (a quarter
// interval, from 10 ms to 1 s) after its deadline, stops counting against
// MaxConcurrent, and its checker is not probed again before it returns.
type Monitor[K comparable] struct {
	now     func() time.Time
	flush   func() // Options.Flush, or nothing
	max     int
	epoch   time.Time // origin of the monotonic schedule times
	changes chan struct{}
	wake    chan struct{}             // pokes the scheduler
	jobs    chan job[K]               // to idle workers
	spread  func(time.Duration) int64 // when in its first interval a checker starts (tests replace it)

	mu       sync.Mutex
	checkers map[K]*checker[K]
	sched    queue[K] // idle checkers by next start
	watch    queue[K] // probes holding a slot, by the time they are declared hung
	inflight int      // probes holding a slot
	run      *runState
	events   []Transition[K] // ring
	next     int             // where the next transition goes
	count    int             // transitions held
	gen      uint64          // see Generation
}

// runState is one call of Run.
type runState struct {
	ctx      context.Context
	stopping bool          // ctx ended: start nothing, wait for the probes in flight
	quit     chan struct{} // closed when Run returns: idle workers end
}

// job is one probe for a worker to run, or to start (async).
type job[K comparable] struct {
	c     *checker[K]
	r     *runState
	ctx   *probeCtx
	probe Probe
	async Start
	t0    time.Time
}

type checker[K comparable] struct {
	key     K
	probe   Probe
	async   Start  // instead of probe
	pol     Policy // normalized
	need    int    // pol.ReentryChecks()
	st      Status
	removed bool // no longer wanted: discard what its probe returns

	// due is the next start while idle (in sched); while the probe in
	// flight holds a slot (in watch), its deadline, then (late) the time
	// it is declared hung.
	due   int64
	index int // position in sched or watch; -1 in neither

	// The probe in flight.
	run     *runState // the Run that started it; nil when idle
	slot    bool      // counted in inflight, in watch, result not yet recorded
	late    bool      // past its deadline, context cancelled
	ctx     *probeCtx
	started int64
	timeout time.Duration
}

// New returns a Monitor without checkers; give it some with Set and run
// them with Run.
func New[K comparable](o Options) *Monitor[K] {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Events <= 0 {
		o.Events = DefaultEvents
	}
	if o.MaxConcurrent <= 0 {
		o.MaxConcurrent = DefaultMaxConcurrent
	}
	if o.Flush == nil {
		o.Flush = func() {}
	}
	return &Monitor[K]{
		now:      o.Now,
		flush:    o.Flush,
		max:      o.MaxConcurrent,
		epoch:    time.Now(),
		changes:  make(chan struct{}, 1),
		wake:     make(chan struct{}, 1),
		jobs:     make(chan job[K]),
		checkers: make(map[K]*checker[K]),
		events:   make([]Transition[K], o.Events),
		spread:   firstDelay,
	}
}

// Set makes checks the complete set of checkers. New keys start Unknown,
// first probed at a random point of their first interval. Keys that stay
// keep their state, streak and schedule; their probe and policy are
// replaced and apply from their next check (a shorter interval brings the
// next check forward). Removed keys are no longer probed: a probe of one in
// flight is cancelled and its result ignored. Set panics on a Checker with
// neither or both of Probe and Start.
func (m *Monitor[K]) Set(checks map[K]Checker) {
	for k, ch := range checks {
		if (ch.Probe == nil) == (ch.Start == nil) {
			panic(fmt.Sprintf("health: Set: key %v needs a Probe or a Start, not both", k))
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.mono()
	wall := m.now()
	for k, c := range m.checkers {
		if _, ok := checks[k]; !ok {
			m.remove(c)
			delete(m.checkers, k)
		}
	}
	for k, ch := range checks {
		pol := ch.Policy.normalize()
		if c := m.checkers[k]; c != nil {
			old := c.pol.Interval
			c.probe, c.async, c.pol, c.need = ch.Probe, ch.Start, pol, pol.ReentryChecks()
			if pol.Interval < old && c.run == nil && c.index >= 0 {
				if due := now + m.spread(pol.Interval); due < c.due {
					c.due = due
					m.sched.fix(c.index)
				}
			}
			continue
		}
		c := &checker[K]{
			key:   k,
			probe: ch.Probe,
			async: ch.Start,
			pol:   pol,
			need:  pol.ReentryChecks(),
			st:    Status{State: Unknown, Since: wall, Changed: m.gen + 1},
			due:   now + m.spread(pol.Interval),
			index: -1,
		}
		m.checkers[k] = c
		heap.Push(&m.sched, c)
	}
	m.gen++ // new checkers' Changed
	m.poke()
}

// remove stops checker c; m.mu is held.
func (m *Monitor[K]) remove(c *checker[K]) {
	c.removed = true
	if c.run == nil {
		if c.index >= 0 {
			heap.Remove(&m.sched, c.index)
		}
		return
	}
	// In flight: it keeps its slot (and its watch entry) until it returns
	// or is declared hung, so that MaxConcurrent holds.
	c.ctx.cancel(context.Canceled)
}

// Run runs the checks until ctx ends, then cancels the probes in flight,
// waits for them (at most a grace period for those that ignore their
// context) and returns nil. Calling Run while it runs is an error; it may
// be called again after it returned, and spreads the first checks over an
// interval again. States are kept between runs.
//
// Run is one scheduler loop over two heaps, both guarded by m.mu. What
// holds whenever m.mu is free:
//
//   - Every checker is in exactly one of: sched (idle, keyed by its next
//     start: c.run == nil, c.index its place), watch (its probe holds a
//     slot: c.run != nil, c.slot, keyed by its deadline, or, once c.late,
//     by when it is declared hung), or neither (a probe that was declared
//     hung and still runs, c.slot false, c.index -1: it is scheduled again
//     when it returns, if not removed).
//   - inflight == len(watch) <= max: a slot is taken by start and given
//     back by complete or expire, never twice (c.slot says which).
//   - A checker is never probed twice at once: it is pushed on sched only
//     when its probe has returned or been declared hung and returned.
//   - Each probe's context is cancelled at its deadline (or at Run's
//     end); a probe that ignores it keeps its slot for a grace period more,
//     then expire records it DOWN ("probe did not return") and frees the
//     slot: a hung program cannot starve the others for longer.
//   - Once stopping (ctx ended), nothing starts; Run returns when
//     inflight is 0, and idle workers end with r.quit.
//
// The loop sleeps until the earliest of: the next start (when a slot is
// free), the next deadline in watch, a poke (Set, complete), or ctx's end.
// Asynchronous probes (Start) are started outside m.mu, since their done
// may run at once on the same goroutine.
func (m *Monitor[K]) Run(ctx context.Context) error {
	m.mu.Lock()
	if m.run != nil {
		m.mu.Unlock()
		return errors.New("health: Run is already running")
	}
	r := &runState{ctx: ctx, quit: make(chan struct{})}
	m.run = r
	now := m.mono()
	clear(m.sched)
	m.sched = m.sched[:0]
	for _, c := range m.checkers {
		c.index = -1
		if c.run != nil {
			continue // a hung probe of an earlier run: scheduled when it returns
		}
		c.due = now + m.spread(c.pol.Interval)
		c.index = len(m.sched)
		m.sched = append(m.sched, entry[K]{c.due, c})
	}
	m.sched.init()
	m.mu.Unlock()

	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	var starts []job[K]
	done := ctx.Done()
	for {
		m.mu.Lock()
		now := m.mono()
		if !r.stopping && ctx.Err() != nil {
			r.stopping = true
			done = nil
			for _, e := range m.watch {
				c := e.c
				c.ctx.cancel(ctx.Err())
				if c.late {
					c.due = min(c.due, now+grace(c.timeout))
				} else {
					c.late, c.due = true, now+grace(c.timeout)
				}
			}
			m.watch.init()
		}
		for len(m.watch) > 0 && m.watch[0].due <= now {
			c := m.watch[0].c
			if !c.late { // its deadline
				c.late = true
				c.ctx.cancel(context.DeadlineExceeded)
				c.due += grace(c.timeout)
				m.watch.fix(0)
				continue
			}
			heap.Pop(&m.watch)
			m.expire(c, now)
		}
		if r.stopping && m.inflight == 0 {
			m.run = nil
			close(r.quit)
			m.mu.Unlock()
			return nil
		}
		if !r.stopping {
			for m.inflight < m.max && len(m.sched) > 0 && m.sched[0].due <= now+slack(m.sched[0].c.pol.Interval) {
				if j, async := m.start(heap.Pop(&m.sched).(*checker[K]), r, now); async {
					starts = append(starts, j)
				}
			}
		}
		next := int64(-1)
		if len(m.watch) > 0 {
			next = m.watch[0].due
		}
		if !r.stopping && m.inflight < m.max && len(m.sched) > 0 && (next < 0 || m.sched[0].due < next) {
			next = m.sched[0].due
		}
		m.mu.Unlock()
		// Asynchronous probes start here, outside the lock: their done
		// may come at once and take it.
		if len(starts) > 0 {
			for i, j := range starts {
				j.t0 = time.Now()
				j.async(j.ctx, func(res Result) { m.complete(j, res) })
				starts[i] = job[K]{}
			}
			starts = starts[:0]
			m.flush()
		}

		if next >= 0 {
			timer.Reset(time.Duration(next - now))
		} else {
			timer.Stop()
		}
		select {
		case <-timer.C:
		case <-m.wake:
		case <-done:
		}
	}
}

// start starts a probe of c on an idle worker, or a new one; m.mu is held.
// An asynchronous probe is returned instead, for Run to start once it has
// let go of the lock.
func (m *Monitor[K]) start(c *checker[K], r *runState, now int64) (job[K], bool) {
	iv := c.pol.Interval
	deadline := now + int64(iv)
	ctx := newProbeCtx(r.ctx, m.epoch.Add(time.Duration(deadline)))
	c.run, c.slot, c.late, c.ctx = r, true, false, ctx
	c.started, c.timeout, c.due = now, iv, deadline
	heap.Push(&m.watch, c)
	m.inflight++
	j := job[K]{c: c, r: r, ctx: ctx, probe: c.probe, async: c.async}
	if j.async != nil {
		return j, true
	}
	select {
	case m.jobs <- j:
	default:
		go m.worker(j)
	}
	return job[K]{}, false
}

// worker runs probes until the Run of its latest one has returned. Workers
// are started when no idle one takes a job, so there are about as many as
// the most probes that were in flight at once, and they keep their grown
// stacks from one probe to the next.
func (m *Monitor[K]) worker(j job[K]) {
	for {
		m.exec(j)
		select {
		case j = <-m.jobs:
		case <-j.r.quit:
			return
		}
	}
}

// exec runs one probe.
func (m *Monitor[K]) exec(j job[K]) {
	j.t0 = time.Now()
	m.complete(j, j.probe(j.ctx))
}

// complete takes the result of j's probe.
func (m *Monitor[K]) complete(j job[K], res Result) {
	if res.Latency <= 0 {
		res.Latency = time.Since(j.t0)
	}
	err := j.ctx.Err()
	j.ctx.cancel(context.Canceled) // like the CancelFunc of WithTimeout
	m.finish(j.c, j.r, res, err)
}

// finish takes the result of a probe of c started by Run r; err is its
// context's error when it returned.
func (m *Monitor[K]) finish(c *checker[K], r *runState, res Result, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c.run, c.ctx = nil, nil
	held := c.slot
	if held {
		c.slot = false
		heap.Remove(&m.watch, c.index)
		m.release()
	}
	if c.removed {
		return
	}
	// Not recorded: a result that expire already recorded as a timeout,
	// and a probe cancelled because its Run ended.
	if held && (err == nil || r.ctx.Err() == nil) {
		m.record(c, res, err)
	}
	cur := m.run
	if cur == nil || cur.stopping {
		return // the next Run schedules it
	}
	now := m.mono()
	if cur == r {
		c.due = max(c.started+nextDelay(c.pol), now)
	} else {
		c.due = now + m.spread(c.pol.Interval)
	}
	heap.Push(&m.sched, c)
	if c.index == 0 {
		m.poke()
	}
}

// expire records a probe that outlived its deadline and grace as failed
// and frees its slot; m.mu is held.
func (m *Monitor[K]) expire(c *checker[K], now int64) {
	c.slot = false
	m.inflight--
	if c.removed || c.run.ctx.Err() != nil {
		return
	}
	m.record(c, Result{Reason: "probe did not return", Latency: time.Duration(now - c.started)}, context.DeadlineExceeded)
}

// release frees a slot; m.mu is held.
func (m *Monitor[K]) release() {
	m.inflight--
	if m.inflight == m.max-1 || (m.run != nil && m.run.stopping) {
		m.poke()
	}
}

// record applies the result of one check to c's state; m.mu is held.
func (m *Monitor[K]) record(c *checker[K], res Result, err error) {
	ok := res.OK && err == nil
	reason := res.Reason
	if err != nil {
		reason = "timeout after " + c.timeout.String()
		if res.Reason != "" {
			reason += ": " + res.Reason
		}
	}
	now := m.now()
	st := &c.st
	st.Checks++
	if st.Checks == 1 {
		m.changed(c) // checked: not pending any more (see Generation)
	}
	st.Reason = reason
	st.LastLatency = res.Latency
	st.LastCheck = now
	if ok {
		st.Streak = max(st.Streak, 0) + 1
		if st.Weighted != res.Weighted || st.Weight != res.Weight {
			st.Weighted, st.Weight = res.Weighted, res.Weight
			if st.State == Up {
				// No transition, but what the caller programs changes.
				m.changed(c)
				m.signal()
			}
		}
	} else {
		st.Streak = min(st.Streak, 0) - 1
	}
	switch {
	case st.State == Unknown && ok:
		m.transition(c, Up, now)
	case st.State != Down && !ok && -st.Streak >= c.pol.Failures:
		// Up, or never Up yet: a server that never passes is as down as
		// one that stopped.
		m.transition(c, Down, now)
	case st.State == Down && ok && st.Streak >= c.need:
		m.transition(c, Up, now)
	}
}

// transition moves c to state to, records it and signals Changes; m.mu is
// held.
func (m *Monitor[K]) transition(c *checker[K], to State, now time.Time) {
	from := c.st.State
	c.st.State, c.st.Since = to, now
	if to == Up {
		c.st.UpSince, c.st.WasUp = now, true
	} else {
		c.st.UpSince = time.Time{}
	}
	m.events[m.next] = Transition[K]{Time: now, Key: c.key, From: from, To: to, Reason: c.st.Reason}
	m.next = (m.next + 1) % len(m.events)
	m.count = min(m.count+1, len(m.events))
	m.changed(c)
	m.signal()
}

// Generation changes whenever what a caller derives from the statuses may
// change: a transition, a weight a check set, a first check, a checker
// added or removed; each checker's Status.Changed is the generation of its
// own latest such change. Equal generations: the same states, weights and
// first checks (the counters and reasons may differ).
func (m *Monitor[K]) Generation() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.gen
}

// changed records a change of c that Generation counts; m.mu is held.
func (m *Monitor[K]) changed(c *checker[K]) {
	m.gen++
	c.st.Changed = m.gen
}

// signal tells Changes' reader that a Status changed; m.mu is held.
func (m *Monitor[K]) signal() {
	select {
	case m.changes <- struct{}{}:
	default:
	}
}

// Status returns what is known about checker k, and false when there is
// no such checker.
func (m *Monitor[K]) Status(k K) (Status, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.checkers[k]
	if c == nil {
		return Status{}, false
	}
	return c.st, true
}

// Handle is a checker found once by its key, whose Status is then read
// without looking the key up (StatusOf): at 100,000 checkers the lookups
// were most of a dashboard's cost. The zero Handle has no checker.
type Handle[K comparable] struct{ c *checker[K] }

// Handles returns the checker of each of keys, a zero Handle for a key
// without one. A handle stands for its checker until Set removes it.
func (m *Monitor[K]) Handles(keys []K) []Handle[K] {
	out := make([]Handle[K], len(keys))
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, k := range keys {
		out[i] = Handle[K]{m.checkers[k]}
	}
	return out
}

// StatusOf is Status of h's checker; false for a zero Handle, or one whose
// checker Set removed since (its key may have a new one: ask Status).
func (m *Monitor[K]) StatusOf(h Handle[K]) (Status, bool) {
	if h.c == nil {
		return Status{}, false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if h.c.removed {
		return Status{}, false
	}
	return h.c.st, true
}

// View calls fn with the monitor locked once, for reading many statuses
// by handle (status is StatusOf without the lock, its Status not to be
// kept or changed) at generation gen; fn must not call the monitor's other
// methods.
func (m *Monitor[K]) View(fn func(gen uint64, status func(Handle[K]) (*Status, bool))) {
	m.mu.Lock()
	defer m.mu.Unlock()
	fn(m.gen, func(h Handle[K]) (*Status, bool) {
		if h.c == nil || h.c.removed {
			return nil, false
		}
		return &h.c.st, true
	})
}

// Snapshot returns the status of every checker.
func (m *Monitor[K]) Snapshot() map[K]Status {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[K]Status, len(m.checkers))
	for k, c := range m.checkers {
		out[k] = c.st
	}
	return out
}

// Changes is signalled after state transitions (not after every check),
// and when a good check of an Up checker changes its weight (Status.Weight).
// Signals coalesce: one receive may stand for several transitions, so a
// receiver reads the states (Status, Snapshot, Transitions) after it.
func (m *Monitor[K]) Changes() <-chan struct{} { return m.changes }

// Transitions returns the most recent n transitions, newest first; n <= 0,
// or more than are kept (Options.Events), returns all that are kept.
func (m *Monitor[K]) Transitions(n int) []Transition[K] {
	m.mu.Lock()
	defer m.mu.Unlock()
	if n <= 0 || n > m.count {
		n = m.count
	}
	out := make([]Transition[K], n)
	size := len(m.events)
	for i := range out {
		out[i] = m.events[(m.next-1-i+2*size)%size]
	}
	return out
}

// poke wakes the scheduler; m.mu is held or not.
func (m *Monitor[K]) poke() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// mono is the scheduling clock: monotonic nanoseconds since New.
func (m *Monitor[K]) mono() int64 { return int64(time.Since(m.epoch)) }

// firstDelay is a random point of a first interval.
func firstDelay(iv time.Duration) int64 { return rand.Int64N(int64(iv)) }

// nextDelay is one interval scaled by the jitter factor.
func nextDelay(p Policy) int64 {
	return int64(float64(p.Interval) * (1 + p.Jitter*(rand.Float64()-0.5)))
}

// grace is how long after its deadline a probe that ignores its context is
// declared hung: a quarter interval, from 10 ms to 1 s.
func grace(iv time.Duration) int64 {
	return int64(min(max(iv/4, 10*time.Millisecond), time.Second))
}

// queue is a heap of checkers by due time (container/heap). Each entry
// holds a copy of its checker's due time, so that the comparisons of a
// heap of 10,000 checkers do not chase 10,000 pointers.
type queue[K comparable] []entry[K]

type entry[K comparable] struct {
	due int64
	c   *checker[K]
}

func (q queue[K]) Len() int           { return len(q) }
func (q queue[K]) Less(i, j int) bool { return q[i].due < q[j].due }
func (q queue[K]) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].c.index = i
	q[j].c.index = j
}

// Push adds a *checker at its due time.
func (q *queue[K]) Push(x any) {
	c := x.(*checker[K])
	c.index = len(*q)
	*q = append(*q, entry[K]{c.due, c})
}

// Pop removes the last entry and returns its *checker.
func (q *queue[K]) Pop() any {
	old := *q
	n := len(old) - 1
	c := old[n].c
	old[n] = entry[K]{}
	c.index = -1
	*q = old[:n]
	return c
}

// fix restores the order after the due time of entry i's checker changed.
func (q *queue[K]) fix(i int) {
	(*q)[i].due = (*q)[i].c.due
	heap.Fix(q, i)
}

// init orders the queue after the due times of its checkers changed.
func (q *queue[K]) init() {
	for i := range *q {
		(*q)[i].due = (*q)[i].c.due
		(*q)[i].c.index = i
	}
	heap.Init(q)
}
