package load

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/load/agent"
)

// answer parses an agent's line, failing the test on a bad one.
func answer(t *testing.T, line string) agent.Answer {
	t.Helper()
	a, err := agent.Parse(line)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func idle(p int) Reading { return Reading{Answer: agent.Answer{Percent: p, Weight: -1, MaxConn: -1}} }

// TestStep walks monitors through readings: each row is one reading (or
// failure) and the state the engine then sees.
func TestStep(t *testing.T) {
	addr := netip.MustParseAddr("10.0.0.1")
	rup := Target{Kind: Rup, Addr: addr, Interval: time.Second, Weight: 10, Ceiling: 100}
	capped := rup
	capped.Ceiling = 12
	agt := Target{Kind: Agent, Addr: addr, Port: 3334, Interval: time.Second, Weight: 32, Ceiling: 320}
	small := agt
	small.Ceiling = 40 // max_weight 40
	fb := Target{Kind: Feedback, Addr: addr, Port: 3333, Interval: time.Second, Weight: 20, Ceiling: 200}
	fail := errors.New("connection refused")

	type row struct {
		read    any // float64 (a load), string (an agent's line), Reading, error, or "DOWN" (the health check)
		weight  int64
		verdict Verdict
		changed bool
		reading string // "" : not checked
	}
	for _, c := range []struct {
		name   string
		target Target
		rows   []row
	}{
		{"piranha: idle climbs, busy falls back, failures keep the weight", rup, []row{
			{0.0, 15, Serve, true, "load 0.00"},
			{0.0, 20, Serve, true, ""},
			{fail, 20, Serve, false, "load 0.00"}, // the last good reading stays shown
			{0.9, 20, Serve, false, "load 0.90"},  // step 5*0.46 = 2.3 < 2.5
			{3.0, 13, Serve, true, "load 3.00"},   // 20 - 5*1.26 = 13.7 -> 13
			{9.0, 10, Serve, true, ""},            // never below the weight
		}},
		{"piranha: reset on down", rup, []row{
			{0.0, 15, Serve, true, ""},
			{0.0, 20, Serve, true, ""},
			{"DOWN", 10, Serve, true, ""},
			{0.0, 15, Serve, true, ""}, // climbs again from the configured weight
		}},
		{"piranha: max_weight is the ceiling", Target{Kind: Uptime, Addr: addr, Interval: time.Second, Weight: 10, Ceiling: 14}, []row{
			{0.0, 14, Serve, true, ""},
			{0.0, 14, Serve, false, ""},
		}},
		{"piranha: max_weight close to the weight", capped, []row{
			{0.0, 10, Serve, false, ""}, // 15 capped to 12: a step under weight/4, as piranha
			{0.0, 10, Serve, false, ""},
		}},
		{"agent: shares, drain, down, sticky words", agt, []row{
			{"up 75%", 24, Serve, true, "agent: up 75%"},
			{"drain", 24, Drain, true, "agent: drain 75%"},
			{"50%", 16, Drain, true, ""},   // still draining: drain holds until ready
			{fail, 16, Drain, false, ""},   // a failure keeps all
			{"ready", 16, Serve, true, ""}, // the share said before stays
			{"down #disk full", 16, Stop, true, "agent: down 50% # disk full"},
			{"up", 16, Serve, true, ""},
			{"maint", 16, Stop, true, ""},
			{"ready 100%", 32, Serve, true, "agent: up 100%"},
		}},
		{"agent: a wavering share within 10% changes nothing", agt, []row{
			{"up 100%", 32, Serve, false, ""}, // 32 = the configured weight
			{"95%", 32, Serve, false, ""},     // 30: |2| <= 3.2
			{"105%", 32, Serve, false, ""},    // 34
			{"90%", 32, Serve, false, ""},     // 29: 3*10 <= 32
			{"85%", 27, Serve, true, ""},      // 27: 5*10 > 32
		}},
		{"agent: absolute weights within the ceiling; 0 always counts", small, []row{
			{"weight:100", 40, Serve, true, "agent: weight:100"},
			{"weight:0", 0, Serve, true, ""},
			{"weight:1", 1, Serve, true, ""},
		}},
		{"agent: nothing said keeps the configured weight", agt, []row{
			{"", 32, Serve, false, "agent: no state or weight"},
		}},
		{"agent: its weight stays when the check takes the server down", agt, []row{
			{"60%", 19, Serve, true, ""},
			{"DOWN", 19, Serve, false, ""},
		}},
		{"feedback: idle percentage", fb, []row{
			{idle(100), 20, Serve, false, "idle 100%"},
			{idle(30), 6, Serve, true, "idle 30%"},
			{idle(0), 0, Serve, true, ""},
			{idle(1), 1, Serve, true, ""}, // at least 1 when neither is 0
		}},
	} {
		s := Initial(c.target)
		for i, r := range c.rows {
			var (
				next    State
				changed bool
				now     = time.Unix(int64(1000+i), 0)
			)
			switch v := r.read.(type) {
			case float64:
				next, changed = Step(c.target, s, Reading{Load: v}, nil, now)
			case string:
				if v == "DOWN" {
					next, changed = Down(c.target, s, now)
				} else {
					next, changed = Step(c.target, s, Reading{Answer: answer(t, v)}, nil, now)
				}
			case Reading:
				next, changed = Step(c.target, s, v, nil, now)
			case error:
				next, changed = Step(c.target, s, Reading{}, v, now)
				if next.Error != v.Error() || next.Failures != s.Failures+1 {
					t.Errorf("%s: row %d: error %q, failures %d", c.name, i, next.Error, next.Failures)
				}
			}
			if next.Weight != r.weight || next.Verdict != r.verdict || changed != r.changed {
				t.Errorf("%s: row %d (%v): weight %d, %v, changed %v; want %d, %v, %v",
					c.name, i, r.read, next.Weight, next.Verdict, changed, r.weight, r.verdict, r.changed)
			}
			if r.reading != "" && next.Reading != r.reading {
				t.Errorf("%s: row %d (%v): reading %q, want %q", c.name, i, r.read, next.Reading, r.reading)
			}
			if changed && !next.Changed.Equal(now) {
				t.Errorf("%s: row %d: changed at %v, want %v", c.name, i, next.Changed, now)
			}
			s = next
		}
	}
}

func TestWhy(t *testing.T) {
	agt := Target{Kind: Agent, Weight: 32, Ceiling: 320, Interval: time.Second}
	rup := Target{Kind: Rup, Weight: 10, Ceiling: 100, Interval: time.Second}
	step := func(tg Target, s State, r Reading) State { s, _ = Step(tg, s, r, nil, time.Unix(1, 0)); return s }
	for _, c := range []struct {
		got, want string
	}{
		{Initial(rup).Why(Rup), ""},
		{step(rup, Initial(rup), Reading{Load: 3.2}).Why(Rup), "load 3.20 (rup)"},
		{step(agt, Initial(agt), Reading{Answer: answer(t, "drain")}).Why(Agent), "agent says drain"},
		{step(agt, Initial(agt), Reading{Answer: answer(t, "fail")}).Why(Agent), "agent says fail"},
		{step(agt, Initial(agt), Reading{Answer: answer(t, "up maint")}).Why(Agent), "agent says maint"},
		{step(agt, Initial(agt), Reading{Answer: answer(t, "75%")}).Why(Agent), "agent: 75%"},
		{step(Target{Kind: Feedback, Weight: 10, Ceiling: 100}, State{Weight: 10, Percent: -1, Absolute: -1}, idle(40)).Why(Feedback), "idle 40% (feedback)"},
	} {
		if c.got != c.want {
			t.Errorf("Why = %q, want %q", c.got, c.want)
		}
	}
}
