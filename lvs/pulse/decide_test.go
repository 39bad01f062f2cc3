package pulse

import (
	"net/netip"
	"testing"
	"time"
)

func TestDecide(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	lower := netip.MustParseAddr("10.0.0.1")  // Self below the peer
	higher := netip.MustParseAddr("10.0.0.3") // Self above the peer
	base := Settings{
		Self: lower, Peer: netip.MustParseAddr("10.0.0.2"),
		Keepalive: 200 * time.Millisecond, Deadtime: 600 * time.Millisecond,
		PreemptDelay: 5 * time.Second,
	}
	with := func(f func(*Settings)) Settings { s := base; f(&s); return s }
	primary := with(func(s *Settings) { s.Primary = true })
	primaryHigh := with(func(s *Settings) { s.Primary = true; s.Self = higher })
	backupHigh := with(func(s *Settings) { s.Self = higher })
	preempt := with(func(s *Settings) { s.Primary = true; s.Preempt = true })

	// peer heard at ms(at), saying role (and primary).
	peer := func(at int, role Role, primary bool) peerView {
		return peerView{Heard: true, Last: ms(at), Role: role, Primary: primary, ActiveSince: t0}
	}
	starting := func(p peerView) state { return state{Ref: t0, Peer: p} }
	standby := func(p peerView) state { return state{Decided: true, Role: Standby, Ref: t0, Peer: p} }
	active := func(p peerView) state { return state{Decided: true, Role: Active, Ref: t0, Peer: p} }
	linkDown := func(st state) state { st.LinkDown = true; return st }
	leaving := func(p peerView) peerView { p.Leaving = true; return p }
	peerLinkDown := func(p peerView) peerView { p.LinkDown = true; return p }
	none := peerView{}
	undecided := verdict{}
	stayStandby := verdict{Role: Standby, Decided: true}
	stayActive := verdict{Role: Active, Decided: true}
	wake := func(v verdict, at time.Time) verdict { v.Wake = at; return v }
	to := func(r Role, reason string) verdict { return verdict{Role: r, Decided: true, Reason: reason} }

	for _, c := range []struct {
		name string
		st   state
		s    Settings
		now  time.Time
		want verdict
	}{
		// Starting: claim nothing until the peer speaks or Deadtime passes.
		{"starting, nothing heard yet", starting(none), primary, ms(599), wake(undecided, ms(600))},
		{"starting, nothing heard for deadtime", starting(none), base, ms(600), to(Active, "nothing heard from peer 10.0.0.2 for 600ms")},
		{"starting, peer active", starting(peer(10, Active, false)), primary, ms(10), to(Standby, "peer 10.0.0.2 is active")},
		{"starting, peer standby, we primary", starting(peer(10, Standby, false)), primary, ms(10), to(Active, "peer 10.0.0.2 is standby and we are primary")},
		{"starting, peer standby and primary", starting(peer(10, Standby, true)), base, ms(10), to(Standby, "peer 10.0.0.2 is standby and primary")},
		{"starting, both primary, we lower", starting(peer(10, Standby, true)), primary, ms(10), to(Active, "peer 10.0.0.2 is standby and we have the lower address (both claim primary)")},
		{"starting, both primary, we higher", starting(peer(10, Standby, true)), primaryHigh, ms(10), to(Standby, "peer 10.0.0.2 is standby and has the lower address (both claim primary)")},
		{"starting, neither primary, we lower", starting(peer(10, Standby, false)), base, ms(10), to(Active, "peer 10.0.0.2 is standby and we have the lower address (neither is primary)")},
		{"starting, neither primary, we higher", starting(peer(10, Standby, false)), backupHigh, ms(10), to(Standby, "peer 10.0.0.2 is standby and has the lower address (neither is primary)")},
		{"starting, peer leaving", starting(leaving(peer(10, Standby, true))), base, ms(10), to(Active, "peer leaving")},
		{"starting, peer link down", starting(peerLinkDown(peer(10, Standby, true))), base, ms(10), to(Active, "peer 10.0.0.2 has a link down")},
		{"starting, link down", linkDown(starting(none)), primary, ms(0), to(Standby, "link down")},
		{"starting, link down, peer silent", linkDown(starting(none)), primary, ms(5000), to(Standby, "link down")},

		// Standby to active.
		{"standby, peer active, heard", standby(peer(100, Active, true)), base, ms(699), wake(stayStandby, ms(700))},
		{"standby, peer silent for deadtime", standby(peer(100, Active, true)), base, ms(700), to(Active, "peer 10.0.0.2 silent for 600ms")},
		{"standby, peer silent longer", standby(peer(100, Active, true)), base, ms(1234), to(Active, "peer 10.0.0.2 silent for 1.134s")},
		{"standby, peer leaving", standby(leaving(peer(100, Standby, true))), base, ms(101), to(Active, "peer leaving")},
		{"standby, peer link down", standby(peerLinkDown(peer(100, Standby, true))), base, ms(101), to(Active, "peer 10.0.0.2 has a link down")},
		{"standby, both standby, we primary", standby(peer(100, Standby, false)), primary, ms(101), to(Active, "peer 10.0.0.2 is standby and we are primary")},
		{"standby, both standby, peer primary", standby(peer(100, Standby, true)), base, ms(101), wake(stayStandby, ms(700))},
		{"standby, both standby, both primary, we lower", standby(peer(100, Standby, true)), primary, ms(101), to(Active, "peer 10.0.0.2 is standby and we have the lower address (both claim primary)")},
		{"standby, both standby, both primary, we higher", standby(peer(100, Standby, true)), primaryHigh, ms(101), wake(stayStandby, ms(700))},
		{"standby, both standby, neither primary, we lower", standby(peer(100, Standby, false)), base, ms(101), to(Active, "peer 10.0.0.2 is standby and we have the lower address (neither is primary)")},
		{"standby, both standby, neither primary, we higher", standby(peer(100, Standby, false)), backupHigh, ms(101), wake(stayStandby, ms(700))},
		{"standby, primary, peer active, no preempt", standby(peer(4900, Active, false)), primary, ms(5000), wake(stayStandby, ms(5500))},
		{"standby, preempt, delay not over", standby(peer(4900, Active, false)), preempt, ms(4999), wake(stayStandby, ms(5000))},
		{"standby, preempt, delay not over, peer due first", standby(peer(4000, Active, false)), preempt, ms(4001), wake(stayStandby, ms(4600))},
		{"standby, preempt after delay", standby(peer(4900, Active, false)), preempt, ms(5000), to(Active, "preempt after 5s")},
		{"standby, preempt, peer claims primary too", standby(peer(4900, Active, true)), preempt, ms(5000), wake(stayStandby, ms(5500))},
		{"standby, preempt, we are not primary", standby(peer(4900, Active, false)), with(func(s *Settings) { s.Preempt = true }), ms(5000), wake(stayStandby, ms(5500))},
		{"standby, link down, peer silent", linkDown(standby(none)), base, ms(5000), stayStandby},
		{"standby, link down, peer leaving", linkDown(standby(leaving(peer(100, Standby, true)))), base, ms(101), stayStandby},
		{"standby, link down, preempt due", linkDown(standby(peer(4900, Active, false))), preempt, ms(5000), stayStandby},

		// Active to standby.
		{"active, peer silent", active(peer(100, Standby, false)), base, ms(5000), stayActive},
		{"active, peer standby", active(peer(100, Standby, true)), base, ms(101), stayActive},
		{"active, peer leaving", active(leaving(peer(100, Standby, true))), base, ms(101), stayActive},
		{"active, peer active and primary", active(peer(100, Active, true)), base, ms(101), to(Standby, "peer 10.0.0.2 is active and primary")},
		{"active, peer active, we primary", active(peer(100, Active, false)), primary, ms(101), stayActive},
		{"active, both active and primary, we lower", active(peer(100, Active, true)), primary, ms(101), stayActive},
		{"active, both active and primary, we higher", active(peer(100, Active, true)), primaryHigh, ms(101), to(Standby, "peer 10.0.0.2 is active and has the lower address (both claim primary)")},
		{"active, both active, neither primary, we lower", active(peer(100, Active, false)), base, ms(101), stayActive},
		{"active, both active, neither primary, we higher", active(peer(100, Active, false)), backupHigh, ms(101), to(Standby, "peer 10.0.0.2 is active and has the lower address (neither is primary)")},
		{"active, link down", linkDown(active(peer(100, Standby, false))), primary, ms(101), to(Standby, "link down")},

		// Ref later than the last heartbeat (the link came back): fresh news
		// still counts, stale news does not, silence runs from Ref.
		{"link back, peer news fresh", standby(peer(-100, Active, true)), base, ms(100), wake(stayStandby, ms(600))},
		{"link back, peer news fresh, both standby", standby(peer(-100, Standby, false)), primary, ms(100), to(Active, "peer 10.0.0.2 is standby and we are primary")},
		{"link back, peer news stale", standby(peer(-100, Standby, false)), primary, ms(500), wake(stayStandby, ms(600))},
		{"link back, deadtime since", standby(peer(-100, Active, true)), base, ms(600), to(Active, "nothing heard from peer 10.0.0.2 for 600ms")},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := decide(c.st, c.s, c.now)
			if got != c.want {
				t.Errorf("decide:\n got %+v\nwant %+v", got, c.want)
			}
			if got.Role == Active && c.st.LinkDown {
				t.Errorf("active while the link is down")
			}
		})
	}
}
