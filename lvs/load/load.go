// Package load turns what a real server's load monitor reads into the
// weight the server should have: piranha's rule for a load average (rup,
// ruptime, uptime), and a share of the configured weight for an agent's
// answer (HAProxy's agent-check, Loadbalancer.org's feedback agent).
//
// The clients of each protocol are its subpackages (rstat, rwho, sshload,
// agent, feedback). This package decides, with pure functions, what the
// next weight is after a reading (Piranha, Share, and Step, which applies
// them to a monitor's State), whether a change is worth making (Smooth),
// and the most a server may get (Ceiling); Monitors reads every monitored
// server once per interval and keeps its State. How the engine takes the
// weights is lvs/engine's (Checks, through its Loads interface).
package load

import (
	"math"
	"time"
)

// Kind is a virtual server's load monitor (config.VirtualServer.LoadMonitor).
type Kind string

// The load monitors: piranha's three, which read the load average, and the
// two agents, which say a share of the weight.
const (
	None     Kind = "none"
	Rup      Kind = "rup"      // rstatd over SunRPC (lvs/load/rstat)
	Ruptime  Kind = "ruptime"  // rwhod's broadcasts (lvs/load/rwho)
	Uptime   Kind = "uptime"   // /proc/loadavg over SSH (lvs/load/sshload)
	Agent    Kind = "agent"    // HAProxy's agent-check (lvs/load/agent)
	Feedback Kind = "feedback" // Loadbalancer.org's idle percentage (lvs/load/feedback)
)

// Kinds are every load monitor but none, in the console's order.
var Kinds = []Kind{Rup, Ruptime, Uptime, Agent, Feedback}

// ReadsLoad reports whether k reads a load average (piranha's monitors),
// rather than an agent's share of the weight.
func (k Kind) ReadsLoad() bool { return k == Rup || k == Ruptime || k == Uptime }

// Scale is piranha's: a load monitor moves a weight between the configured
// weight and Scale times it (nanny's --scale, 10 by default, which lvsd
// never changed).
const Scale = 10

// MaxWeight is IPVS's largest weight (config.MaxWeight).
const MaxWeight = math.MaxInt32

// DefaultInterval is how often piranha's nanny read the load: every 20
// seconds, or every check when checks are further apart (nanny.c, run():
// "interval > 20 || currCount % (20 / interval) == 0").
const DefaultInterval = 20 * time.Second

// Interval is how often a monitor reads: the virtual server's
// load_interval, else piranha's, 20 s or the check interval if longer.
func Interval(loadInterval, checkInterval time.Duration) time.Duration {
	if loadInterval > 0 {
		return loadInterval
	}
	return max(DefaultInterval, checkInterval)
}

// Ceiling is the most weight a load monitor may give a server of the
// configured weight: its max_weight if set, else Scale times the weight
// (piranha's bound), never above IPVS's largest.
func Ceiling(configured, maxWeight int64) int64 {
	c := maxWeight
	if c <= 0 {
		c = configured * Scale
	}
	return min(max(c, 0), MaxWeight)
}

// Piranha is nanny's weight rule for a load average, as piranha's nanny.c
// (adjustWeight, after Wensong Zhang's weighting patch of 2001) computes
// it, from the weight it last set (last) and the 1-minute load just read:
//
//   - a load of 1 is neutral, and a failed read (load < 0) changes nothing;
//   - below 1, the weight rises by weight/2 * (1-load)^(1/3), to at most
//     the ceiling (Scale times the weight in piranha);
//   - above 1, it falls by weight/2 * (load-1)^(1/3), to no less than the
//     configured weight;
//   - the new weight is truncated to a whole number, as C's conversion
//     does, and taken only when it differs from the last by at least
//     weight/4.
//
// So an idle server's weight climbs towards ten times its own and a busy
// one's comes back to its own: a weight below 2 never moves, as in
// piranha, whose steps are then under one.
func Piranha(weight, ceiling, last int64, load float64) (next int64, changed bool) {
	if load < 0 || load == 1 || math.IsNaN(load) || math.IsInf(load, 0) {
		return last, false
	}
	step := float64(weight) / 2
	n := float64(last)
	if load < 1 {
		n += step * math.Cbrt(1-load)
	} else {
		n -= step * math.Cbrt(load-1)
	}
	next = int64(n) // truncated towards zero, as C's (int) conversion
	if load < 1 {
		next = min(next, ceiling)
	} else {
		next = max(next, weight)
	}
	if math.Abs(float64(next-last)) < float64(weight)/4 {
		return last, false
	}
	return next, true
}

// Share is the weight an agent asks for: percent of the configured weight
// (HAProxy's "75%", the feedback agent's idle percentage), rounded to the
// nearest whole weight and at least 1 when neither is 0 (HAProxy's rule,
// so that a small share of a small weight does not drain the server), or
// an absolute weight (HAProxy's "weight:20"; percent < 0). The result is
// within 0 and the ceiling.
func Share(configured, ceiling int64, percent int, absolute int64) int64 {
	var w int64
	if percent >= 0 {
		w = (configured*int64(percent) + 50) / 100
		if w == 0 && configured > 0 && percent > 0 {
			w = 1
		}
	} else {
		w = absolute
	}
	return min(max(w, 0), ceiling)
}

// Smooth decides whether the weight in effect (last) moves to target: only
// when it differs by more than a tenth of last (at least by 1), so that a
// load that wavers around a value does not rewrite the kernel's table at
// every reading. Going to or from 0 always counts: it starts or stops new
// connections.
func Smooth(last, target int64) (next int64, changed bool) {
	if target == last {
		return last, false
	}
	if target == 0 || last == 0 {
		return target, true
	}
	d := target - last
	if d < 0 {
		d = -d
	}
	if d*10 > last { // more than 10 %
		return target, true
	}
	return last, false
}
