package engine

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/lvsconsole/lvsconsole/lvs/check"
	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/lvs/health"
	"github.com/lvsconsole/lvsconsole/lvs/load"
)

// Loads is what the load monitors say of each real server (issue 18);
// *load.Monitors provides it.
type Loads interface {
	// Set gives the complete set of servers to monitor.
	Set(targets []load.Target)
	// Status is what t's monitor says now; false when t is not monitored.
	Status(t load.Target) (load.Status, bool)
	// Down tells that the health check found t's server down: a load
	// average monitor restarts from the configured weight.
	Down(t load.Target)
	// Changes is signalled when a monitor's weight or verdict changed.
	Changes() <-chan struct{}
}

// checkKey is one checker: a real server's address and port, and how it is
// checked. Real servers that several virtual servers share, checked the
// same way, share one checker.
//
// The spec is interned: a key is the target and a small number, not the
// 280 bytes of a Spec, so that the dashboard's lookup of each of 100,000
// servers hashes 32 bytes (issue 20).
type checkKey struct {
	Target check.Target
	spec   specID
}

// specID numbers a canonical check.Spec within one Checks (Checks.specs).
type specID uint32

// specs interns the check specs of a Checks. IDs are never reused: a
// spec's id lives as long as the Checks (a few hundred bytes for each
// distinct way of checking ever configured).
type specs struct {
	mu  sync.Mutex
	ids map[check.Spec]specID
	all []check.Spec
	// prepared are the specs made ready to run (check.NewProbe), by id,
	// once each: a Probe runs any target, so the checkers of one spec
	// share one.
	prepared []*check.Probe
	bad      []error // why a spec could not be prepared
}

// intern returns s's id, numbering s when it is new.
func (t *specs) intern(s check.Spec) specID {
	t.mu.Lock()
	defer t.mu.Unlock()
	if id, ok := t.ids[s]; ok {
		return id
	}
	if t.ids == nil {
		t.ids = map[check.Spec]specID{}
	}
	id := specID(len(t.all))
	t.all = append(t.all, s)
	t.prepared, t.bad = append(t.prepared, nil), append(t.bad, nil)
	t.ids[s] = id
	return id
}

// of returns the id of vs's spec, false when no checker ever had it.
// Questions about the configuration the checks follow find their checker
// by position (positions); this is for the others.
func (t *specs) of(vs *config.VirtualServer) (specID, bool) {
	s := specOf(vs)
	t.mu.Lock()
	defer t.mu.Unlock()
	id, ok := t.ids[s]
	return id, ok
}

// probe returns the spec numbered id made ready to run, preparing it the
// first time (regexes, an HTTP client); or why it cannot run.
func (t *specs) probe(id specID, opts ...check.Option) (*check.Probe, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.prepared[id] == nil && t.bad[id] == nil {
		t.prepared[id], t.bad[id] = check.NewProbe(t.all[id], opts...)
	}
	return t.prepared[id], t.bad[id]
}

// rampSettle is how long after a transition the next slow start step is
// looked for, and the least time between two steps (at most a quarter of
// the shortest interval); a step comes that much late at most.
const rampSettle = 250 * time.Millisecond

func (c *Checks) settleTime() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.shortest > 0 {
		return min(rampSettle, c.shortest/4)
	}
	return rampSettle
}

// slowStartCycles is piranha's ramp: a server back UP starts near 1/32 of
// its weight and doubles it each check interval.
const slowStartCycles = 5

// Checks is the Health of a director that checks its real servers: a
// server enters IPVS after its first good check, leaves it (or, with
// quiesce, gets weight 0) when it fails, and comes back with a weight that
// ramps up to the configured one.
type Checks struct {
	mon   *health.Monitor[checkKey]
	specs specs
	now   func() time.Time
	half  *check.HalfOpen // the raw sockets of every syn check, opened on the first
	// loads are the load monitors; nil: none (SetLoads).
	loads Loads

	// pos finds the checker of each real server of the configuration
	// last configured by its position.
	pos atomic.Pointer[positions]

	mu       sync.Mutex
	serial   int64          // of the configuration last configured
	cfg      *config.Config // that configuration (read, never changed)
	shortest time.Duration  // the shortest interval of a checker
	wake     chan struct{}
}

// positions are the checkers of one configuration's real servers, by
// position: the dashboard and the engine ask about each of 100,000 real
// servers of the configuration the checks follow, and finding a checker
// by position costs no hashing of its key.
type positions struct {
	cfg *config.Config
	// first is where each virtual server's real servers start in hs; -1
	// for one not checked (inactive).
	first []int
	hs    []health.Handle[checkKey] // zero for a real server not checked
}

// at is the checker of rs within vs, when both are of p.cfg and rs is
// checked.
func (p *positions) at(vs *config.VirtualServer, rs *config.RealServer) (health.Handle[checkKey], bool) {
	i, ok := indexOf(p.cfg.Virtuals, vs)
	if !ok || p.first[i] < 0 {
		return health.Handle[checkKey]{}, false
	}
	j, ok := indexOf(vs.Reals, rs)
	if !ok {
		return health.Handle[checkKey]{}, false
	}
	h := p.hs[p.first[i]+j]
	return h, h != (health.Handle[checkKey]{})
}

// indexOf is the index of the element of s that p points to; false when p
// points elsewhere (into another configuration: a draft, a newer one).
func indexOf[T any](s []T, p *T) (int, bool) {
	if len(s) == 0 || p == nil {
		return 0, false
	}
	// Only addresses are compared: below s's first element the difference
	// wraps round and fails the bound.
	off := uintptr(unsafe.Pointer(p)) - uintptr(unsafe.Pointer(&s[0]))
	i := off / unsafe.Sizeof(s[0])
	if i >= uintptr(len(s)) || &s[i] != p {
		return 0, false
	}
	return int(i), true
}

// NewChecks returns the checks; Run runs them.
func NewChecks() *Checks {
	half := check.NewHalfOpen()
	c := &Checks{
		// Each round of syn checks the monitor starts goes in one sendmmsg.
		mon:  health.New[checkKey](health.Options{Flush: half.Flush}),
		now:  time.Now,
		half: half,
		wake: make(chan struct{}, 1),
	}
	return c
}

// SetLoads makes the weights of servers with a load monitor follow loads.
// Call it before Run and the first Configure; loads is run by its owner.
func (c *Checks) SetLoads(loads Loads) {
	c.mu.Lock()
	c.cfg = nil // configure them in full next time
	c.mu.Unlock()
	c.pos.Store(nil)
	c.loads = loads
}

// Run checks until ctx ends, and signals Changes on every state change and
// every step of a slow start.
func (c *Checks) Run(ctx context.Context) error {
	go func() {
		// Transitions of the monitor, and the ramp steps that follow an Up.
		// Finding the next step looks at every checker: when thousands come
		// up together it is done once per rampSettle, not per transition.
		ramp := time.NewTimer(time.Hour)
		ramp.Stop()
		settle := time.NewTimer(time.Hour)
		settle.Stop()
		settling := false
		next := func() {
			// Servers that came up at different moments step at different
			// moments: gather the steps of a settle period into one wake-up
			// (and one reconcile) rather than one for each server.
			if d := c.nextRampStep(); d > 0 {
				ramp.Reset(max(d, c.settleTime()))
			}
		}
		var loadChanges <-chan struct{}
		if c.loads != nil {
			loadChanges = c.loads.Changes()
		}
		for {
			select {
			case <-ctx.Done():
				return
			case <-loadChanges:
				c.signal() // the engine gathers these into one reconcile
			case <-c.mon.Changes():
				c.signal()
				if !settling {
					settling = true
					settle.Reset(c.settleTime())
				}
			case <-settle.C:
				settling = false
				next()
			case <-ramp.C:
				c.signal()
				next()
			}
		}
	}()
	defer c.half.Close()
	return c.mon.Run(ctx)
}

// Changed implements the engine's changeTracker: the virtual servers of
// cfg (the configuration last configured) whose real servers' answers may
// differ from those at since: a check's change the monitor counted since
// then, or a slow start under way then or now (its weight changes with
// time alone). False with load monitors (their weights change on their
// own schedule), or for another configuration.
func (c *Checks) Changed(cfg *config.Config, since HealthMark) (HealthMark, []int, bool) {
	p := c.pos.Load()
	if c.loads != nil || p == nil || p.cfg != cfg {
		return HealthMark{}, nil, false
	}
	now := HealthMark{At: c.now()}
	var dirty []int
	now.Gen = c.eachChecked(p, func(i int, st *health.Status, iv time.Duration, ramps bool) bool {
		if st.Changed > since.Gen || ramps && st.State == health.Up && ramping(since.At.Sub(st.UpSince), iv) {
			dirty = append(dirty, i)
			return false // the next virtual server
		}
		return true
	})
	return now, dirty, true
}

// eachChecked calls fn, with the monitor locked once, for each real server
// of p.cfg that has a checker: its virtual server's index, its status, the
// interval of its slow start, and whether a slow start changes its weight
// (one of weight 1 ramps at 1). fn returns false to skip the rest of that
// virtual server. It returns the monitor's generation then.
func (c *Checks) eachChecked(p *positions, fn func(i int, st *health.Status, iv time.Duration, ramps bool) bool) (gen uint64) {
	c.mon.View(func(g uint64, status func(health.Handle[checkKey]) (*health.Status, bool)) {
		gen = g
		for i := range p.cfg.Virtuals {
			if p.first[i] < 0 {
				continue
			}
			vs := &p.cfg.Virtuals[i]
			iv, set := policyOf(vs).Interval, weightSet(vs)
			for j := range vs.Reals {
				st, ok := status(p.hs[p.first[i]+j])
				if ok && !fn(i, st, iv, set || vs.Reals[j].Weight > 1) {
					break
				}
			}
		}
	})
	return gen
}

// Changes is signalled when a weight Health answers may have changed.
func (c *Checks) Changes() <-chan struct{} { return c.wake }

func (c *Checks) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// nextRampStep returns how long until the next slow-start step of any
// server, or 0 when none ramps. Only a server whose weight a ramp changes
// counts: one of weight 1 ramps at 1 (a step would be a reconcile of every
// server for nothing).
func (c *Checks) nextRampStep() time.Duration {
	p := c.pos.Load()
	if p == nil {
		return 0
	}
	now := c.now()
	var next time.Duration
	c.eachChecked(p, func(_ int, st *health.Status, iv time.Duration, ramps bool) bool {
		if !ramps || st.State != health.Up {
			return true
		}
		if up := now.Sub(st.UpSince); up < slowStartCycles*iv {
			if d := iv - up%iv; next == 0 || d < next {
				next = d
			}
		}
		return true
	})
	return next
}

// specOf is how vs checks its real servers.
func specOf(vs *config.VirtualServer) check.Spec {
	s := check.Spec{
		Kind:      check.Kind(vs.CheckKind),
		Timeout:   vs.CheckTimeout,
		Send:      vs.Send,
		Expect:    vs.Expect,
		UseRegex:  vs.UseRegex,
		Program:   vs.SendProgram,
		Path:      vs.HTTPPath,
		Host:      vs.HTTPHost,
		Status:    vs.HTTPStatus,
		BodyRegex: vs.HTTPBody,
		Verify:    vs.TLSVerify,
		Digest:    vs.HTTPDigest,
		Helo:      vs.SMTPHelo,
		DNSType:   vs.DNSType,
		DNSName:   vs.DNSName,

		ProgramWeight: vs.ProgramWeight,
	}
	if s.Kind == "" {
		// piranha: a sending program if set, else send/expect over TCP
		// (connect only when both are empty).
		s.Kind = check.Send
		if vs.SendProgram != "" {
			s.Kind = check.Program
		}
	}
	// Canonical: two virtual servers that check a real server the same way
	// share one checker.
	return s.Canonical()
}

func targetKey(vs *config.VirtualServer, rs *config.RealServer) check.Target {
	return check.Target{Addr: rs.Address, Port: uint16(rs.EffectivePort(vs))}
}

// status is what the checker of rs within vs knows; false when there is
// no such checker.
func (c *Checks) status(vs *config.VirtualServer, rs *config.RealServer) (health.Status, bool) {
	if p := c.pos.Load(); p != nil {
		if h, ok := p.at(vs, rs); ok {
			if st, ok := c.mon.StatusOf(h); ok {
				return st, true
			}
		}
	}
	// Not of the configuration configured, or not checked there (an
	// inactive server shares the checker of an active one).
	id, ok := c.specs.of(vs)
	if !ok {
		return health.Status{}, false
	}
	return c.mon.Status(checkKey{Target: targetKey(vs, rs), spec: id})
}

func policyOf(vs *config.VirtualServer) health.Policy {
	interval := vs.CheckInterval
	if interval == 0 {
		interval = vs.CheckTimeout // piranha: the timeout is also the interval
	}
	failures := max(vs.CheckFailures, 1)
	return health.Policy{Interval: interval, Failures: failures, Reentry: vs.Reentry}
}

// Configure checks the active real servers of the active virtual servers
// of cfg; checkers whose target and check did not change keep their state.
func (c *Checks) Configure(cfg *config.Config) {
	// The engine configures on every reconcile, and health changes cause
	// most of those: with 10,000 real servers, rebuilding the checkers for
	// an unchanged configuration cost more than everything else.
	c.mu.Lock()
	same := cfg.Serial != 0 && cfg.Serial == c.serial
	prev := c.cfg
	c.mu.Unlock()
	if same {
		return
	}
	// Most edits (a weight, a note, a real server drained) change no
	// check: at 10,000 x 10, rebuilding the checkers' maps for them took
	// 0.66 s of every edit.
	if prev != nil && checksAlike(prev, cfg) {
		c.mu.Lock()
		c.serial, c.cfg = cfg.Serial, cfg
		c.mu.Unlock()
		// The same checkers at the same positions (checksAlike).
		if p := c.pos.Load(); p != nil && p.cfg == prev {
			c.pos.Store(&positions{cfg: cfg, first: p.first, hs: p.hs})
		} else {
			c.pos.Store(nil)
		}
		return
	}
	want := map[checkKey]health.Checker{}
	var targets []load.Target
	first := make([]int, len(cfg.Virtuals))
	var keys []checkKey // by position; zero for a server not checked
	shortest := time.Duration(0)
	for i := range cfg.Virtuals {
		vs := &cfg.Virtuals[i]
		first[i] = -1
		if !inTable(vs) {
			continue
		}
		first[i] = len(keys)
		keys = slices.Grow(keys, len(vs.Reals))
		pol := policyOf(vs)
		id := c.specs.intern(specOf(vs))
		prep, bad := c.specs.probe(id, check.WithHalfOpen(c.half)) // once per spec, for every checker
		for j := range vs.Reals {
			rs := &vs.Reals[j]
			if !rs.Active || !usable(rs.Address) {
				keys = append(keys, checkKey{})
				continue // deactivated servers are not checked
			}
			if t, ok := targetOf(vs, rs); ok {
				targets = append(targets, t)
			}
			k := checkKey{Target: targetKey(vs, rs), spec: id}
			keys = append(keys, k)
			if _, dup := want[k]; dup {
				continue // shared by another virtual server: one checker
			}
			p := c.checker(k.Target, prep, bad)
			p.Policy = pol
			want[k] = p
			if shortest == 0 || pol.Interval < shortest {
				shortest = pol.Interval
			}
		}
	}
	c.mu.Lock()
	c.serial, c.shortest, c.cfg = cfg.Serial, shortest, cfg
	c.mu.Unlock()
	c.mon.Set(want)
	c.pos.Store(&positions{cfg: cfg, first: first, hs: c.mon.Handles(keys)})
	if c.loads != nil {
		c.loads.Set(targets)
	}
}

// checksAlike tells whether cur asks for the checks and load monitors
// prev did, the same in the same order: what Configure builds from them
// (checkers, policies, intervals, load targets) would be the same.
func checksAlike(prev, cur *config.Config) bool {
	changed, same := config.ChangedVirtuals(prev, cur)
	if !same {
		return false
	}
	for _, i := range changed {
		if !virtualChecksAlike(&prev.Virtuals[i], &cur.Virtuals[i]) {
			return false
		}
	}
	return true
}

// virtualChecksAlike is checksAlike for one virtual server: every input of
// Configure's loop over its real servers is equal.
func virtualChecksAlike(a, b *config.VirtualServer) bool {
	on := inTable(a)
	if on != inTable(b) {
		return false
	}
	if !on {
		return true
	}
	if specOf(a) != specOf(b) || policyOf(a) != policyOf(b) || len(a.Reals) != len(b.Reals) {
		return false
	}
	for j := range a.Reals {
		x, y := &a.Reals[j], &b.Reals[j]
		checked := x.Active && usable(x.Address)
		if checked != (y.Active && usable(y.Address)) {
			return false
		}
		if !checked {
			continue
		}
		if targetKey(a, x) != targetKey(b, y) { // the specs are equal
			return false
		}
		tx, okx := targetOf(a, x)
		ty, oky := targetOf(b, y)
		if okx != oky || tx != ty {
			return false
		}
	}
	return true
}

// weightSet tells whether something else than a real server's own weight
// sets its weight when up: its check's exit status, or a load monitor. Its
// slow start then ramps towards that.
func weightSet(vs *config.VirtualServer) bool {
	_, monitored := loadKind(vs)
	return vs.ProgramWeight || monitored
}

// loadKind is vs's load monitor, false without one ("none").
func loadKind(vs *config.VirtualServer) (load.Kind, bool) {
	k := load.Kind(vs.LoadMonitor)
	return k, k != "" && k != load.None
}

// targetOf is how vs's load monitor reads rs, false without one.
func targetOf(vs *config.VirtualServer, rs *config.RealServer) (load.Target, bool) {
	k, ok := loadKind(vs)
	if !ok {
		return load.Target{}, false
	}
	t := load.Target{
		Kind:     k,
		Addr:     rs.Address,
		Interval: load.Interval(vs.LoadInterval, policyOf(vs).Interval),
		Weight:   rs.Weight,
		Ceiling:  load.Ceiling(rs.Weight, rs.MaxWeight),
	}
	port := rs.LoadPort
	if port == 0 {
		port = vs.LoadPort
	}
	switch k {
	case load.Agent:
		t.Port, t.Send = uint16(port), check.Unescape(vs.LoadSend)
	case load.Feedback:
		t.Port, t.HTTPPath = uint16(port), vs.LoadHTTPPath
	case load.Uptime:
		t.Port, t.User, t.KeyFile = uint16(port), vs.LoadSSHUser, vs.LoadSSHKey
	}
	return t, true
}

// checker runs the prepared probe p on target; err is why the spec could
// not be prepared.
func (c *Checks) checker(target check.Target, p *check.Probe, err error) health.Checker {
	if err != nil {
		// Validate keeps such a spec out of accepted configurations; say
		// why rather than let the server look healthy.
		return health.Checker{Probe: func(context.Context) health.Result { return health.Result{Reason: "bad check: " + err.Error()} }}
	}
	if p.Async() {
		return health.Checker{Start: func(ctx context.Context, done func(health.Result)) {
			p.Start(ctx, target, func(r check.Result) {
				done(healthResult(r))
			})
		}}
	}
	return health.Checker{Probe: func(ctx context.Context) health.Result {
		return healthResult(p.Run(ctx, target))
	}}
}

func healthResult(r check.Result) health.Result {
	return health.Result{OK: r.OK, Reason: r.Reason, Latency: r.Latency, Weighted: r.Weighted, Weight: r.Weight}
}

// Latency returns how long the last check of rs took, once it was checked.
func (c *Checks) Latency(vs *config.VirtualServer, rs *config.RealServer) (time.Duration, bool) {
	st, ok := c.status(vs, rs)
	if !ok || st.Checks == 0 {
		return 0, false
	}
	return st.LastLatency, true
}

// Weight implements Health. For a server that is up it is the one place
// that computes the effective weight: the configured one, or the one the
// check's exit status sets (program_weight), or the load monitor's; never
// above the real server's max_weight (load.Ceiling for a monitor); during
// the slow start never above the ramp.
func (c *Checks) Weight(vs *config.VirtualServer, rs *config.RealServer) (int32, Presence) {
	w, p, _ := c.weigh(vs, rs)
	return w, p
}

// weigh is Weight, and why the weight is not the configured one ("" when
// it is, or when the server is not in the table by its checks).
func (c *Checks) weigh(vs *config.VirtualServer, rs *config.RealServer) (int32, Presence, string) {
	st, ok := c.status(vs, rs)
	if !ok {
		return 0, Out, ""
	}
	return c.weighStatus(vs, rs, st)
}

// weighStatus is weigh of a server whose checker's status is st.
func (c *Checks) weighStatus(vs *config.VirtualServer, rs *config.RealServer, st health.Status) (int32, Presence, string) {
	switch st.State {
	case health.Up:
		full, why := c.full(vs, rs, st)
		ls, monitored := c.loadOf(vs, rs)
		if monitored {
			switch ls.Verdict {
			case load.Stop:
				return 0, Out, ls.Why()
			case load.Drain:
				return 0, In, ls.Why()
			}
		}
		interval := policyOf(vs).Interval
		up := c.now().Sub(st.UpSince)
		w := rampedWeight(int32(full), up, interval)
		if monitored {
			// The monitor's weight; a slow start is not cut short: while
			// it ramps, the ramp bounds it.
			lw := int32(min(ls.Weight, load.Ceiling(rs.Weight, rs.MaxWeight)))
			if !ramping(up, interval) || lw < w {
				w = lw
			}
			if ls.Readings > 0 && int64(lw) != rs.Weight {
				why = ls.Why()
			}
		}
		if ramping(up, interval) && int64(w) < full && (!monitored || int64(w) < ls.Weight) {
			why = "slow start"
		}
		return w, In, why
	case health.Down:
		if t, ok := targetOf(vs, rs); ok && c.loads != nil {
			c.loads.Down(t)
		}
		if vs.Quiesce && st.WasUp {
			return 0, Quiesced, "" // existing connections finish; no new ones
		}
		return 0, Out, "" // also one never up: piranha quiesced only what it had brought up
	}
	if st.Checks > 0 {
		return 0, Out, "" // checked, never good yet: piranha adds it after its first good check
	}
	// Not checked yet: one already in the kernel (a restart of serve) stays
	// as it is until its first check says otherwise.
	return 0, Pending, ""
}

// full is the weight of rs, up, before a load monitor and a slow start:
// the one its check's exit status set, capped by its max_weight, or its
// own; and why it differs from its own.
func (c *Checks) full(vs *config.VirtualServer, rs *config.RealServer, st health.Status) (int64, string) {
	if !st.Weighted {
		return rs.Weight, ""
	}
	w := min(st.Weight, config.MaxWeight) // the check's (keepalived's misc_dynamic)
	if rs.MaxWeight > 0 {
		w = min(w, rs.MaxWeight)
	}
	if w == rs.Weight {
		return w, ""
	}
	return w, fmt.Sprintf("exit status sets %d (program)", w)
}

// loadOf is what vs's load monitor says of rs, false without one.
func (c *Checks) loadOf(vs *config.VirtualServer, rs *config.RealServer) (load.Status, bool) {
	if c.loads == nil {
		return load.Status{}, false
	}
	t, ok := targetOf(vs, rs)
	if !ok {
		return load.Status{}, false
	}
	return c.loads.Status(t)
}

// FullWeight is what rs counts towards vs's quorum when up: the weight its
// check set (program_weight, capped by max_weight), or its own; nothing
// while its agent drains it or takes it out.
func (c *Checks) FullWeight(vs *config.VirtualServer, rs *config.RealServer) int64 {
	st, ok := c.status(vs, rs)
	if !ok || st.State != health.Up {
		return rs.Weight
	}
	if ls, ok := c.loadOf(vs, rs); ok && ls.Verdict != load.Serve {
		return 0
	}
	w, _ := c.full(vs, rs, st)
	return w
}

// ramping reports whether a server up for that long is in its slow start.
func ramping(up, interval time.Duration) bool {
	return interval > 0 && up < slowStartCycles*interval
}

// rampedWeight is piranha's slow start: weight/32 at first, doubling each
// interval, the full weight after slowStartCycles intervals.
func rampedWeight(weight int32, up, interval time.Duration) int32 {
	if interval <= 0 || weight <= 0 {
		return weight
	}
	n := int(up / interval)
	if n >= slowStartCycles {
		return weight
	}
	return max(weight>>(slowStartCycles-n), 1)
}

// ServerHealth is one real server's check state, for the console.
type ServerHealth struct {
	State  string // "up", "down", "unknown"
	Reason string
	Since  time.Time
	Weight int32 // what IPVS gets now
	// Configured is the real server's own weight; Why says why Weight
	// differs from it ("" when it does not): "load 3.20 (rup)", "agent
	// says drain", "slow start", "exit status 12 (program)"...
	Configured int64
	Why        string
	// Load is the virtual server's load monitor's latest about the
	// server; nil without a load monitor.
	Load *LoadStatus
}

// LoadStatus is what a load monitor last read of a real server (issue 18).
type LoadStatus struct {
	Monitor string    // "rup", "ruptime", "uptime", "agent", "feedback"
	Reading string    // "load 3.20", "up 75%", "idle 40%"; "" before the first
	Error   string    // why the latest reading failed (the weight stays)
	At      time.Time // of the latest reading that succeeded
	Weight  int64     // the weight the monitor gives, before a slow start
	HostKey string    // uptime: the SSH host key pinned ("SHA256:...")
}

// Of returns the check state of rs within vs, and false when rs is not
// checked (inactive).
func (c *Checks) Of(vs *config.VirtualServer, rs *config.RealServer) (ServerHealth, bool) {
	st, ok := c.status(vs, rs)
	if !ok {
		return ServerHealth{}, false
	}
	h := ServerHealth{State: "unknown", Reason: st.Reason, Since: st.Since}
	switch st.State {
	case health.Up:
		h.State = "up"
	case health.Down:
		h.State = "down"
	}
	w, p, why := c.weighStatus(vs, rs, st) // one lookup: at 100,000 servers the dashboard asks for each
	if p == In || p == Quiesced {
		h.Weight = w
	}
	h.Configured, h.Why = rs.Weight, why
	if ls, ok := c.loadOf(vs, rs); ok {
		l := &LoadStatus{Monitor: vs.LoadMonitor, Reading: ls.Reading, Error: ls.Error, Weight: ls.Weight, HostKey: ls.HostKey}
		if ls.Readings > 0 {
			l.At = ls.At
		}
		h.Load = l
	}
	return h, true
}

// Event is one recorded transition, for the console.
type Event struct {
	Time     time.Time
	Server   string // "10.0.0.1:80"
	From, To string
	Reason   string
}

// Events returns the n most recent transitions, newest first.
func (c *Checks) Events(n int) []Event {
	ts := c.mon.Transitions(n)
	out := make([]Event, len(ts))
	for i, t := range ts {
		out[i] = Event{Time: t.Time, Server: AddrPort(t.Key.Target.Addr, t.Key.Target.Port),
			From: stateName(t.From), To: stateName(t.To), Reason: t.Reason}
	}
	return out
}

func stateName(s health.State) string {
	switch s {
	case health.Up:
		return "up"
	case health.Down:
		return "down"
	}
	return "unknown"
}

// Probe checks rs of vs once, as its checker does, now: REVIEW's
// warning of a real server that does not answer.
func (c *Checks) Probe(ctx context.Context, vs *config.VirtualServer, rs *config.RealServer) (bool, string) {
	r := check.Run(ctx, specOf(vs), targetKey(vs, rs))
	return r.OK, r.Reason
}
