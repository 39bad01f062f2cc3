//go:build !guest

package engine

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/lvs/ipvs"
)

// TestQuorumHeldNow is keepalived's decision (update_quorum_state and
// set_quorum_states), state by state.
func TestQuorumHeldNow(t *testing.T) {
	for _, tc := range []struct {
		was              quorumState
		sum, quorum, hys int64
		held             bool
	}{
		// quorum 1, hysteresis 0: piranha's "a real server is up"
		{quorumUnknown, 0, 1, 0, false},
		{quorumUnknown, 1, 1, 0, true},
		{quorumHeld, 0, 1, 0, false},
		{quorumHeld, 1, 1, 0, true},
		{quorumLost, 0, 1, 0, false},
		{quorumLost, 1, 1, 0, true},
		// quorum 5, hysteresis 2: lost below 3, regained at 7
		{quorumHeld, 3, 5, 2, true},
		{quorumHeld, 2, 5, 2, false},
		{quorumLost, 6, 5, 2, false},
		{quorumLost, 7, 5, 2, true},
		// a start between the two is down, as keepalived starts
		{quorumUnknown, 5, 5, 2, false},
		{quorumUnknown, 7, 5, 2, true},
		// no weight left loses the quorum whatever the hysteresis
		{quorumHeld, 0, 1, 0, false},
		{quorumHeld, 0, 3, 2, false},
		{quorumHeld, 1, 3, 2, true},
	} {
		if got := quorumHeldNow(tc.was, tc.sum, tc.quorum, tc.hys); got != tc.held {
			t.Errorf("was %d, weight %d, quorum %d, hysteresis %d: held %v, want %v", tc.was, tc.sum, tc.quorum, tc.hys, got, tc.held)
		}
	}
}

// quorumConfig is a virtual server of quorum 5, hysteresis 2, with four
// real servers of weight 2 and a sorry server.
func quorumConfig() *config.Config {
	cfg := config.Default()
	vs := config.NewVirtual("web")
	vs.Active, vs.Address, vs.SorryServer = true, a("192.0.2.10"), a("10.0.0.99")
	vs.Quorum, vs.Hysteresis = 5, 2
	vs.QuorumUp, vs.QuorumDown = "/q/up", "/q/down"
	for i, n := range []string{"r1", "r2", "r3", "r4"} {
		rs := config.RealServer{Name: n, Active: true, Address: netip.AddrFrom4([4]byte{10, 0, 0, byte(i + 1)}), Weight: 2,
			NotifyUp: "/n/up " + n, NotifyDown: "/n/down " + n}
		vs.Reals = append(vs.Reals, rs)
	}
	cfg.Virtuals = []config.VirtualServer{vs}
	return cfg
}

// upHealth is up for the real servers named, out for the others.
func upHealth(names ...string) fakeHealth {
	h := fakeHealth{}
	for _, n := range []string{"r1", "r2", "r3", "r4"} {
		if slices.Contains(names, n) {
			h[n] = struct {
				w int32
				p Presence
			}{2, In}
		} else {
			h[n] = struct {
				w int32
				p Presence
			}{0, Out}
		}
	}
	return h
}

// TestDesiredQuorum: below quorum-hysteresis the sorry server replaces the
// real servers still up; the hysteresis holds the state between the two
// thresholds in both directions; each transition gives its program.
func TestDesiredQuorum(t *testing.T) {
	cfg := quorumConfig()
	m := newMemory()
	sorry := a("10.0.0.99")
	for _, step := range []struct {
		up     []string
		sorry  bool
		reals  int
		events []string
	}{
		{[]string{"r1", "r2", "r3", "r4"}, false, 4, []string{"notify_up /n/up r1", "notify_up /n/up r2", "notify_up /n/up r3", "notify_up /n/up r4"}},
		{[]string{"r1", "r2"}, false, 2, []string{"notify_down /n/down r3", "notify_down /n/down r4"}}, // 4 >= 3: held
		{[]string{"r1"}, true, 0, []string{"notify_down /n/down r2", "quorum_down /q/down"}},           // 2 < 3: lost
		{[]string{"r1", "r2", "r3"}, true, 0, []string{"notify_up /n/up r2", "notify_up /n/up r3"}},    // 6 < 7: still lost
		{[]string{"r1", "r2", "r3", "r4"}, false, 4, []string{"notify_up /n/up r4", "quorum_up /q/up"}},
	} {
		tab, evs := desired(cfg, upHealth(step.up...), m)
		s := tab.Services[0]
		gotSorry, reals := false, 0
		for _, d := range s.Dests {
			if d.Addr == sorry {
				gotSorry = true
			} else {
				reals++
			}
		}
		var got []string
		for _, ev := range evs {
			got = append(got, ev.Field+" "+ev.Command)
		}
		if gotSorry != step.sorry || reals != step.reals || !slices.Equal(got, step.events) {
			t.Errorf("up %v: sorry server %v with %d real servers, events %q; want %v with %d, %q",
				step.up, gotSorry, reals, got, step.sorry, step.reals, step.events)
		}
	}
}

// TestDesiredQuorumWithoutSorryServer: a lost quorum without a sorry
// server leaves the table as it is and only runs quorum_down.
func TestDesiredQuorumWithoutSorryServer(t *testing.T) {
	cfg := quorumConfig()
	cfg.Virtuals[0].SorryServer = netip.Addr{}
	m := newMemory()
	desired(cfg, upHealth("r1", "r2", "r3", "r4"), m)
	tab, evs := desired(cfg, upHealth("r1"), m)
	if n := len(tab.Services[0].Dests); n != 1 {
		t.Errorf("the table holds %d real servers, want r1", n)
	}
	if len(evs) != 4 || evs[3].Field != "quorum_down" {
		t.Errorf("events %+v, want three notify_down and quorum_down", evs)
	}
}

// TestDesiredQuorumWaitsForChecks: while a real server is not checked
// yet, the quorum is not decided (no sorry server at a start), and a
// first decision that has the quorum runs nothing, as keepalived starts.
func TestDesiredQuorumWaitsForChecks(t *testing.T) {
	cfg := quorumConfig()
	m := newMemory()
	h := upHealth()
	h["r4"] = struct {
		w int32
		p Presence
	}{0, Pending}
	tab, evs := desired(cfg, h, m)
	if s := tab.Services[0]; len(s.Dests) != 0 || len(s.Pending) != 1 || len(evs) != 0 {
		t.Errorf("with a server pending: dests %+v, pending %+v, events %+v", s.Dests, s.Pending, evs)
	}
	_, evs = desired(cfg, upHealth("r1", "r2", "r3", "r4"), m)
	for _, ev := range evs {
		if ev.Field != "notify_up" {
			t.Errorf("a start with the quorum ran %s", ev.Field)
		}
	}
	if m.quorum["web"] != quorumHeld {
		t.Errorf("quorum %d, want held", m.quorum["web"])
	}
	// Forgotten with the virtual server.
	cfg.Virtuals[0].Active = false
	desired(cfg, upHealth(), m)
	if len(m.quorum) != 0 || len(m.up) != 0 {
		t.Errorf("memory of an inactive virtual server: %+v", m)
	}
}

// dynamicHealth is up for every real server, each at the weight its
// check set.
type dynamicHealth map[string]int64

func (d dynamicHealth) Weight(_ *config.VirtualServer, rs *config.RealServer) (int32, Presence) {
	return int32(d[rs.Name]), In
}

func (d dynamicHealth) FullWeight(_ *config.VirtualServer, rs *config.RealServer) int64 {
	return d[rs.Name]
}

// TestQuorumCountsCheckWeights: with program_weight the quorum counts the
// weights the checks set (keepalived's misc_dynamic), not the configured
// ones.
func TestQuorumCountsCheckWeights(t *testing.T) {
	cfg := quorumConfig()
	cfg.Virtuals[0].ProgramWeight = true
	cfg.Virtuals[0].CheckKind, cfg.Virtuals[0].SendProgram = config.CheckProgram, "/bin/true"
	sorryIn := func(h dynamicHealth) bool {
		return slices.ContainsFunc(Desired(cfg, h).Services[0].Dests, func(d ipvs.Destination) bool { return d.Addr == a("10.0.0.99") })
	}
	if !sorryIn(dynamicHealth{"r1": 1, "r2": 1, "r3": 1, "r4": 1}) {
		t.Error("checks set weights of 4 in all, under 5+2: the sorry server is not in")
	}
	if sorryIn(dynamicHealth{"r1": 7}) {
		t.Error("a check set weight 7, 5+2: the sorry server is in")
	}
}

// TestMemoryFollowsNames: what the engine remembers of a real server
// follows its name, wherever it moves in the list (memory finds it by its
// place first): reordered, none comes up again; one removed and added
// back comes up again, as a new one.
func TestMemoryFollowsNames(t *testing.T) {
	cfg := quorumConfig()
	m := newMemory()
	events := func(cfg *config.Config, up ...string) []string {
		_, evs := desired(cfg, upHealth(up...), m)
		var got []string
		for _, ev := range evs {
			got = append(got, ev.Field+" "+ev.Real)
		}
		return got
	}
	events(cfg, "r1", "r2", "r3", "r4")
	slices.Reverse(cfg.Virtuals[0].Reals)
	if got := events(cfg, "r1", "r2", "r3"); !slices.Equal(got, []string{"notify_down r4"}) {
		t.Errorf("reversed, r4 down: %q", got)
	}
	r2 := cfg.Virtuals[0].Reals[2]
	cfg.Virtuals[0].Reals = slices.Delete(cfg.Virtuals[0].Reals, 2, 3)
	if got := events(cfg, "r1", "r3"); len(got) != 0 {
		t.Errorf("r2 removed: %q", got)
	}
	cfg.Virtuals[0].Reals = append([]config.RealServer{r2}, cfg.Virtuals[0].Reals...)
	if got := events(cfg, "r1", "r2", "r3", "r4"); !slices.Equal(got, []string{"notify_up r2", "notify_up r4"}) {
		t.Errorf("r2 back first, r4 up: %q", got)
	}
}
