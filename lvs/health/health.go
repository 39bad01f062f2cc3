// Package health schedules the health checks of many real servers and keeps
// the state of each: Unknown until its first check, Up after a good one, Down
// after Policy.Failures consecutive failures (whether it was Up or never
// was), and Up again after the re-entry streak of consecutive good checks.
//
// It fixes what piranha's nanny got wrong: one failed check no longer removes
// a server (Policy.Failures), a check that hangs is a failure (every probe
// runs under a deadline of one interval), and there is no process,
// goroutine or timer per check: one scheduler goroutine keeps a timer heap
// and hands the due probes to a pool of workers (or starts the asynchronous
// ones itself, see Start), at most Options.MaxConcurrent at a time. Set replaces the wanted set of checkers and
// keeps the state and schedule of the ones that stay, so a reload does not
// lose what is known about the real servers.
//
// The package knows nothing about how a server is checked: a Probe is a
// function, and the caller adapts lvs/check's Run to it. It keys checkers by
// any comparable type, so one checker can serve a real server that is part
// of several virtual services (key it by address, port and check spec).
package health

import (
	"context"
	"math"
	"strconv"
	"time"
)

// Result is the outcome of one probe.
type Result struct {
	OK bool
	// Reason says what happened, also when OK ("200 OK in 3ms"); it is
	// kept in Status.Reason and in the transitions.
	Reason string
	// Latency is how long the check took; 0 lets the monitor measure it.
	Latency time.Duration
	// Weighted: a good check that sets the server's weight to Weight
	// rather than its configured one (keepalived's misc_dynamic).
	Weighted bool
	Weight   int64
}

// Probe runs one check of one target and must return when ctx ends; its
// deadline is the checker's interval. lvs/check's Run fits it, adapted by
// the caller:
//
//	probe := func(ctx context.Context) health.Result {
//		r := check.Run(ctx, spec, target)
//		return health.Result{OK: r.OK, Reason: r.Reason, Latency: r.Latency}
//	}
type Probe func(ctx context.Context) Result

// Start is a probe that waits on an event rather than in a blocking call:
// it starts one check and returns at once, and done is called exactly once
// with the result, from any goroutine, at the latest soon after ctx ends.
// The monitor calls it from its scheduler without a worker goroutine, which
// at thousands of checks a second saves two goroutine hand-offs per check
// (lvs/check's half-open SYN check, whose answers one reader receives for
// all checks, is one).
type Start func(ctx context.Context, done func(Result))

// Defaults for the zero fields of a Policy and of Options.
const (
	DefaultInterval      = 6 * time.Second // piranha's default timeout
	DefaultFailures      = 1               // piranha's: the first failure
	DefaultJitter        = 0.1
	DefaultEvents        = 1000
	DefaultMaxConcurrent = 512
)

// Policy says how often a checker runs and when its state changes.
type Policy struct {
	// Interval is the time between two checks, and the deadline of each
	// (piranha's timeout is both). Zero or less: DefaultInterval.
	Interval time.Duration
	// Failures is how many consecutive failures take an Up server Down.
	// Zero or less: DefaultFailures (1, as piranha).
	Failures int
	// Reentry is how long a Down server must keep passing before it is Up
	// again: ceil(Reentry/Interval) consecutive good checks, at least one
	// (piranha's reentry seconds).
	Reentry time.Duration
	// Jitter spreads the checks so that thousands of them do not fire
	// together: each wait is Interval scaled by a random factor in
	// [1-Jitter/2, 1+Jitter/2]. Zero: DefaultJitter; negative: none; at
	// most 1. The first check of a new checker always comes at a random
	// point of its first interval.
	Jitter float64
}

// normalize fills the defaults.
func (p Policy) normalize() Policy {
	if p.Interval <= 0 {
		p.Interval = DefaultInterval
	}
	if p.Failures <= 0 {
		p.Failures = DefaultFailures
	}
	if p.Reentry < 0 {
		p.Reentry = 0
	}
	switch {
	case p.Jitter == 0 || math.IsNaN(p.Jitter):
		p.Jitter = DefaultJitter
	case p.Jitter < 0:
		p.Jitter = 0
	case p.Jitter > 1:
		p.Jitter = 1
	}
	return p
}

// ReentryChecks is how many consecutive good checks bring a Down server
// back Up under p: ceil(Reentry/Interval), at least 1.
func (p Policy) ReentryChecks() int {
	p = p.normalize()
	n := (p.Reentry + p.Interval - 1) / p.Interval
	if n < 1 {
		return 1
	}
	if n > math.MaxInt32 {
		return math.MaxInt32
	}
	return int(n)
}

// State is what the checks say about a target.
type State uint8

const (
	// Unknown: not checked yet, or fewer than Policy.Failures checks
	// failed and none succeeded. Like piranha, the caller keeps such a
	// server out of the table.
	Unknown State = iota
	// Up: the first check succeeded, or enough consecutive checks after
	// being Down.
	Up
	// Down: Policy.Failures consecutive checks failed, while Up or before
	// any succeeded.
	Down
)

func (s State) String() string {
	switch s {
	case Unknown:
		return "unknown"
	case Up:
		return "up"
	case Down:
		return "down"
	}
	return "State(" + strconv.Itoa(int(s)) + ")"
}

// MarshalText writes the state as String does (for JSON).
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Status is what a Monitor knows about one checker. Times come from
// Options.Now.
type Status struct {
	State State
	// Since is when State was entered; for Unknown, when the checker was
	// added.
	Since time.Time
	// Reason is the latest check's reason, also when it succeeded.
	Reason string
	// Streak counts the latest run of equal outcomes: +n after n good
	// checks in a row, -n after n failures in a row, 0 before any check.
	Streak int
	// Checks counts the completed checks.
	Checks uint64
	// LastLatency is the latest check's latency.
	LastLatency time.Duration
	// LastCheck is when the latest check completed; zero before any.
	LastCheck time.Time
	// UpSince is when the server last became Up, zero unless it is Up
	// (a caller ramping the weight up after re-entry starts from it).
	UpSince time.Time
	// WasUp is whether the server has been Up since its checker was
	// added: a Down one that never was has never taken traffic (piranha
	// quiesced only a server it had brought up).
	WasUp bool
	// Weighted and Weight are the weight the latest good check set, if
	// it set one (Result.Weighted).
	Weighted bool
	Weight   int64
	// Changed is the monitor's Generation at this checker's latest change
	// that Generation counts.
	Changed uint64
}

// Transition is one change of a checker's state.
type Transition[K comparable] struct {
	Time     time.Time
	Key      K
	From, To State
	// Reason is the reason of the check that caused the change.
	Reason string
}

// Checker is one wanted health check: how to probe, and how often.
type Checker struct {
	Probe  Probe
	Start  Start // instead of Probe
	Policy Policy
}

// Options configure a Monitor; the zero value is usable.
type Options struct {
	// Now gives the times recorded in Status and Transition; default
	// time.Now. Scheduling always uses the real clock.
	Now func() time.Time
	// Events is how many transitions are kept; default DefaultEvents.
	Events int
	// MaxConcurrent bounds the probes in flight; default
	// DefaultMaxConcurrent.
	MaxConcurrent int
	// Flush, if set, is called after each round of asynchronous probes
	// (Start) that the scheduler started together, so that they can
	// batch their work: lvs/check's HalfOpen.Flush sends the round's SYNs
	// in one system call.
	Flush func()
}
