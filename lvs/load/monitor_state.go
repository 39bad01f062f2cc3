package load

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/load/agent"
)

// Target is one monitored real server: what is read, where and how, and
// the weights the monitor moves between. It is comparable: two virtual
// servers that monitor a real server the same way, with the same weights,
// share one monitor.
type Target struct {
	Kind     Kind
	Addr     netip.Addr
	Port     uint16        // agent, feedback, uptime: the port (0 for rup, ruptime)
	Send     string        // agent: written after connecting (unescaped)
	HTTPPath string        // feedback: GET this path over HTTP ("" = the TCP agent)
	User     string        // uptime: the user to log in as
	KeyFile  string        // uptime: the private key's file ("" = the director's own)
	Interval time.Duration // between two readings (Interval's)
	Weight   int64         // the real server's configured weight
	Ceiling  int64         // the most the monitor may give (Ceiling's)
}

// String names the target in logs and errors: "rup 10.0.0.1".
func (t Target) String() string {
	if t.Port == 0 {
		return string(t.Kind) + " " + t.Addr.String()
	}
	return string(t.Kind) + " " + netip.AddrPortFrom(t.Addr, t.Port).String()
}

// start is the weight a monitor gives before its first reading, and again
// after the health check took the server down: the configured weight
// (piranha's nanny restarts from it), within the ceiling.
func (t Target) start() int64 { return min(max(t.Weight, 0), t.Ceiling) }

// Reading is what one reading found.
type Reading struct {
	// Load is the 1-minute load average (rup, ruptime, uptime).
	Load float64
	// Answer is the agent's (agent); a feedback agent's idle percentage
	// is its Percent, without a state.
	Answer agent.Answer
	// At is when the server said it (ruptime: when its broadcast came);
	// zero: when it was read.
	At time.Time
}

// Verdict is what a monitor says of a server beyond its weight.
type Verdict int

const (
	Serve Verdict = iota // in service at the monitor's weight
	Drain                // the agent said drain: weight 0, its connections finish
	Stop                 // the agent said down, fail, stopped or maint: out of service
)

func (v Verdict) String() string {
	switch v {
	case Drain:
		return "drain"
	case Stop:
		return "out of service"
	}
	return "serve"
}

// State is a monitor's state: what Step keeps from one reading to the next.
type State struct {
	Weight  int64   // the weight the monitor gives now
	Verdict Verdict // agent: drain or out of service
	// What the agent said last of each kind: an answer that does not say
	// it keeps it (HAProxy's rule; "drain" holds until "ready").
	Health   agent.Health
	Admin    agent.Admin
	Percent  int    // -1: none said
	Absolute int64  // -1: none said
	Said     string // the agent's latest operating state word ("up", "fail")
	Word     string // the state in one word ("up", "drain", "maint", "fail")

	Reading  string    // the latest good reading, in words ("load 3.20")
	Error    string    // why the latest reading failed; "" if it did not
	At       time.Time // of the latest good reading
	Changed  time.Time // when Weight or Verdict last changed
	Readings int       // good readings so far
	Failures int       // failed readings in a row
}

// Initial is a monitor's state before its first reading.
func Initial(t Target) State {
	return State{Weight: t.start(), Percent: -1, Absolute: -1}
}

// Step is the state after one reading of t (err nil) or one failure, at
// now. It reports whether what the engine programs changed (Weight or
// Verdict):
//
//   - a failed reading keeps the weight and the verdict, and records why
//     (piranha's nanny and HAProxy both keep the last weight);
//   - rup, ruptime, uptime: Piranha's rule from the weight given now;
//   - agent: the words it says replace what it said before (what it does
//     not say stays), the weight is Share of the configured weight, taken
//     by Smooth's rule; down, fail, stopped, maint: out of service; drain:
//     weight 0 in the table until the agent says ready or up;
//   - feedback: the idle percentage is the agent's share, by Smooth's rule.
//
// The weight never leaves 0..t.Ceiling.
func Step(t Target, s State, r Reading, err error, now time.Time) (State, bool) {
	if err != nil {
		s.Error = err.Error()
		s.Failures++
		return s, false
	}
	at := r.At
	if at.IsZero() {
		at = now
	}
	s.Error, s.Failures, s.At = "", 0, at
	s.Readings++
	before, verdict := s.Weight, s.Verdict
	switch {
	case t.Kind.ReadsLoad():
		s.Reading = "load " + strconv.FormatFloat(r.Load, 'f', 2, 64)
		s.Weight, _ = Piranha(t.Weight, t.Ceiling, s.Weight, r.Load)
	case t.Kind == Feedback:
		idle := r.Answer.Percent
		s.Reading = "idle " + strconv.Itoa(idle) + "%"
		s.Weight, _ = Smooth(s.Weight, Share(t.Weight, t.Ceiling, idle, 0))
	case t.Kind == Agent:
		s = agentStep(t, s, r.Answer)
	}
	s.Weight = min(max(s.Weight, 0), t.Ceiling)
	changed := s.Weight != before || s.Verdict != verdict
	if changed {
		s.Changed = now
	}
	return s, changed
}

// agentStep takes an agent's answer into s.
func agentStep(t Target, s State, a agent.Answer) State {
	if a.Health != agent.HealthUnsaid {
		s.Health, s.Said = a.Health, a.HealthWord
	}
	if a.Admin != agent.AdminUnsaid {
		s.Admin = a.Admin
	}
	switch {
	case a.Percent >= 0:
		s.Percent, s.Absolute = a.Percent, -1
	case a.Weight >= 0:
		s.Percent, s.Absolute = -1, int64(a.Weight)
	}
	st := agent.Answer{Health: s.Health, Admin: s.Admin}.State()
	switch st {
	case agent.Down, agent.Maint:
		s.Verdict = Stop
	case agent.Drain:
		s.Verdict = Drain
	default:
		s.Verdict = Serve
	}
	switch {
	case st == agent.Down:
		s.Word = s.Said // down, fail or stopped
	case st == agent.None:
		s.Word = ""
	default:
		s.Word = st.String()
	}
	target := t.start()
	switch {
	case s.Percent >= 0:
		target = Share(t.Weight, t.Ceiling, s.Percent, 0)
	case s.Absolute >= 0:
		target = Share(t.Weight, t.Ceiling, -1, s.Absolute)
	}
	s.Weight, _ = Smooth(s.Weight, target)
	var words []string
	if s.Word != "" {
		words = append(words, s.Word)
	}
	switch {
	case s.Percent >= 0:
		words = append(words, strconv.Itoa(s.Percent)+"%")
	case s.Absolute >= 0:
		words = append(words, "weight:"+strconv.FormatInt(s.Absolute, 10))
	}
	if len(words) == 0 {
		words = append(words, "no state or weight")
	}
	s.Reading = "agent: " + strings.Join(words, " ")
	if a.Reason != "" {
		s.Reading += " # " + a.Reason
	}
	return s
}

// Down is the state after the health check took the server down: a load
// average monitor restarts from the configured weight, as piranha's nanny
// restarts its last weight from the slow start. An agent's weight is what
// it last said, not a sum of steps: it stays, as in HAProxy.
func Down(t Target, s State, now time.Time) (State, bool) {
	if !t.Kind.ReadsLoad() || s.Weight == t.start() {
		return s, false
	}
	s.Weight, s.Changed = t.start(), now
	return s, true
}

// Why says in words why the monitor's weight is what it is, for the
// console: "load 3.20 (rup)", "agent says drain", "agent: 75%",
// "idle 40% (feedback)"; "" before the first reading.
func (s State) Why(k Kind) string {
	if s.Readings == 0 {
		return ""
	}
	switch {
	case k == Agent && s.Verdict == Drain:
		return "agent says drain"
	case k == Agent && s.Verdict == Stop:
		return "agent says " + s.Word
	case k == Agent:
		return s.Reading
	}
	return fmt.Sprintf("%s (%s)", s.Reading, k)
}
