package engine

import (
	"context"
	"fmt"
	"sync"
	"time"

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
type checkKey struct {
	Target check.Target
	Spec   check.Spec
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
	mon  *health.Monitor[checkKey]
	now  func() time.Time
	half *check.HalfOpen // the raw sockets of every syn check, opened on the first
	// loads are the load monitors; nil: none (SetLoads).
	loads Loads

	mu        sync.Mutex
	intervals map[checkKey]time.Duration  // for the slow start of each checker
	probes    map[checkKey]health.Checker // prepared once per checker (no Policy), reused by later Configures
	serial    int64                       // of the configuration last configured
	cfg       *config.Config              // that configuration (read, never changed)
	shortest  time.Duration               // the shortest interval of a checker
	wake      chan struct{}
}

// NewChecks returns the checks; Run runs them.
func NewChecks() *Checks {
	half := check.NewHalfOpen()
	c := &Checks{
		// Each round of syn checks the monitor starts goes in one sendmmsg.
		mon:       health.New[checkKey](health.Options{Flush: half.Flush}),
		now:       time.Now,
		half:      half,
		intervals: map[checkKey]time.Duration{},
		probes:    map[checkKey]health.Checker{},
		wake:      make(chan struct{}, 1),
	}
	return c
}

// SetLoads makes the weights of servers with a load monitor follow loads.
// Call it before Run and the first Configure; loads is run by its owner.
func (c *Checks) SetLoads(loads Loads) {
	c.mu.Lock()
	c.cfg = nil // configure them in full next time
	c.mu.Unlock()
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

// Changes is signalled when a weight Health answers may have changed.
func (c *Checks) Changes() <-chan struct{} { return c.wake }

func (c *Checks) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// nextRampStep returns how long until the next slow-start step of any
// server, or 0 when none ramps.
func (c *Checks) nextRampStep() time.Duration {
	all := c.mon.Snapshot() // one lock of the monitor, not one per checker
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	var next time.Duration
	for k, iv := range c.intervals {
		st, ok := all[k]
		if !ok || st.State != health.Up {
			continue
		}
		up := now.Sub(st.UpSince)
		if up >= slowStartCycles*iv {
			continue
		}
		d := iv - up%iv
		if next == 0 || d < next {
			next = d
		}
	}
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

func keyOf(vs *config.VirtualServer, rs *config.RealServer) checkKey {
	return checkKey{
		Target: check.Target{Addr: rs.Address, Port: uint16(rs.EffectivePort(vs))},
		Spec:   specOf(vs),
	}
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
		return
	}
	want := map[checkKey]health.Checker{}
	var targets []load.Target
	intervals := map[checkKey]time.Duration{}
	probes := map[checkKey]health.Checker{}
	c.mu.Lock()
	old := c.probes
	c.mu.Unlock()
	for i := range cfg.Virtuals {
		vs := &cfg.Virtuals[i]
		if !vs.Active || !usable(vs.Address) {
			continue
		}
		pol := policyOf(vs)
		for j := range vs.Reals {
			rs := &vs.Reals[j]
			if !rs.Active || !usable(rs.Address) {
				continue // deactivated servers are not checked
			}
			if t, ok := targetOf(vs, rs); ok {
				targets = append(targets, t)
			}
			k := keyOf(vs, rs)
			if _, dup := want[k]; dup {
				continue // shared by another virtual server: one checker
			}
			// The engine configures on every reconcile: prepare a check
			// (regexes, HTTP client) only when it is new.
			p, ok := old[k]
			if !ok {
				p = c.probe(k)
			}
			probes[k] = p
			p.Policy = pol
			want[k] = p
			intervals[k] = pol.Interval
		}
	}
	shortest := time.Duration(0)
	for _, iv := range intervals {
		if shortest == 0 || iv < shortest {
			shortest = iv
		}
	}
	c.mu.Lock()
	c.intervals, c.probes, c.serial, c.shortest, c.cfg = intervals, probes, cfg.Serial, shortest, cfg
	c.mu.Unlock()
	c.mon.Set(want)
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
	on := a.Active && usable(a.Address)
	if on != (b.Active && usable(b.Address)) {
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
		if keyOf(a, x) != keyOf(b, y) {
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

// targetOf is how vs's load monitor reads rs, false without one.
func targetOf(vs *config.VirtualServer, rs *config.RealServer) (load.Target, bool) {
	k := load.Kind(vs.LoadMonitor)
	if k == "" || k == load.None {
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

// probe prepares k's check once (regexes, HTTP client) for all its runs.
func (c *Checks) probe(k checkKey) health.Checker {
	p, err := check.NewProbe(k.Spec, check.WithHalfOpen(c.half))
	if err != nil {
		// Validate keeps such a spec out of accepted configurations; say
		// why rather than let the server look healthy.
		return health.Checker{Probe: func(context.Context) health.Result { return health.Result{Reason: "bad check: " + err.Error()} }}
	}
	if p.Async() {
		return health.Checker{Start: func(ctx context.Context, done func(health.Result)) {
			p.Start(ctx, k.Target, func(r check.Result) {
				done(healthResult(r))
			})
		}}
	}
	return health.Checker{Probe: func(ctx context.Context) health.Result {
		return healthResult(p.Run(ctx, k.Target))
	}}
}

func healthResult(r check.Result) health.Result {
	return health.Result{OK: r.OK, Reason: r.Reason, Latency: r.Latency, Weighted: r.Weighted, Weight: r.Weight}
}

// Latency returns how long the last check of rs took, once it was checked.
func (c *Checks) Latency(vs *config.VirtualServer, rs *config.RealServer) (time.Duration, bool) {
	st, ok := c.mon.Status(keyOf(vs, rs))
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
	st, ok := c.mon.Status(keyOf(vs, rs))
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
	st, ok := c.mon.Status(keyOf(vs, rs))
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
	st, ok := c.mon.Status(keyOf(vs, rs))
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
	k := keyOf(vs, rs)
	r := check.Run(ctx, k.Spec, k.Target)
	return r.OK, r.Reason
}
